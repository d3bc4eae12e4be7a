"""The common H3 grid of a backtest: the study area's cells and incident counts per month."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from h3.api import basic_int as h3i

from geodata.crs import lonlat_to_xy, xy_to_lonlat

from ..grid import Grid, assign_cells, cells_for_area, validate_resolution
from ..temporal import month_keys


@dataclass(eq=False)
class StudyGrid:
    """The common H3 grid of a backtest: cells of the area, their areas and centres.

    ``counts`` is cells × months (incidents whose cell is in the grid);
    ``pos`` gives each input incident's cell index, -1 outside the area.
    """

    res: int
    cells: np.ndarray
    cell_area_m2: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    months: list[str]
    counts: np.ndarray
    harm: np.ndarray
    pos: np.ndarray
    month_of: np.ndarray
    _W: dict = field(default_factory=dict, repr=False)

    @property
    def total_area_m2(self) -> float:
        return float(self.cell_area_m2.sum())

    def restrict(self, months) -> None:
        """Keep exactly ``months`` (``YYYY-MM``): a listed month with no incident counts
        zero; incidents of months not listed fall out (``month_of`` -1)."""
        wanted = sorted(set(months))
        idx = pd.Index(self.months).get_indexer(wanted)
        counts = np.zeros((self.cells.size, len(wanted)))
        harm = np.zeros_like(counts)
        counts[:, idx >= 0] = self.counts[:, idx[idx >= 0]]
        harm[:, idx >= 0] = self.harm[:, idx[idx >= 0]]
        remap = np.full(len(self.months) + 1, -1)
        remap[idx[idx >= 0]] = np.flatnonzero(idx >= 0)
        self.month_of = remap[self.month_of]
        self.months, self.counts, self.harm = wanted, counts, harm

    def neighbours(self, k: int):
        if k not in self._W:
            zeros = np.zeros(self.cells.size)
            grid = Grid(
                self.res, self.cells, zeros, zeros, [], np.zeros((self.cells.size, 0)),
                np.zeros((self.cells.size, 0)), np.empty(0, "<U15"),
            )  # fmt: skip
            self._W[k] = grid.neighbours(k)
        return self._W[k]


def study_grid(
    incidents: pd.DataFrame, area, *, crs: str = "EPSG:27700", res: int = 10
) -> StudyGrid:
    """Build the common grid of a study area (polygon in ``crs``) and count incidents on it.

    ``incidents`` needs ``lat``, ``lon`` and ``occurred_at``; ``harm`` is used
    when present (else 1 per incident).
    """
    res = validate_resolution(res)
    missing = {"lat", "lon", "occurred_at"} - set(incidents.columns)
    if missing:
        raise ValueError(
            f"incidents: expected columns lat, lon, occurred_at; missing {sorted(missing)}"
        )
    if not isinstance(area, shapely.Polygon | shapely.MultiPolygon) or area.is_empty:
        raise ValueError(
            f"area: expected a non-empty shapely Polygon or MultiPolygon in {crs}, "
            f"got {type(area).__name__}"
        )
    area_ll = shapely.transform(
        area, lambda xy: np.column_stack(xy_to_lonlat(xy[:, 0], xy[:, 1], crs))
    )
    cells = cells_for_area(area_ll, res)
    if cells.size < 2:
        raise ValueError(
            f"area: expected at least 2 H3 res-{res} cells inside it, got {cells.size}"
        )
    ids = [int(c, 16) for c in cells]
    cell_area = np.array([h3i.cell_area(i, unit="m^2") for i in ids])
    latlng = np.array([h3i.cell_to_latlng(i) for i in ids])
    cx, cy = lonlat_to_xy(latlng[:, 1], latlng[:, 0], crs)
    of = assign_cells(incidents["lat"].to_numpy(), incidents["lon"].to_numpy(), res)
    pos = np.searchsorted(cells, of)
    pos[pos >= cells.size] = 0
    pos = np.where(cells[pos] == of, pos, -1).astype(np.int64)
    keys = month_keys(incidents["occurred_at"]) if len(incidents) else np.empty(0, str)
    months = sorted(set(keys[pos >= 0].tolist()))
    month_of = pd.Index(months).get_indexer(keys) if len(keys) else np.empty(0, np.int64)
    ok = pos >= 0
    flat = pos[ok] * len(months) + month_of[ok]
    size = cells.size * len(months)
    harm = incidents["harm"].to_numpy(float) if "harm" in incidents else np.ones(len(incidents))
    counts = np.bincount(flat, minlength=size).reshape(cells.size, len(months)).astype(float)
    harm_m = np.bincount(flat, weights=harm[ok], minlength=size).reshape(cells.size, len(months))
    return StudyGrid(
        res, cells, cell_area, np.asarray(cx), np.asarray(cy), months, counts, harm_m, pos,
        np.where(ok, month_of, -1),
    )  # fmt: skip


__all__ = ["StudyGrid", "study_grid"]
