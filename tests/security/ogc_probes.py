"""CQL2 filters a client might aim at the planted incidents of the attack tests."""

from __future__ import annotations

import numpy as np
import shapely

from geodata.crs import lonlat_to_xy

STREET = "Zzyzx Close"  # the planted incidents' street


def probes_for(places) -> dict[str, tuple[str, str]]:
    """CQL2 filters (text, filter-crs) a client might aim at the planted incidents: their
    street, kinds and times, and a 120 m square in metres around each planted place."""
    out = {
        "street": (f"location LIKE '%{STREET.split()[0]}%'", "CRS84"),
        "kinds": ("category IN ('domestic-abuse', 'sexual-offences')", "CRS84"),
        "time": ("occurred_at = TIMESTAMP('2022-06-14T02:37:00Z')", "CRS84"),
    }
    for name, (lon, lat) in places.items():
        x, y = (float(v[0]) for v in lonlat_to_xy(np.array([lon]), np.array([lat]), "EPSG:27700"))
        ring = [(x - 60, y - 60), (x + 60, y - 60), (x + 60, y + 60), (x - 60, y + 60)]
        wkt = shapely.Polygon(ring).wkt
        out[f"near-{name}"] = (f"S_INTERSECTS(geometry, {wkt})", "EPSG:27700")
    return out
