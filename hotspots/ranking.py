"""Priority ranking in the partnership's own terms: volume, harm, trend, community concern.

The ASB Delivery Group chooses where to act "by volume, level of harm,
community concern and trend". Each is a visible component of the score,
scaled to 0–1 across the hotspots being ranked:

``volume``
    incident count, divided by the largest count among the hotspots;
``harm``
    harm sum (see :mod:`hotspots.harm`), divided by the largest;
``trend``
    ``Φ(z)`` of the Mann–Kendall z of the hotspot's monthly counts: 0.5 is
    flat, towards 1 rising, towards 0 falling (months with no data excluded);
``concern``
    the hotspot's incidents weighted by how much residents worry about their
    category (a :class:`ConcernProfile`), as a share: 1 when every incident
    is of the category residents worry about most.

``score = Σ weight_c × component_c`` with weights summing to 1 (default
volume 0.25, harm 0.35, trend 0.15, concern 0.25; configurable).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from geodata.errors import HotspotsError

COMPONENTS = ("volume", "harm", "trend", "concern")


@dataclass(frozen=True)
class ConcernTheme:
    name: str
    first_choice_pct: float
    second_choice_pct: float | None
    categories: tuple[str, ...]


@dataclass(frozen=True)
class ConcernProfile:
    """What residents said worries them, mapped to categories.

    Each theme's support is its first-choice share plus half its second-choice
    share (when the consultation reported one); a category's concern weight is
    the support of the strongest theme that includes it, divided by the
    strongest theme's support (so the top theme weighs 1). Categories in no
    theme weigh 0.
    """

    name: str
    themes: tuple[ConcernTheme, ...]
    note: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping, where: str = "concern profile") -> ConcernProfile:
        """Build a profile from parsed TOML/JSON; raise ``ValueError`` naming the bad entry.

        Shape: ``name``, optional ``note``, and ``[[themes]]`` tables with ``name``,
        ``first_choice_pct``, optional ``second_choice_pct`` and ``categories``.
        """
        from geodata.taxonomy import BY_SLUG

        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: expected a 'name' string, got {name!r}")
        themes = data.get("themes")
        if not isinstance(themes, list) or not themes:
            raise ValueError(f"{where}: expected at least one [[themes]] table")
        out = []
        for i, t in enumerate(themes, 1):
            first = t.get("first_choice_pct") if isinstance(t, Mapping) else None
            second = t.get("second_choice_pct") if isinstance(t, Mapping) else None
            cats = t.get("categories") if isinstance(t, Mapping) else None
            if not isinstance(first, int | float) or not 0 <= first <= 100:
                raise ValueError(
                    f"{where}: themes[{i}].first_choice_pct must be 0-100, got {first!r}"
                )
            if second is not None and (
                not isinstance(second, int | float) or not 0 <= second <= 100
            ):
                raise ValueError(
                    f"{where}: themes[{i}].second_choice_pct must be 0-100, got {second!r}"
                )
            if not isinstance(cats, list) or not cats:
                raise ValueError(f"{where}: themes[{i}].categories must list category slugs")
            bad = [c for c in cats if c not in BY_SLUG]
            if bad:
                raise ValueError(f"{where}: themes[{i}] has unknown categories {bad}")
            out.append(
                ConcernTheme(
                    str(t.get("name", f"theme {i}")),
                    float(first),
                    None if second is None else float(second),
                    tuple(cats),
                )
            )
        if max(t.first_choice_pct for t in out) <= 0:
            raise ZeroShares(f"{where}: at least one theme needs a first_choice_pct above 0")
        return cls(name, tuple(out), str(data.get("note", "")))

    def identity(self) -> str:
        """What a run records of the profile: the shipped profile's name, or a user
        profile's name with a fingerprint of its content."""
        if self == GRAVESHAM_2023:
            return self.name
        text = json.dumps(self.to_mapping(), sort_keys=True)
        return f"{self.name} (sha256 {hashlib.sha256(text.encode()).hexdigest()[:12]})"

    def to_mapping(self) -> dict:
        """The profile as :meth:`from_mapping` reads it."""
        return {
            "name": self.name,
            "note": self.note,
            "themes": [
                {
                    "name": t.name,
                    "first_choice_pct": t.first_choice_pct,
                    "second_choice_pct": t.second_choice_pct,
                    "categories": list(t.categories),
                }
                for t in self.themes
            ],
        }

    def category_weights(self) -> dict[str, float]:
        support = {
            t.name: t.first_choice_pct + 0.5 * (t.second_choice_pct or 0.0) for t in self.themes
        }
        top = max(support.values())
        weights: dict[str, float] = {}
        for t in self.themes:
            for cat in t.categories:
                weights[cat] = max(weights.get(cat, 0.0), support[t.name] / top)
        return weights

    def describe(self) -> dict:
        return {
            "name": self.name,
            "note": self.note,
            "themes": [
                {
                    "theme": t.name,
                    "first_choice_pct": t.first_choice_pct,
                    "second_choice_pct": t.second_choice_pct,
                    "categories": list(t.categories),
                }
                for t in self.themes
            ],
            "category_weights": self.category_weights(),
        }


