"""Analysts' context on the hotspot map: cells hot only through their neighbours, and
recording places left out of the analysis (police.uk's "On or near Police Station").

Both come in a run's FeatureCollection only as the analyst sees it
(``api.disclosure.Disclosure.run_view`` keeps them for analysts and drops them for
every other role), so :func:`add_context_layers` draws them only for ``analyst``.
Popups are HTML made and escaped here.
"""

from __future__ import annotations

import html

from .controls import CompactGeoJson

#: dashed outline, no fill: a place beside hotspots, not one itself
SURROUNDINGS_STROKE = "#b2182b"
ARTEFACT_COLOUR = "#6a3d9a"

ARTEFACT_TEXT = (
    "police.uk places crimes recorded at a police station (or another recording place "
    "the partnership lists) on this snap point: they did not happen here. They are left "
    "out of hotspots and plans; the option include_artefacts brings them back."
)


def _surroundings(doc: dict) -> dict:
    feats = []
    for f in doc.get("features", []):
        p = f.get("properties") or {}
        count = p.get("count")
        popup = (
            '<div class="hs-pop"><b>Hot surroundings, few incidents here</b>'
            f"<div>Incidents in this cell: <b>{html.escape(str(count))}</b></div>"
            "<div>Gi* finds this cell hot because of its neighbours; it holds fewer "
            "incidents than the average cell with any, so it is not ranked as a hotspot."
            "</div></div>"
        )
        feats.append({"type": "Feature", "geometry": f["geometry"], "properties": {"popup": popup}})
    return {"type": "FeatureCollection", "features": feats}


def _artefacts(places: list[dict]) -> dict:
    feats = []
    for p in places:
        where = html.escape(str(p.get("location") or "recording place"))
        popup = (
            f'<div class="hs-pop"><b>{where}</b>'
            f"<div>Incidents left out here: <b>{int(p.get('count') or 0):,}</b></div>"
            f"<div>{html.escape(ARTEFACT_TEXT)}</div></div>"
        )
        feats.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(p["lon"]), 5), round(float(p["lat"]), 5)],
                },
                "properties": {"popup": popup, "f": ARTEFACT_COLOUR},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def add_context_layers(m, fc: dict, role: str) -> list[str]:
    """Draw the run's hot surroundings and artefact places on ``m`` (analysts only);
    return the legend sections for what was drawn."""
    if role != "analyst":
        return []
    legend: list[str] = []
    surroundings = fc.get("surroundings") or {}
    if surroundings.get("features"):
        CompactGeoJson(
            _surroundings(surroundings), "Hot surroundings (few incidents here)", "surroundings"
        ).add_to(m)
        legend.append(
            '<div class="hs-key"><span class="hs-sw" style="background:transparent;'
            f'border:2px dashed {SURROUNDINGS_STROKE}"></span>Hot surroundings, few incidents '
            "here (not ranked)</div>"
        )
    places = fc.get("artefact_places") or []
    if places:
        CompactGeoJson(_artefacts(places), "Recording places left out", "artefacts").add_to(m)
        n = sum(int(p.get("count") or 0) for p in places)
        legend.append(
            '<div class="hs-key"><span class="hs-sw" style="background:'
            f'{ARTEFACT_COLOUR};border-radius:50%"></span>Recording place left out '
            f"({n:,} incidents, e.g. a police station): not where they happened</div>"
        )
    return legend


__all__ = ["ARTEFACT_TEXT", "add_context_layers"]
