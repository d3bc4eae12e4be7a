"""A synthetic borough where the effect of an intervention is known.

Gravesham's real district and ward boundaries (shipped in ``geodata/demo``),
and police.uk-style ASB rows for 2022 placed at exact, deterministic counts:
``TARGET`` incidents a month in a 300 m square in one ward, ``BUFFER`` a month
in the 200 m ring round it, and ``CONTROL`` a month elsewhere in the same ward.
From July (the month after the day of action on 15 June 2022) the target's
monthly count is multiplied by ``after_factor``: 0.7 plants a 30 % reduction,
1.0 plants none.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import shapely

from geodata.crs import WGS84, xy_to_lonlat
from geodata.demo import demo_dir
from geodata.ingest import context_for, import_records
from geodata.readers.areas import read_boundaries
from geodata.readers.police import POLICE_COLUMNS, read_police
from geodata.settings import IngestSettings
from geodata.stores import DuckDBStore

TARGET, BUFFER, CONTROL = 100, 20, 100
MONTHS = [f"2022-{m:02d}" for m in range(1, 13)]
INTERVENTION_MONTH = "2022-06"
HALF_SIDE_M = 150.0
BUFFER_M = 200.0


def target_square(wards) -> tuple[str, shapely.Polygon]:
    """The ward used and a 300 m square (analysis CRS) well inside it."""
    areas = wards.assign(area=wards.geometry.area).sort_values("area", ascending=False)
    for code, geom in zip(areas["code"], areas.geometry):
        centre = geom.representative_point()
        square = shapely.box(
            centre.x - HALF_SIDE_M,
            centre.y - HALF_SIDE_M,
            centre.x + HALF_SIDE_M,
            centre.y + HALF_SIDE_M,
        )
        if geom.contains(square.buffer(BUFFER_M + 50)):
            return code, square
    raise AssertionError("no ward holds the target square")


def _points_in(area, n: int, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = area.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        xy = rng.uniform((x0, y0), (x1, y1), size=(4 * n + 16, 2))
        inside = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
        out = np.vstack([out, xy[inside]])
    return out[:n]


def build(path: Path, after_factor: float, seed: int = 7) -> dict:
    """A DuckDB store at ``path`` with the synthetic borough; returns what was planted."""
    folder = demo_dir()
    rng = np.random.default_rng(seed)
    with DuckDBStore(path) as store:
        for kind, name in (
            ("district", "gravesham-district.geojsonl"),
            ("ward", "gravesham-wards-2013.geojson"),
        ):
            store.replace_boundaries(
                kind, read_boundaries(folder / name, kind, analysis_crs=store.analysis_crs)
            )
        wards = store.boundaries("ward")
        ward_code, square = target_square(wards)
        ward = wards[wards["code"] == ward_code].geometry.iloc[0]
        grown = square.buffer(BUFFER_M)
        ring = grown.difference(square)
        # keep clear of the edges so no point sits on a boundary
        parts = {
            "target": square.buffer(-5),
            "buffer": grown.buffer(-5).difference(square.buffer(5)),
            "control": ward.buffer(-5).difference(grown.buffer(5)),
        }
        rows = []
        counts: dict[str, dict[str, int]] = {p: {} for p in parts}
        for month in MONTHS:
            after = month > INTERVENTION_MONTH
            want = {
                "target": round(TARGET * (after_factor if after else 1.0)),
                "buffer": BUFFER,
                "control": CONTROL,
            }
            for part, n in want.items():
                xy = _points_in(parts[part], n, rng)
                lon, lat = xy_to_lonlat(xy[:, 0], xy[:, 1], store.analysis_crs)
                counts[part][month] = n
                rows += [
                    [
                        "",
                        month,
                        "Kent Police",
                        "Kent Police",
                        f"{lo:.6f}",
                        f"{la:.6f}",
                        "On or near Synthetic Street",
                        "",
                        "",
                        "Anti-social behaviour",
                        "",
                        "",
                    ]
                    for lo, la in zip(lon, lat)
                ]
        csv_path = path.parent / "synthetic-street.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(POLICE_COLUMNS)
            writer.writerows(rows)
        import_records(store, read_police(csv_path), context_for(store, IngestSettings()))
    lonlat = shapely.transform(
        square,
        lambda xy: np.column_stack(xy_to_lonlat(xy[:, 0], xy[:, 1], "EPSG:27700")),
    )
    return {
        "ward": ward_code,
        "square": square,
        "ring": ring,
        "square_geojson": shapely.geometry.mapping(lonlat),
        "counts": counts,
        "crs_lonlat": WGS84,
    }