ASB_CATEGORIES = (
    "anti-social-behaviour",
    "noise",
    "nuisance-vehicle",
    "street-drinking",
    "fly-tipping",
    "graffiti",
    "dog-fouling",
    "drug-litter",
    "abandoned-vehicle",
)
#: Gravesham Community Safety Partnership's 2023 consultation (strategy 2024-28).
GRAVESHAM_2023 = ConcernProfile(
    name="gravesham-2023-consultation",
    note=(
        "Gravesham 2023 community safety consultation, residents' first (second) choice of "
        "priority: ASB 46.3 % (32.4 %), town-centre safety 27.9 % (23.5 %), violence 15.4 %, "
        "drugs 7.4 %, property crime 2.9 %. 'Town-centre safety' is a place, not a category: "
        "it is mapped to the street crimes that make a town centre feel unsafe (public order, "
        "robbery, theft from the person, shoplifting, criminal damage); environmental ASB "
        "(fly-tipping, graffiti, ...) counts as ASB."
    ),
    themes=(
        ConcernTheme("anti-social behaviour", 46.3, 32.4, ASB_CATEGORIES),
        ConcernTheme(
            "town-centre safety",
            27.9,
            23.5,
            (
                "public-order",
                "robbery",
                "theft-from-the-person",
                "shoplifting",
                "criminal-damage-arson",
            ),
        ),
        ConcernTheme(
            "violence",
            15.4,
            None,
            ("violent-crime", "possession-of-weapons", "domestic-abuse", "sexual-offences"),
        ),
        ConcernTheme("drugs", 7.4, None, ("drugs",)),
        ConcernTheme(
            "property crime",
            2.9,
            None,
            ("burglary", "vehicle-crime", "bicycle-theft", "other-theft"),
        ),
    ),
)


class ZeroShares(HotspotsError, ValueError):
    """A concern profile whose themes all have a first-choice share of 0 (nothing to rank)."""

    status = 422
    type = "zero-shares"


class InvalidWeights(HotspotsError, ValueError):
    """Ranking weights that rank nothing (negative, or all zero)."""

    status = 422
    type = "zero-weights"


@dataclass(frozen=True)
class RankingWeights:
    """Weights of the four components; they need not sum to 1 (they are normalised)."""

    volume: float = 0.25
    harm: float = 0.35
    trend: float = 0.15
    concern: float = 0.25

    def __post_init__(self) -> None:
        values = [getattr(self, c) for c in COMPONENTS]
        if any(v < 0 for v in values) or sum(values) <= 0:
            raise InvalidWeights(f"ranking weights must be >= 0 and not all 0; got {values}")

    @classmethod
    def parse(cls, text: str) -> RankingWeights:
        """``"volume=1,harm=2,trend=0,concern=1"``; components left out keep their default."""
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in COMPONENTS:
                raise ValueError(
                    f"ranking weights: expected name=number with names {COMPONENTS}, got {part!r}"
                )
            try:
                values[key.strip()] = float(value)
            except ValueError as exc:
                raise ValueError(
                    f"ranking weights: {key.strip()} must be a number, got {value!r}"
                ) from exc
        return cls(**values)

    def normalised(self) -> dict[str, float]:
        total = sum(getattr(self, c) for c in COMPONENTS)
        return {c: getattr(self, c) / total for c in COMPONENTS}


@dataclass
class Ranked:
    table: pd.DataFrame  # one row per hotspot, sorted by score, with components
    weights: dict[str, float] = field(default_factory=dict)


def concern_share(categories: Mapping[str, int], weights: Mapping[str, float]) -> float:
    """Concern-weighted share of a hotspot's incidents (0–1)."""
    total = sum(categories.values())
    if not total:
        return 0.0
    return sum(n * weights.get(cat, 0.0) for cat, n in categories.items()) / total


def rank_hotspots(
    hotspots: pd.DataFrame,
    *,
    trend_z: np.ndarray | None = None,
    concern: ConcernProfile = GRAVESHAM_2023,
    weights: RankingWeights | None = None,
) -> Ranked:
    """Score and order hotspots; add ``rank``, ``score`` and one column per component.

    ``hotspots`` needs ``count``, ``harm`` and ``categories`` (dict slug → count)
    columns. ``trend_z`` is the Mann–Kendall z per hotspot (NaN → no trend, 0.5).
    Ties are broken by harm, then count, then the original order, so ranks are stable.
    """
    w = (weights or RankingWeights()).normalised()
    out = hotspots.copy()
    n = len(out)
    if n == 0:
        for c in ("rank", "score", *[f"{c}_component" for c in COMPONENTS]):
            out[c] = pd.Series(dtype=float)
        return Ranked(out, w)
    count = out["count"].to_numpy(float)
    harm = out["harm"].to_numpy(float)
    z = np.zeros(n) if trend_z is None else np.nan_to_num(np.asarray(trend_z, float), nan=0.0)
    cat_weights = concern.category_weights()
    comps = {
        "volume": count / count.max() if count.max() > 0 else np.zeros(n),
        "harm": harm / harm.max() if harm.max() > 0 else np.zeros(n),
        "trend": norm.cdf(z),
        "concern": np.array([concern_share(c, cat_weights) for c in out["categories"]]),
    }
    score = sum(w[c] * comps[c] for c in COMPONENTS)
    for c in COMPONENTS:
        out[f"{c}_component"] = np.round(comps[c], 6)
    out["trend_z"] = z
    out["score"] = np.round(score, 6)
    order = np.lexsort((np.arange(n), -count, -harm, -out["score"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, n + 1))
    return Ranked(out, w)
