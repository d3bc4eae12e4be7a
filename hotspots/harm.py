"""Harm weights: how much each category of incident weighs, with its documented source.

Unit: days of imprisonment equivalent, the unit of the Cambridge Crime Harm
Index (Sherman, Neyroud & Neyroud 2016), whose weight for an offence is the
starting point of the Sentencing Council guideline for a first offender,
with non-custodial starting points converted as the ONS Crime Severity Score
does (low / medium / high community order = 8 / 15 / 30 days; a fine = about
one day).

police.uk publishes 14 broad categories, each a mix of many offences, so
every value here is an aggregate over a category's usual offence mix. No
published table gives these aggregates: every value is ESTIMATED and marked
provisional, with its reasoning. Replace it with your force's own
offence-level CCHI or ONS CSS aggregation when you have one
(`hotspots analyse --harm-weights my_weights.toml`: ``version``, ``unit`` and
``[weights.<slug>]`` tables with ``weight``, ``provisional``, ``reasoning``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodata.taxonomy import BY_SLUG


@dataclass(frozen=True)
class HarmWeight:
    slug: str
    weight: float
    provisional: bool
    reasoning: str


@dataclass(frozen=True)
class HarmWeights:
    """A versioned table mapping every category slug to a harm weight.

    Use :meth:`default` for the shipped table, or :meth:`from_mapping` for a
    user's own (the parsed TOML of the same shape: ``version``, ``unit`` and
    ``[weights.<slug>] weight = ...``). A category missing from a user table
    gets weight 1 and is listed in :attr:`missing`.
    """

    version: str
    unit: str
    entries: tuple[HarmWeight, ...]
    missing: tuple[str, ...] = ()

    @classmethod
    def default(cls) -> HarmWeights:
        return cls(DEFAULT_VERSION, DEFAULT_UNIT, DEFAULT_ENTRIES)

    @classmethod
    def from_mapping(cls, data: Mapping, where: str = "harm weights") -> HarmWeights:
        """Build a table from parsed TOML/JSON; raise ``ValueError`` naming the bad entry."""
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise ValueError(f"{where}: expected a 'version' string, got {version!r}")
        table = data.get("weights")
        if not isinstance(table, Mapping) or not table:
            raise ValueError(f"{where}: expected a [weights.<category>] table")
        entries = []
        for slug, entry in table.items():
            if slug not in BY_SLUG:
                raise ValueError(f"{where}: unknown category {slug!r}; expected a taxonomy slug")
            value = entry.get("weight") if isinstance(entry, Mapping) else entry
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"{where}: weights.{slug}.weight must be a number >= 0, got {value!r}"
                )
            entries.append(
                HarmWeight(
                    slug,
                    float(value),
                    bool(entry.get("provisional", False)) if isinstance(entry, Mapping) else False,
                    str(entry.get("reasoning", "")) if isinstance(entry, Mapping) else "",
                )
            )
        given = {e.slug for e in entries}
        missing = tuple(sorted(s for s in BY_SLUG if s not in given))
        entries += [HarmWeight(s, 1.0, True, "not in the user's table: weight 1") for s in missing]
        return cls(version, str(data.get("unit", "")), tuple(entries), missing)

    def identity(self) -> str:
        """What a run records of the table: the shipped table's version, or a user table's
        version with a fingerprint of its content (two tables of one version name but other
        weights make other runs)."""
        if self == HarmWeights.default():
            return self.version
        text = json.dumps(self.to_mapping(), sort_keys=True)
        return f"{self.version} (sha256 {hashlib.sha256(text.encode()).hexdigest()[:12]})"

    def to_mapping(self) -> dict:
        """The table as :meth:`from_mapping` reads it (the categories the user gave)."""
        return {
            "version": self.version,
            "unit": self.unit,
            "weights": {
                e.slug: {"weight": e.weight, "provisional": e.provisional, "reasoning": e.reasoning}
                for e in self.entries
                if e.slug not in self.missing
            },
        }

    def as_dict(self) -> dict[str, float]:
        return {e.slug: e.weight for e in self.entries}

    def weigh(self, categories: np.ndarray | pd.Series) -> np.ndarray:
        """Harm per incident for an array or Series of category slugs (unknown slugs weigh
        1); a Series is factorised as it is (no Python string per incident)."""
        table = self.as_dict()
        if not isinstance(categories, pd.Series | pd.Index):  # a Series: Arrow strings stay
            categories = np.asarray(categories, dtype=object)
        codes, uniques = pd.factorize(categories, use_na_sentinel=False)
        return np.array([table.get(str(u), 1.0) for u in uniques], dtype=float)[codes]

    def describe(self) -> list[dict]:
        return [
            {
                "category": e.slug,
                "weight": e.weight,
                "provisional": e.provisional,
                "reasoning": e.reasoning,
            }
            for e in self.entries
        ]


DEFAULT_VERSION = "hotspots-harm-2026.1-provisional"
DEFAULT_UNIT = "days of imprisonment equivalent"
DEFAULT_ENTRIES: tuple[HarmWeight, ...] = (
    HarmWeight(
        "violent-crime",
        130,
        True,
        "Mix of violence without injury (common assault: medium community order, 15 d; ~45 %), stalking and harassment (~30 %, ~10 d), violence with injury (ABH starting points ~9 months; ~20 %) and sexual offences (~5-7 %, starting points of years): volume-weighted mean ~130 d.",
    ),
    HarmWeight(
        "robbery",
        730,
        True,
        "Street robbery guideline starting points run from 1 to 4 years for the middle categories; 2 years taken as the mid value.",
    ),
    HarmWeight(
        "burglary",
        250,
        True,
        "Domestic burglary category 2 starting point 1 year (365 d); non-domestic burglary much lower (~18 weeks); police.uk mixes both: ~250 d.",
    ),
    HarmWeight(
        "possession-of-weapons",
        180,
        True,
        "Possession of a bladed article or offensive weapon: custodial starting points round 6 months for the middle category.",
    ),
    HarmWeight(
        "drugs",
        150,
        True,
        "About 80 % possession (cannabis possession: a fine, ~3 d in the ONS CSS) and 20 % supply (starting points of years): volume-weighted ~150 d.",
    ),
    HarmWeight(
        "theft-from-the-person",
        60,
        True,
        "Theft from the person is aggravated theft: starting points from a high community order to several months custody; ~60 d.",
    ),
    HarmWeight(
        "criminal-damage-arson",
        30,
        True,
        "Mostly criminal damage under £5,000 (fine or low community order, 1-8 d) with a minority of arson (custodial): ~30 d.",
    ),
    HarmWeight(
        "other-crime",
        30,
        True,
        "Miscellaneous offences against society (perverting justice, bail offences, ...): wide mix, ~30 d.",
    ),
    HarmWeight(
        "vehicle-crime",
        20,
        True,
        "Theft from / of vehicles and interference: theft guideline middle categories (low to medium community order, 8-15 d) with some higher-value thefts of vehicles: ~20 d.",
    ),
    HarmWeight(
        "public-order",
        15,
        True,
        "Public order offences (s.4, s.4A, s.5): fines to medium community orders; aggravated forms higher: ~15 d.",
    ),
    HarmWeight(
        "other-theft",
        10,
        True,
        "General theft, middle categories: low to medium community order: ~10 d.",
    ),
    HarmWeight("bicycle-theft", 10, True, "Treated as general theft: ~10 d."),
    HarmWeight("shoplifting", 3, True, "Mostly low-value shoplifting: a fine (band B/C), ~1-3 d."),
    HarmWeight(
        "anti-social-behaviour",
        1,
        True,
        "ASB is not an offence and has no sentencing-based weight (0 in the CCHI). Weighted 1 (on a par with the lowest fines) so ASB counts in harm without outweighing crime; the partnership's concern for ASB enters ranking through the community-concern component.",
    ),
    HarmWeight(
        "fly-tipping",
        2,
        True,
        "Fly-tipping: fixed penalty or fine for most cases, custody only for large-scale commercial dumping: ~2 d.",
    ),
    HarmWeight(
        "noise", 1, True, "Statutory nuisance, civil or fixed-penalty remedy: weighted as ASB."
    ),
    HarmWeight("graffiti", 2, True, "Low-value criminal damage: a fine, ~2 d."),
    HarmWeight(
        "abandoned-vehicle", 1, True, "Environmental offence with fixed penalty: weighted as ASB."
    ),
    HarmWeight(
        "nuisance-vehicle", 1, True, "Vehicle-related ASB (s.59 warnings): weighted as ASB."
    ),
    HarmWeight(
        "deliberate-fire",
        20,
        True,
        "Mostly deliberate secondary fires (rubbish, grass, derelict vehicles) with some primary arson: ~20 d.",
    ),
    HarmWeight("dog-fouling", 1, True, "Fixed-penalty environmental offence: weighted as ASB."),
    HarmWeight("street-drinking", 1, True, "Breach of a PSPO: fixed penalty: weighted as ASB."),
    HarmWeight(
        "drug-litter",
        1,
        True,
        "Discarded needles: a hazard, not itself an offence: weighted as ASB.",
    ),
    HarmWeight(
        "domestic-abuse",
        130,
        True,
        "Domestic abuse incidents are mostly violence and harassment offences: weighted as violent-crime.",
    ),
    HarmWeight(
        "sexual-offences",
        1000,
        True,
        "Sexual offences: guideline starting points from months (sexual assault) to years (rape, 5 years): ~1,000 d.",
    ),
    HarmWeight("other", 1, True, "Unrecognised categories: weighted at the floor until mapped."),
)
