"""One documented taxonomy of incident categories.

police.uk's 14 street-level categories keep the slugs police.uk itself uses in
its API (``anti-social-behaviour``, ``violent-crime`` for "Violence and sexual
offences", ...). Council and fire-service case types get slugs of the same
form. Every raw value a file may hold is matched to a slug through
``aliases`` after normalisation (lower case, punctuation and spacing folded);
a value that matches nothing is accepted as ``other`` and reported as a
warning naming the raw value, so a new council type is never silently lost.

Which categories are *sensitive* (never shown as points below the ``analyst``
role) is configurable; by default ``domestic-abuse`` and ``sexual-offences``.
police.uk publishes its own points already anonymised, so no police.uk
category is sensitive by default; a partnership that wants ``violent-crime``
treated as sensitive lists it in ``HOTSPOTS_SENSITIVE_CATEGORIES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas loads only where categories are mapped, not for every store
    import pandas as pd


@dataclass(frozen=True)
class Category:
    slug: str
    label: str
    group: str  # "crime", "asb", "environmental", "fire", "safeguarding", "other"
    source: str  # "police.uk" or "council / fire service"
    aliases: tuple[str, ...] = field(default=())


POLICE_UK = "police.uk"
LOCAL = "council / fire service"

CATEGORIES: tuple[Category, ...] = (
    Category(
        "anti-social-behaviour",
        "Anti-social behaviour",
        "asb",
        POLICE_UK,
        ("asb", "antisocial behaviour"),
    ),
    Category("bicycle-theft", "Bicycle theft", "crime", POLICE_UK),
    Category("burglary", "Burglary", "crime", POLICE_UK),
    Category(
        "criminal-damage-arson",
        "Criminal damage and arson",
        "crime",
        POLICE_UK,
        ("criminal damage", "criminal damage & arson"),
    ),
    Category("drugs", "Drugs", "crime", POLICE_UK),
    Category("other-theft", "Other theft", "crime", POLICE_UK),
    Category("possession-of-weapons", "Possession of weapons", "crime", POLICE_UK),
    Category("public-order", "Public order", "crime", POLICE_UK),
    Category("robbery", "Robbery", "crime", POLICE_UK),
    Category("shoplifting", "Shoplifting", "crime", POLICE_UK),
    Category("theft-from-the-person", "Theft from the person", "crime", POLICE_UK),
    Category("vehicle-crime", "Vehicle crime", "crime", POLICE_UK),
    Category(
        "violent-crime",
        "Violence and sexual offences",
        "crime",
        POLICE_UK,
        ("violence", "violence & sexual offences", "violent crime"),
    ),
    Category("other-crime", "Other crime", "crime", POLICE_UK),
    Category(
        "fly-tipping",
        "Fly-tipping",
        "environmental",
        LOCAL,
        (
            "flytipping",
            "fly tip",
            "flytip",
            "illegal dumping",
            "dumped rubbish",
            "fly tipping small",
            "fly tipping large",
            "fly tipping hazardous",
        ),
    ),
    Category(
        "noise",
        "Noise nuisance",
        "asb",
        LOCAL,
        (
            "noise nuisance",
            "noise complaint",
            "loud music",
            "domestic noise",
            "commercial noise",
            "barking dog",
            "barking dogs",
            "party noise",
            "alarm",
            "construction noise",
            "noise music",
            "noise other",
        ),
    ),
    Category(
        "graffiti",
        "Graffiti",
        "environmental",
        LOCAL,
        ("graffiti offensive", "graffiti removal", "tagging"),
    ),
    Category(
        "abandoned-vehicle",
        "Abandoned vehicle",
        "environmental",
        LOCAL,
        ("abandoned vehicles", "untaxed abandoned vehicle"),
    ),
    Category(
        "nuisance-vehicle",
        "Nuisance vehicle",
        "asb",
        LOCAL,
        (
            "nuisance vehicles",
            "off road bikes",
            "motorbike nuisance",
            "car cruising",
            "vehicle nuisance",
        ),
    ),
    Category(
        "deliberate-fire",
        "Deliberate fire",
        "fire",
        LOCAL,
        (
            "deliberate fires",
            "arson fire",
            "deliberate secondary fire",
            "deliberate primary fire",
            "secondary fire deliberate",
        ),
    ),
    Category("dog-fouling", "Dog fouling", "environmental", LOCAL),
    Category(
        "street-drinking",
        "Street drinking",
        "asb",
        LOCAL,
        ("alcohol related asb", "drinking in public"),
    ),
    Category(
        "drug-litter",
        "Drug litter",
        "environmental",
        LOCAL,
        ("needles", "discarded needles", "sharps"),
    ),
    Category(
        "domestic-abuse",
        "Domestic abuse",
        "safeguarding",
        LOCAL,
        ("domestic violence", "domestic abuse incident"),
    ),
    Category("sexual-offences", "Sexual offences", "safeguarding", LOCAL, ("sexual offence",)),
    Category("other", "Other / unrecognised", "other", LOCAL),
)

BY_SLUG: dict[str, Category] = {c.slug: c for c in CATEGORIES}
POLICE_UK_SLUGS: tuple[str, ...] = tuple(c.slug for c in CATEGORIES if c.source == POLICE_UK)
DEFAULT_SENSITIVE: frozenset[str] = frozenset({"domestic-abuse", "sexual-offences"})
UNKNOWN = "other"

_FOLD = re.compile(r"[^a-z0-9]+")


def normalise(raw: str) -> str:
    """Fold a raw category to its matching key: lower case, any punctuation → one space.

    >>> normalise("  Violence and Sexual-Offences ")
    'violence and sexual offences'
    """
    return _FOLD.sub(" ", raw.lower().replace("&", " and ")).strip()


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for cat in CATEGORIES:
        for name in (cat.slug, cat.label, *cat.aliases):
            lookup[normalise(name)] = cat.slug
    return lookup


_LOOKUP = _build_lookup()


def slug_for(raw: str | None, extra: dict[str, str] | None = None) -> str | None:
    """The slug a raw category maps to, or ``None`` when it is not recognised.

    ``extra`` maps raw values (as written in a source's profile) to slugs and
    takes precedence over the built-in aliases.

    >>> slug_for("Violence and sexual offences")
    'violent-crime'
    >>> slug_for("Fly Tipping") , slug_for("Parking") is None
    ('fly-tipping', True)
    """
    if raw is None:
        return None
    key = normalise(str(raw))
    if extra:
        for name, slug in extra.items():
            if normalise(name) == key:
                return slug
    return _LOOKUP.get(key)


def map_categories(
    raw: pd.Series, extra: dict[str, str] | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """Map a column of raw categories to slugs, vectorised over distinct values.

    Returns the slug array and the unrecognised raw values with their counts
    (those rows get ``other``).
    """
    values = raw.fillna("").astype(str)
    import pandas as pd

    uniques = pd.unique(values)
    mapping = {}
    unknown: dict[str, int] = {}
    for value in uniques:
        slug = slug_for(value, extra)
        mapping[value] = slug if slug is not None else UNKNOWN
    slugs = values.map(mapping).to_numpy(dtype=object)
    if (slugs == UNKNOWN).any():
        counts = values[slugs == UNKNOWN].value_counts()
        for value, n in counts.items():
            if slug_for(value, extra) != UNKNOWN:
                unknown[str(value)] = int(n)
    return slugs, unknown


def validate_slugs(slugs: Iterable[str], what: str = "category") -> list[str]:
    """Check user-given slugs against the taxonomy; raise ``ValueError`` naming the bad one."""
    out = []
    for slug in slugs:
        if slug not in BY_SLUG:
            known = ", ".join(sorted(BY_SLUG))
            raise ValueError(f"unknown {what} {slug!r}; expected one of: {known}")
        out.append(slug)
    return out
