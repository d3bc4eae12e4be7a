"""Planted incidents for the forecast tests (imported by test modules in this folder,
which pytest puts on ``sys.path``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geodata.crs import xy_to_lonlat

CRS = "EPSG:27700"


def month_frame(x, y, months) -> pd.DataFrame:
    """Incidents at British National Grid ``x``, ``y`` on the first day of ``months``."""
    lon, lat = xy_to_lonlat(np.asarray(x, float), np.asarray(y, float), CRS)
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
            "occurred_at": pd.to_datetime([f"{m}-01" for m in months]),
        }
    )
