"""Queryables (``/collections/{id}/queryables``): the properties a client can filter on.

A JSON Schema per collection, as OGC API – Features Part 3 describes it. For
run and area collections the properties are those of the features the caller sees,
so a role is never told of a property it does not get.
"""

from __future__ import annotations

from .collections import Collection

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
_INCIDENTS = {
    "category": ("string", "Category (taxonomy slug)"),
    "occurred_at": ("date-time", "When it happened (UK time; police.uk: first of the month)"),
    "occurred_precision": ("string", "Precision of occurred_at: month, day or minute"),
    "location": ("string", "Location text (street)"),
    "lsoa_code": ("string", "LSOA code"),
    "ward_code": ("string", "Ward code"),
    "source": ("string", "Source dataset"),
    "batch_id": ("string", "Import batch"),
}
#: incident properties a filter may name (all in the features partners are shown)
INCIDENT_QUERYABLES = tuple(_INCIDENTS)


def property_types(doc: dict) -> dict[str, str]:
    """Queryable name → string, integer, number, boolean or date-time, from a
    queryables document (the geometry left out)."""
    out = {}
    for name, schema in doc["properties"].items():
        if name != "geometry":
            out[name] = "date-time" if schema.get("format") == "date-time" else schema["type"]
    return out


def _prop(kind: str, title: str) -> dict:
    if kind == "date-time":
        return {"type": "string", "format": "date-time", "title": title}
    return {"type": kind, "title": title}


def property_schemas(features: list[dict]) -> dict[str, dict]:
    """The schema of each property of ``features``, typed from its first value that is a
    boolean, integer, number or string (properties with none are left out)."""
    props: dict[str, dict] = {}
    for f in features:
        for key, value in (f.get("properties") or {}).items():
            kind = _TYPES.get(type(value))
            if kind and key not in props:
                props[key] = {"type": kind, "title": key.replace("_", " ")}
    return props


def queryables(
    coll: Collection, url: str, features: list[dict] | None = None, props: dict | None = None
) -> dict:
    """The queryables document of ``coll``; ``features``: the areas' features as the
    caller is shown them (their properties, typed from their values), or ``props``:
    those schemas already worked out (a run's, kept with its view)."""
    if coll.kind == "incidents":
        props = {k: _prop(*v) for k, v in _INCIDENTS.items()}
        geometry = "geometry-point"
    else:
        props = property_schemas(features or []) if props is None else props
        geometry = "geometry-polygon" if coll.kind == "run" else "geometry-any"
    return {
        "$schema": JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": coll.title,
        "properties": {
            "geometry": {"format": geometry, "x-ogc-role": "primary-geometry"},
            **dict(sorted(props.items())),
        },
        "additionalProperties": False,
    }
