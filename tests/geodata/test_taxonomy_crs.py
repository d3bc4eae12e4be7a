"""The category taxonomy and the CRS helpers."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata.crs import BNG, check_crs, inside_uk, lonlat_to_xy, srid, xy_to_lonlat
from geodata.errors import ConfigurationError
from geodata.taxonomy import (
    BY_SLUG,
    CATEGORIES,
    DEFAULT_SENSITIVE,
    POLICE_UK_SLUGS,
    UNKNOWN,
    map_categories,
    normalise,
    slug_for,
    validate_slugs,
)

# --------------------------------------------------------------------------- taxonomy


def test_police_uk_labels_map_to_police_uk_slugs(police_csv) -> None:
    assert len(police_csv.types) == 14
    for label, slug in police_csv.types.items():
        assert slug_for(label) == slug, label
        assert BY_SLUG[slug].source == "police.uk"
        assert BY_SLUG[slug].label == label
    assert set(POLICE_UK_SLUGS) == set(police_csv.types.values())
    assert len(POLICE_UK_SLUGS) == 14
    assert not DEFAULT_SENSITIVE & set(POLICE_UK_SLUGS)  # police.uk points are public


def test_slugs_are_unique_and_well_formed() -> None:
    slugs = [c.slug for c in CATEGORIES]
    assert len(slugs) == len(set(slugs))
    assert all(s == normalise(s).replace(" ", "-") for s in slugs)
    assert UNKNOWN in BY_SLUG and set(BY_SLUG) >= DEFAULT_SENSITIVE
    # No alias points at two categories.
    keys: dict[str, str] = {}
    for c in CATEGORIES:
        for name in (c.slug, c.label, *c.aliases):
            assert keys.setdefault(normalise(name), c.slug) == c.slug, name


@pytest.mark.parametrize(
    ("raw", "slug"),
    [
        ("ASB", "anti-social-behaviour"),
        ("antisocial behaviour", "anti-social-behaviour"),
        ("anti-social-behaviour", "anti-social-behaviour"),
        ("Criminal Damage & Arson", "criminal-damage-arson"),
        ("violence", "violent-crime"),
        ("VIOLENCE AND SEXUAL OFFENCES", "violent-crime"),
        ("  Violence  and sexual-offences ", "violent-crime"),
        ("Fly Tipping", "fly-tipping"),
        ("Fly-tipping: small", "fly-tipping"),
        ("Barking Dogs", "noise"),
        ("Domestic violence", "domestic-abuse"),
        ("Discarded needles", "drug-litter"),
        ("other", "other"),
    ],
)
def test_aliases(raw: str, slug: str) -> None:
    assert slug_for(raw) == slug


def test_unrecognised_and_extra_mappings() -> None:
    assert slug_for("Parking") is None
    assert slug_for(None) is None
    assert slug_for("") is None
    # A profile's own mapping wins over the built-in aliases, after the same folding.
    extra = {"Parking Enforcement": "nuisance-vehicle", "burglary": "other-crime"}
    assert slug_for("parking-enforcement", extra) == "nuisance-vehicle"
    assert slug_for("Burglary", extra) == "other-crime"
    assert slug_for("Robbery", extra) == "robbery"


def test_map_categories_counts_unknown_values() -> None:
    raw = pd.Series(
        ["Burglary", "burglary ", "Parking", "Other", "Parking", "Graffiti", "Dumped sofa"]
    )
    slugs, unknown = map_categories(raw)
    assert slugs.tolist() == [
        "burglary",
        "burglary",
        "other",
        "other",
        "other",
        "graffiti",
        "other",
    ]
    # "Other" is a real category, not an unknown value.
    assert unknown == {"Parking": 2, "Dumped sofa": 1}
    slugs, unknown = map_categories(raw, {"dumped sofa": "fly-tipping"})
    assert slugs[-1] == "fly-tipping"
    assert unknown == {"Parking": 2}
    slugs, unknown = map_categories(pd.Series([], dtype=object))
    assert len(slugs) == 0 and unknown == {}


def test_validate_slugs() -> None:
    assert validate_slugs(["burglary", "noise"]) == ["burglary", "noise"]
    with pytest.raises(ValueError, match=r"unknown category 'violence'; expected one of: ") as e:
        validate_slugs(["burglary", "violence"])
    message = str(e.value)
    assert "anti-social-behaviour" in message and "violent-crime" in message
    listed = message.split("expected one of: ", 1)[1].split(", ")
    assert listed == sorted(BY_SLUG)
    with pytest.raises(ValueError, match=r"unknown sensitive category 'x'"):
        validate_slugs(["x"], what="sensitive category")


@pytest.mark.shared_data
def test_real_police_files_have_no_unknown_crime_type(shared_data: Path, police_csv) -> None:
    seen: set[str] = set()
    for path in sorted((shared_data / "police" / "kent_full").glob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as f:
            seen |= {row["Crime type"] for row in csv.DictReader(f)}
    assert seen == set(police_csv.types)
    _, unknown = map_categories(pd.Series(sorted(seen)))
    assert unknown == {}


# --------------------------------------------------------------------------- CRS


def test_check_crs_accepts_projected_metres() -> None:
    assert check_crs("EPSG:27700") == "EPSG:27700"
    assert check_crs("epsg:3857") == "EPSG:3857"
    assert check_crs("EPSG:32631") == "EPSG:32631"


@pytest.mark.parametrize("crs", ["EPSG:4326", "OGC:CRS84", "EPSG:4258"])
def test_check_crs_refuses_geographic(crs: str) -> None:
    with pytest.raises(ConfigurationError, match="geographic \\(degrees\\)") as e:
        check_crs(crs)
    assert crs in str(e.value) and "EPSG:27700" in str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("crs", ["nonsense", "EPSG:999999", ""])
def test_check_crs_refuses_nonsense(crs: str) -> None:
    with pytest.raises(
        ConfigurationError, match=r"not a CRS pyproj knows; expected e\.g\. 'EPSG:27700'"
    ):
        check_crs(crs)


def test_srid_and_transforms() -> None:
    assert srid("EPSG:27700") == 27700
    # Gravesend station: BNG TQ 64x 74x
    x, y = lonlat_to_xy(np.array([0.3700]), np.array([51.4415]), BNG)
    assert 564_000 < x[0] < 565_500 and 173_500 < y[0] < 175_000
    lon, lat = xy_to_lonlat(x, y, BNG)
    assert abs(lon[0] - 0.37) < 1e-7 and abs(lat[0] - 51.4415) < 1e-7
    assert inside_uk(np.array([0.37, 12.5, -8.0]), np.array([51.44, 41.9, 60.0])).tolist() == [
        True,
        False,
        True,
    ]
