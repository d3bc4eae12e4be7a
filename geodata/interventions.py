"""Checking interventions before they are stored, and their outlines.

Both stores call :func:`check_intervention` on the way in, so a bad record
gets the same error from either: :class:`InvalidIntervention`, naming the
field, what was expected and what was received.

An intervention's area is kept as GeoJSON in WGS84 (what maps draw);
:func:`intervention_polygon` gives it in the analysis CRS (what counts need).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import h3
import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from .crs import UK_BOUNDS_LONLAT, WGS84, transformer
from .errors import HotspotsError
from .model import INTERVENTION_AREA_TYPES, INTERVENTION_KINDS, InterventionRecord

MAX_TITLE_CHARS = 200
MAX_NOTES_CHARS = 10_000
MAX_CELLS = 5_000


class InvalidIntervention(HotspotsError, ValueError):
    """An intervention cannot be stored as given; ``field`` names the part that is wrong."""

    status = 422
    type = "invalid-intervention"

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"intervention field {field!r}: {problem}")

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["field"] = self.field
        return out


class InvalidGeometry(InvalidIntervention):
    """A polygon (GeoJSON or H3 cells) that is not a usable area: a rule of geometry no
    request schema can state, so it has a problem type of its own."""

    type = "invalid-geometry"


def polygon_from_geojson(obj: Any, field: str = "geometry") -> BaseGeometry:
    """A valid WGS84 Polygon / MultiPolygon from GeoJSON (a geometry, a Feature, or a
    FeatureCollection whose polygons are merged); :class:`InvalidIntervention` otherwise.

    >>> polygon_from_geojson({"type": "Polygon", "coordinates": [[[0.37, 51.44],
    ...     [0.38, 51.44], [0.38, 51.45], [0.37, 51.44]]]}).geom_type
    'Polygon'
    """
    if not isinstance(obj, dict) or "type" not in obj:
        raise InvalidGeometry(
            field, f"expected a GeoJSON object with a 'type'; received {type(obj).__name__}"
        )
    kind = obj["type"]
    if kind == "FeatureCollection":
        features = obj.get("features") or []
        if not features:
            raise InvalidGeometry(field, "expected at least one feature; received none")
        parts = [polygon_from_geojson(f, f"{field}.features[{i}]") for i, f in enumerate(features)]
        return shapely.union_all(parts)
    if kind == "Feature":
        return polygon_from_geojson(obj.get("geometry"), f"{field}.geometry")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry(
            field, f"expected a GeoJSON Polygon or MultiPolygon; received a {kind!r}"
        )
    try:
        geom = shape(obj)
    except (
        ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.GEOSException
    ) as exc:  # fmt: skip
        raise InvalidGeometry(field, f"the {kind} cannot be read: {exc}") from exc
    if not geom.is_empty and not bool(np.isfinite(shapely.get_coordinates(geom)).all()):
        raise InvalidGeometry(
            field, f"expected finite lon/lat numbers; the {kind} has NaN or infinite coordinates"
        )
    if geom.is_empty:
        raise InvalidGeometry(field, f"the {kind} is empty")
    x0, y0, x1, y1 = UK_BOUNDS_LONLAT
    bx0, by0, bx1, by1 = geom.bounds
    inside = x0 <= bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1
    if not inside:
        swapped = x0 <= by0 and by1 <= x1 and y0 <= bx0 and bx1 <= y1
        hint = (
            "longitude and latitude look swapped: GeoJSON is [lon, lat]"
            if swapped
            else "British National Grid metres or another CRS must be converted to lon/lat"
        )
        raise InvalidGeometry(
            field,
            f"expected WGS84 lon/lat inside the UK (lon {x0}..{x1}, lat {y0}..{y1}); received "
            f"bounds {tuple(round(v, 6) for v in geom.bounds)} ({hint})",
        )
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise InvalidGeometry(field, f"the {kind} is not a valid polygon: {reason}")
    if geom.area == 0:
        raise InvalidGeometry(field, f"the {kind} has no area")
    return geom


def cells_polygon(cells: list[str], field: str = "cells") -> BaseGeometry:
    """The union of H3 cells as a WGS84 polygon (H3 boundaries are (lat, lng); swapped here)."""
    if not cells:
        raise InvalidGeometry(field, "expected at least one H3 cell; received none")
    if len(cells) > MAX_CELLS:
        raise InvalidGeometry(field, f"expected at most {MAX_CELLS} cells; got {len(cells)}")
    polys = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, str) or not h3.is_valid_cell(cell):
            raise InvalidGeometry(
                f"{field}[{i}]", f"expected an H3 cell id such as '89195da49b7ffff'; got {cell!r}"
            )
        polys.append(shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]))
    return shapely.union_all(polys)


def from_lonlat(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """A WGS84 geometry in ``crs``."""
    return shapely.transform(geom, lambda xy: _project(xy, WGS84, crs))


def intervention_polygon(record: InterventionRecord, crs: str) -> BaseGeometry:
    """The intervention's area in ``crs`` (metres: the analysis CRS)."""
    return from_lonlat(shape(record.geometry), crs)


