"""Cells hot only through their neighbours: named, kept apart and never ranked.

Gi* sums a cell's neighbourhood, the cell itself included, so an empty cell
beside a busy one can come out "hot, 99 % confidence". On Gravesham's 2022 ASB,
6 of 63 hot cells had no incident at all. A patrol sent there finds nothing.

The rule (:func:`split_hot_cells`): a hot cell (Gi* class at least the run's
``min_gi_bin``, or a hot emerging pattern) is a hotspot only if its own value
(count, or harm with ``value="harm"``) reaches the mean value of the cells that
hold at least one incident. Below that it is class ``hot-neighbour``, labelled
"hot surroundings, few incidents here": drawn apart on analysts' maps (a dashed
outline), listed in the run's ``surroundings``, and not in the ranked hotspots,
plans or briefings.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

#: class and label of a cell hot only through its neighbours
NEIGHBOUR_CLASS = "hot-neighbour"
NEIGHBOUR_LABEL = "hot surroundings, few incidents here"


def own_value_threshold(values: np.ndarray, counts: np.ndarray) -> float:
    """The mean value of the cells holding at least one incident (0 when none does)."""
    occupied = np.asarray(counts) > 0
    return float(np.asarray(values, float)[occupied].mean()) if occupied.any() else 0.0


def split_hot_cells(
    hot: np.ndarray, values: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(hotspots, neighbour_only, threshold)``: indices of the hot cells that are hotspots
    by their own value and of those hot only through their neighbours.

    Examples
    --------
    >>> hs, nb, t = split_hot_cells(np.array([0, 1, 2]), np.array([9.0, 0, 2, 1]),
    ...                             np.array([9, 0, 2, 1]))
    >>> hs.tolist(), nb.tolist(), t
    ([0], [1, 2], 4.0)
    """
    hot = np.asarray(hot, dtype=np.int64)
    threshold = own_value_threshold(values, counts)
    own = np.asarray(values, float)[hot] >= threshold
    return hot[own], hot[~own], threshold


def note(n_neighbour: int, n_hot: int, threshold: float, what: str) -> str:
    """The run's note on the cells set apart, with the threshold used (rounded)."""
    shown = f"{threshold:.1f}" if threshold < 10 else f"{threshold:,.0f}"
    return (
        f"{n_neighbour} of {n_hot} hot cells have fewer than {shown} {what} of their own (the "
        f"mean of cells with incidents): hot through their neighbours, shown as "
        f"'{NEIGHBOUR_LABEL}' and not ranked as hotspots"
    )


def surroundings_table(cells: gpd.GeoDataFrame, index: np.ndarray, stats: list[str]):
    """The neighbour-only cells as a GeoDataFrame (analysis CRS) with their class and label."""
    sub = cells.iloc[index]
    out = gpd.GeoDataFrame(
        {
            "cell": sub["cell"].astype(str).to_numpy() if "cell" in sub else index.astype(str),
            "count": sub["count"].to_numpy().astype(np.int64),
            **{c: sub[c].to_numpy() for c in stats if c in sub},
            "hot_class": NEIGHBOUR_CLASS,
            "label": NEIGHBOUR_LABEL,
        },
        geometry=sub.geometry.to_numpy(),
        crs=cells.crs,
    )
    return out


def _plain(v):
    """A JSON-able value: NumPy scalars as Python ones, NaN as ``None``."""
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and v != v else v


def to_feature_collection(table: gpd.GeoDataFrame | None) -> dict | None:
    """WGS84 (lon, lat) FeatureCollection of :func:`surroundings_table`, or ``None``."""
    if table is None or not len(table):
        return None
    lonlat = table.to_crs("EPSG:4326")
    features = []
    for rec, geom in zip(lonlat.drop(columns="geometry").to_dict("records"), lonlat.geometry):
        props = {k: _plain(v) for k, v in rec.items()}
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geom),
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


__all__ = [
    "NEIGHBOUR_CLASS",
    "NEIGHBOUR_LABEL",
    "note",
    "own_value_threshold",
    "split_hot_cells",
    "surroundings_table",
    "to_feature_collection",
]
