"""What the CLI and the web API share for interventions: logging one and drawing the
log as GeoJSON for maps (its evaluation: :mod:`api.usecases.evaluation`).

An intervention's area comes as a drawn polygon (GeoJSON, WGS84), a stored ward
or LSOA code, or a list of H3 cells; :func:`build_intervention` turns any of
them into an :class:`~geodata.model.InterventionRecord` whose ``geometry`` is the
target outline in WGS84.
"""

from __future__ import annotations

import json
import secrets
from datetime import date
from typing import Any

import shapely
from shapely.geometry import mapping

from geodata.errors import NotFound
from geodata.interventions import (
    InvalidIntervention,
    cells_polygon,
    intervention_polygon,
    polygon_from_geojson,
    to_lonlat_geojson,
)
from geodata.model import InterventionRecord
from geodata.stores import Store
from geodata.vocab import DEFAULT_BUFFER_M

from ..security import now_utc
from .evaluation import (
    InvalidEvaluation,
    evaluation_areas,
)


class UnknownArea(InvalidIntervention):
    """A ward or LSOA code that names no stored boundary (404)."""

    status = 404
    type = "not-found"


def new_intervention_id() -> str:
    """A short random id, e.g. ``iv-3f9c2a61b0d4``."""
    return "iv-" + secrets.token_hex(6)


def build_intervention(
    store: Store,
    *,
    title: str,
    kind: str,
    start_date: date | str,
    end_date: date | str,
    created_by: str,
    geometry: dict | None = None,
    ward: str | None = None,
    lsoa: str | None = None,
    cells: list[str] | None = None,
    officer_hours: float | None = None,
    notes: str = "",
    intervention_id: str | None = None,
) -> InterventionRecord:
    """A new intervention from exactly one of ``geometry`` (GeoJSON, WGS84), ``ward``,
    ``lsoa`` (a stored area's code) or ``cells`` (H3 ids). Not stored: pass it to
    ``store.add_intervention``. :class:`InvalidIntervention` names the bad field."""
    given = {
        k: v
        for k, v in (("geometry", geometry), ("ward", ward), ("lsoa", lsoa), ("cells", cells))
        if v is not None
    }
    if len(given) != 1:
        raise InvalidIntervention(
            "area",
            "expected exactly one of geometry (GeoJSON polygon), ward, lsoa or cells; "
            f"received {sorted(given) or 'none'}",
        )
    ((area_type, value),) = given.items()
    if area_type == "geometry":
        geom = polygon_from_geojson(value, "geometry")
        area_type, codes = "polygon", []
    elif area_type == "cells":
        codes = [str(c) for c in value]
        geom = cells_polygon(codes, "cells")
    else:
        code = str(value).strip()
        try:
            polygon = store.area_polygon(area_type, code)
        except NotFound:
            known = store.boundaries(area_type)["code"].tolist()
            hint = f"e.g. {', '.join(known[:3])}" if known else "none are loaded"
            raise UnknownArea(
                area_type,
                f"no {area_type} with code {code!r} is loaded ({len(known)} {area_type}s are: "
                f"{hint}); see GET /areas?kind={area_type}",
            ) from None
        geom = shapely.geometry.shape(to_lonlat_geojson(polygon, store.analysis_crs))
        codes = [code]
    return InterventionRecord(
        intervention_id=intervention_id or new_intervention_id(),
        title=title,
        kind=kind,
        area_type=area_type,
        area_codes=codes,
        geometry=json.loads(json.dumps(mapping(geom))),
        start_date=start_date,  # type: ignore[arg-type]  # checked by the store
        end_date=end_date,  # type: ignore[arg-type]
        officer_hours=officer_hours,
        notes=notes or "",
        created_at=now_utc(),
        created_by=created_by,
    )


# --------------------------------------------------------------------------- maps


def interventions_geojson(
    store: Store, buffer_m: float = DEFAULT_BUFFER_M, *, control: bool = True
) -> dict[str, Any]:
    """Every logged intervention as a GeoJSON FeatureCollection (WGS84) for maps.

    Each intervention gives a ``target`` feature and, with ``buffer_m`` > 0, a
    ``buffer`` ring; with ``control`` true and boundaries loaded, the default
    ``control`` area of :func:`evaluate_intervention` too (its ``control``
    property says which: ``ward CODE`` or ``borough``).
    Every feature's properties name the intervention (``intervention_id``,
    ``title``, ``kind``, ``start_date``, ``end_date``, ``officer_hours``) and
    its ``part``; ids are ``<intervention_id>/<part>``.
    """
    features = []
    crs = store.analysis_crs
    for rec in store.list_interventions():
        props = {
            "intervention_id": rec.intervention_id,
            "title": rec.title,
            "kind": rec.kind,
            "area_type": rec.area_type,
            "area_codes": rec.area_codes,
            "start_date": rec.start_date.isoformat(),
            "end_date": rec.end_date.isoformat(),
            "officer_hours": rec.officer_hours,
            "buffer_m": buffer_m,
        }
        parts: list[tuple[str, dict, dict]] = [("target", rec.geometry, {})]
        try:
            target, ring, rest, label = evaluation_areas(store, rec, buffer_m)
        except InvalidEvaluation:  # no boundaries to take a control from
            target = intervention_polygon(rec, crs)
            ring = target.buffer(buffer_m).difference(target) if buffer_m > 0 else None
            rest = label = None
        if buffer_m > 0 and ring is not None:
            parts.append(("buffer", to_lonlat_geojson(ring, crs), {}))
        if control and rest is not None:
            parts.append(("control", to_lonlat_geojson(rest, crs), {"control": label}))
        for part, geometry, extra in parts:
            features.append(
                {
                    "type": "Feature",
                    "id": f"{rec.intervention_id}/{part}",
                    "geometry": geometry,
                    "properties": {**props, "part": part, **extra},
                }
            )
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": len(features),
        "numberReturned": len(features),
        "timeStamp": now_utc().replace(microsecond=0).isoformat() + "Z",
    }
