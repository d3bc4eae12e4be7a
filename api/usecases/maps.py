"""The map of a stored run for a role: what the map route, share links and the CLI share.

Gathers what :func:`maps.render.build_map` draws, as the role may see it:
the run's hotspots (:meth:`api.disclosure.Disclosure.run_view`), ward and LSOA rates for the run's
categories and window (counts below ``min_count`` suppressed for ``public``),
and, for ``analyst`` only, the run's incidents (sensitive ones included:
analysts may see them; no other role gets a single point).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import shapely
import shapely.geometry

from geodata.errors import HotspotsError, NotFound
from geodata.model import RunRecord
from geodata.stores import IncidentQuery, Store
from maps.render import MapOptions, build_map, render_html
from maps.settings import MapSettings

from ..disclosure import DOCUMENT_TYPE, PLAN_TYPE, Disclosure
from .rates import areas_geojson
from .window import Window


class NotAMap(HotspotsError):
    """A stored backtest or evaluation was asked for as a map."""

    status = 409
    type = "not-a-map"


#: boundaries are simplified to about this many degrees (≈ 5 m) for the page
SIMPLIFY_DEG = 0.00005


def _when(value) -> datetime | None:
    if not value:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def run_window(run: RunRecord) -> tuple[Window, tuple[str, ...] | None]:
    """The data window and categories the run analysed (from its provenance)."""
    prov = run.provenance or {}
    window = prov.get("window") or {}
    cats = prov.get("categories")
    return Window(_when(window.get("start")), _when(window.get("end"))), (
        tuple(cats) if cats else None
    )


def area_rates_geojson(store: Store, kind: str, run: RunRecord, policy: Disclosure):
    """Areas of ``kind`` with counts and rates for the run's window as the policy's role
    may see them, or ``None`` if no such boundaries are loaded."""
    window, categories = run_window(run)
    try:
        doc = areas_geojson(store, policy, kind, categories, window, SIMPLIFY_DEG)
    except NotFound:  # no such boundaries loaded
        return None
    doc["features"] = [f for f in doc["features"] if f["geometry"] is not None]
    return doc


def keep_within(fc: dict, area_lonlat: shapely.Geometry | None) -> dict:
    """The FeatureCollection with only the hotspots that touch ``area_lonlat`` (all when
    ``None``): a share link's area filter."""
    if area_lonlat is None:
        return fc
    kept = [
        f
        for f in fc.get("features", [])
        if f.get("geometry") and shapely.geometry.shape(f["geometry"]).intersects(area_lonlat)
    ]
    return {**fc, "features": kept}


def run_incidents(store: Store, run: RunRecord) -> pd.DataFrame:
    """lon, lat, category of the run's incidents (every one: for analysts only)."""
    window, categories = run_window(run)
    table = store.query_incidents(
        IncidentQuery(
            start=window.start,
            end=window.end,
            categories=categories,
            include_sensitive=True,
            columns=["lon", "lat", "category", "sensitive"],
        )
    )
    return table.to_pandas()


