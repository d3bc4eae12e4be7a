"""Incident points as a role may see them: what ``GET /incidents`` and the OGC items of
the incidents collection share (ids opaque below analyst; sensitive points for analysts
only, by the query the caller's :class:`~api.disclosure.Disclosure` allows)."""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa

from geodata.stores import IncidentQuery

from ..disclosure import Disclosure

POINT_COLUMNS = [
    "id",
    "category",
    "occurred_at",
    "occurred_precision",
    "lon",
    "lat",
    "location",
    "lsoa_code",
    "ward_code",
    "source",
    "batch_id",
    "sensitive",
]


def incident_features(table: pa.Table, policy: Disclosure) -> list[dict]:
    """GeoJSON Point features (lon, lat) from an incident table, with the ids the policy's
    role is shown (opaque below analyst)."""
    out = []
    for row in table.to_pylist():
        lon, lat = row.pop("lon"), row.pop("lat")
        when = row.get("occurred_at")
        if when is not None:
            row["occurred_at"] = when.isoformat()
        row["id"] = policy.incident_id(row["id"])
        out.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": row,
            }
        )
    return out


def find_incident(store, policy: Disclosure, shown_id: str) -> dict | None:
    """The feature of an incident by an id the policy's role is shown, or ``None`` (an
    unknown id and one the role may not see get the same answer). Analysts may also use
    the opaque ids partners are shown."""
    batch, sep, rest = shown_id.rpartition("~" if "~" in shown_id else "#")
    if not (batch and sep and rest) or (sep == "#" and not policy.analyst):
        return None
    q = IncidentQuery(
        batch_ids=[batch], include_sensitive=policy.include_sensitive, columns=POINT_COLUMNS
    )
    if sep == "#":  # a stored id: one row by the key (one scan), not the whole batch
        table = store.query_incidents(replace(q, ids=[shown_id], limit=1))
    else:
        table = store.query_incidents(q)
        opaque = Disclosure(role="partner", secret=policy.secret).incident_id
        table = table.filter(pa.array([opaque(i) == shown_id for i in table["id"].to_pylist()]))
    return incident_features(table, policy)[0] if table.num_rows else None