def to_lonlat_geojson(geom: BaseGeometry, crs: str) -> dict[str, Any]:
    """A polygon in ``crs`` as a WGS84 GeoJSON geometry."""
    return mapping(shapely.transform(geom, lambda xy: _project(xy, crs, WGS84)))


def _project(xy, src: str, dst: str):
    import numpy as np

    x, y = transformer(src, dst).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _as_date(value: object, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidIntervention(field, f"expected a date YYYY-MM-DD; received {value!r}")


def check_intervention(record: InterventionRecord) -> InterventionRecord:
    """``record`` checked and normalised (geometry as a clean GeoJSON Polygon/MultiPolygon,
    dates as ``date``), or :class:`InvalidIntervention` naming the field."""
    if not isinstance(record.intervention_id, str) or not record.intervention_id.strip():
        raise InvalidIntervention("intervention_id", "expected a non-empty id")
    title = (record.title or "").strip() if isinstance(record.title, str) else ""
    if not title or len(title) > MAX_TITLE_CHARS:
        raise InvalidIntervention(
            "title",
            f"expected what was done, 1 to {MAX_TITLE_CHARS} characters; received {record.title!r}"[
                :300
            ],
        )
    if record.kind not in INTERVENTION_KINDS:
        raise InvalidIntervention(
            "kind", f"expected one of {', '.join(INTERVENTION_KINDS)}; received {record.kind!r}"
        )
    if record.area_type not in INTERVENTION_AREA_TYPES:
        raise InvalidIntervention(
            "area_type",
            f"expected one of {', '.join(INTERVENTION_AREA_TYPES)}; received {record.area_type!r}",
        )
    codes = list(record.area_codes or [])
    if not all(isinstance(c, str) and c for c in codes):
        raise InvalidIntervention("area_codes", f"expected a list of codes; received {codes!r}")
    if record.area_type in ("ward", "lsoa") and len(codes) != 1:
        raise InvalidIntervention(
            "area_codes", f"a {record.area_type} intervention names one area code; got {codes!r}"
        )
    if record.area_type == "cells":
        cells_polygon(codes, "area_codes")
    geom = polygon_from_geojson(record.geometry, "geometry")
    start = _as_date(record.start_date, "start_date")
    end = _as_date(record.end_date, "end_date")
    if end < start:
        raise InvalidIntervention(
            "end_date",
            f"expected a date on or after the start ({start.isoformat()}); "
            f"received {end.isoformat()}",
        )
    hours = record.officer_hours
    if hours is not None:
        try:
            hours = float(hours)
        except (TypeError, ValueError):
            hours = float("nan")
        if not math.isfinite(hours) or hours < 0:
            raise InvalidIntervention(
                "officer_hours",
                f"expected a number of hours, 0 or more; received {record.officer_hours!r}",
            )
    notes = record.notes or ""
    if not isinstance(notes, str) or len(notes) > MAX_NOTES_CHARS:
        raise InvalidIntervention("notes", f"expected text of at most {MAX_NOTES_CHARS} characters")
    if not isinstance(record.created_by, str) or not record.created_by:
        raise InvalidIntervention("created_by", "expected who logged it")
    return replace(
        record,
        title=title,
        area_codes=codes,
        geometry=json.loads(json.dumps(mapping(geom))),  # lists, as read back
        start_date=start,
        end_date=end,
        officer_hours=hours,
        notes=notes,
    )