def run_map_page(
    store: Store,
    run: RunRecord,
    role: str,
    min_count: int,
    title: str,
    settings: MapSettings | None = None,
    *,
    assets: str = "link",
    asset_base: str = "/static/vendor",
    risk_zones: dict | None = None,
    policy: Disclosure | None = None,
    within: shapely.Geometry | None = None,
) -> str:
    """The whole HTML page of a run's map as ``role`` may see it.

    Everything the page embeds comes through the role's disclosure ``policy``
    (default: ``role`` with ``min_count`` and the other settings at their
    defaults), so the page holds no figure the role's JSON would not give.

    Partners and analysts also get the interventions log's outlines (target,
    displacement buffer, control: :mod:`maps.overlays`) and, when given,
    near-repeat ``risk_zones`` (GeoJSON as ``POST /knox`` returns them); the
    public gets neither, as the API gives the public none of the log.
    """
    from geodata.vocab import DEFAULT_BUFFER_M
    from maps.overlays import add_overlays, overlay_legend

    from .interventions import interventions_geojson

    settings = settings or MapSettings()
    policy = policy or Disclosure(role=role, min_count=min_count)
    if run.result.get("type") == DOCUMENT_TYPE:
        raise NotAMap(
            f"run {run.run_id!r} is a {run.method}: it has no map (`hotspots runs show "
            f"{run.run_id}` or GET /runs/{run.run_id}/hotspots gives its document)"
        )
    if run.result.get("type") == PLAN_TYPE:  # a stored plan: its sites and route
        view = policy.run_view(run.result)
        return plan_map_page(view, role, min_count, settings, assets=assets, asset_base=asset_base)
    outlines = None
    if role != "public":
        outlines = interventions_geojson(store, DEFAULT_BUFFER_M)
        if not outlines["features"]:
            outlines = None
    else:
        risk_zones = None
    parts = {f["properties"]["part"] for f in (outlines or {}).get("features", [])}
    fc = keep_within(policy.run_view(run.result), within)
    areas = {
        kind: doc
        for kind in ("ward", "lsoa")
        if (doc := area_rates_geojson(store, kind, run, policy)) is not None
    }
    incidents = run_incidents(store, run) if role == "analyst" else None
    opts = MapOptions(
        role=role,
        title=title,
        min_count=min_count,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        assets=assets,
        asset_base=asset_base,
        notes=(f"Run {run.run_id} ({run.method}), made {run.created_at:%d %B %Y}.",),
        legend_extra=(overlay_legend(parts, risk_zones, DEFAULT_BUFFER_M),),
    )
    m = build_map(fc, run.method, opts, areas=areas, incidents=incidents)
    add_overlays(m, outlines, risk_zones)
    return render_html(m)


def plan_map_page(
    view: dict,
    role: str,
    min_count: int,
    settings: MapSettings | None = None,
    *,
    assets: str = "link",
    asset_base: str = "/static/vendor",
) -> str:
    """An interactive (Leaflet) map of a plan's sites in visiting order, with the route,
    drawn by :mod:`maps.render` like a run's hexagons. ``view`` is the plan's GeoJSON as
    the role may see it (:meth:`api.disclosure.Disclosure.run_view` of a stored plan run);
    ``assets="inline"`` for a standalone file, ``"link"`` when served by the API."""
    settings = settings or MapSettings()
    fc = {"type": "FeatureCollection", "features": []}
    for feature in view.get("features", []):
        props = dict(feature["properties"])
        props["hotspot_id"] = feature["id"]
        props["rank"] = props["visit"]  # labelled in visiting order
        fc["features"].append({**feature, "properties": props})
    plan = view.get("plan") or {}
    s = plan.get("summary") or {}
    prov = view.get("provenance") or {}
    cats = ", ".join(prov.get("categories") or []) or "all categories"
    if fc["features"]:
        lead = (
            f"{s['sites']} sites numbered in visiting order: {s['harm_share']:.1%} of the harm "
            f"on {s['area_share']:.2%} of the area"
            + (f" (PAI {s['pai']:.0f})" if s.get("pai") else "")
            + f"; route in visiting order {s['distance_m']:,.0f} m (the dashed line)."
        )
    else:
        lead = "No site to show in this view."
    opts = MapOptions(
        role=role,
        title=f"Day of action — {s.get('area') or 'the area'}",
        min_count=min_count,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        assets=assets,
        asset_base=asset_base,
        notes=(
            lead,
            f"Categories: {cats}.",
            *(plan.get("notes") or view.get("notes") or []),
            f"Plan {view.get('run_id') or ''}: {plan.get('method') or ''}".strip(),
        ),
    )
    m = build_map(fc, "plan", opts)
    route = (view.get("route") or {}).get("coordinates") or []
    if len(route) > 1:  # the walking order, site to site (straight lines)
        import folium

        line = folium.PolyLine(
            [(lat, lon) for lon, lat in route],
            color="#333333",
            weight=3,
            dash_array="6 6",
        )
        line.options["interactive"] = False  # a tap on a site under it opens the site's popup
        line.add_to(m)
    return render_html(m)
