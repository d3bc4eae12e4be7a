"""Kernel density estimation (quartic kernel) to a grid and to contour polygons for heat layers.

The quartic (biweight) kernel, as in ArcGIS Kernel Density and most crime
mapping: ``K(d) = 3 / (π h²) · (1 − d²/h²)²`` for ``d < h``, 0 beyond. Each
incident contributes its harm weight (or 1), so the surface is harm (or
incidents) per km².

Computation: a weighted 2-D histogram on the output grid (points snapped to
cell centres, an error of at most half a cell) convolved with the kernel
sampled on the same grid (FFT), so cost grows with cells, not with points ×
cells. The discrete kernel is normalised to sum to 1, so the surface
integrates to the total weight.

Bandwidth, when not given, by the rule ArcGIS documents for Kernel Density
(a spatial variant of Silverman's rule):
``h = 0.9 · min(SD, √(1/ln 2) · Dm) · n^−0.2`` with ``SD`` the weighted
standard distance, ``Dm`` the weighted median distance to the weighted mean
centre and ``n`` the total weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.signal import fftconvolve


@dataclass
class DensitySurface:
    density_per_km2: np.ndarray  # rows = y (south → north), cols = x (west → east)
    x0: float  # west edge of column 0, metres
    y0: float  # south edge of row 0, metres
    cell_m: float
    bandwidth_m: float
    bandwidth_reason: str
    total_weight: float

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.density_per_km2.shape
        return (
            self.x0 + (np.arange(nx) + 0.5) * self.cell_m,
            self.y0 + (np.arange(ny) + 0.5) * self.cell_m,
        )

    def value_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Density at points (0 outside the grid)."""
        col = np.floor((np.asarray(x) - self.x0) / self.cell_m).astype(int)
        row = np.floor((np.asarray(y) - self.y0) / self.cell_m).astype(int)
        ny, nx = self.density_per_km2.shape
        ok = (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
        out = np.zeros(len(col))
        out[ok] = self.density_per_km2[row[ok], col[ok]]
        return out


def bandwidth_rule(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
) -> tuple[float, str]:
    """Bandwidth in metres by ArcGIS's spatial Silverman rule, with the reasoning."""
    w = np.ones(len(x)) if weight is None else np.asarray(weight, float)
    n = w.sum()
    if len(x) < 2 or n <= 0:
        raise ValueError(f"need at least 2 weighted points for a bandwidth; got {len(x)}")
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    d = np.hypot(x - mx, y - my)
    sd = float(np.sqrt(np.average(d**2, weights=w)))
    order = np.argsort(d)
    cum = np.cumsum(w[order])
    dm = float(d[order][np.searchsorted(cum, cum[-1] / 2)])
    h = 0.9 * min(sd, np.sqrt(1 / np.log(2)) * dm) * n**-0.2
    counted = (
        f"n = {len(x):,} incidents"
        if weight is None or np.allclose(w, 1.0)
        else f"n = {n:,.1f}, the sum of the weights of {len(x):,} incidents"
    )
    reason = (
        f"spatial Silverman rule (as ArcGIS Kernel Density): 0.9 × min(SD {sd:.0f} m, "
        f"√(1/ln2) × median distance {dm:.0f} m) × n^-0.2 with {counted}"
    )
    return float(h), reason


def kernel_density(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    bandwidth_m: float | None = None,
    cell_m: float = 50.0,
    bounds: tuple[float, float, float, float] | None = None,
) -> DensitySurface:
    """Quartic kernel density of (weighted) points on a ``cell_m`` grid, per km².

    ``bounds`` (xmin, ymin, xmax, ymax) fixes the grid extent (default: the
    points' extent plus one bandwidth).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones(len(x)) if weight is None else np.asarray(weight, float)
    if cell_m <= 0:
        raise ValueError(f"cell_m must be > 0; got {cell_m}")
    if bandwidth_m is None:
        raw, reason = bandwidth_rule(x, y, w)
        # the number used is the number shown: whole metres, and at least two cells
        bandwidth_m = float(max(round(raw), 2 * cell_m))
        reason += f": {bandwidth_m:.0f} m" + (
            f" (raised from {raw:.0f} m to two {cell_m:g} m cells)" if raw < 2 * cell_m else ""
        )
    else:
        if bandwidth_m <= 0:
            raise ValueError(f"bandwidth_m must be > 0; got {bandwidth_m}")
        reason = "given"
    h = float(bandwidth_m)
    if bounds is None:
        bounds = (x.min() - h, y.min() - h, x.max() + h, y.max() + h)
    x0 = np.floor(bounds[0] / cell_m) * cell_m
    y0 = np.floor(bounds[1] / cell_m) * cell_m
    nx = int(np.ceil((bounds[2] - x0) / cell_m))
    ny = int(np.ceil((bounds[3] - y0) / cell_m))
    hist, _, _ = np.histogram2d(
        y, x, bins=(ny, nx), range=((y0, y0 + ny * cell_m), (x0, x0 + nx * cell_m)), weights=w
    )
    r = int(np.ceil(h / cell_m))
    offs = np.arange(-r, r + 1) * cell_m
    dx, dy = np.meshgrid(offs, offs)
    d2 = (dx**2 + dy**2) / h**2
    kernel = np.where(d2 < 1, (1 - d2) ** 2, 0.0)
    kernel /= kernel.sum()  # each point spreads exactly its weight over the grid
    surface = fftconvolve(hist, kernel, mode="same")
    surface[surface < 1e-12] = 0.0  # FFT round-off
    per_km2 = surface / (cell_m * cell_m) * 1e6
    return DensitySurface(per_km2, float(x0), float(y0), float(cell_m), h, reason, float(w.sum()))


def density_contours(
    surface: DensitySurface,
    top_shares: tuple[float, ...] = (0.01, 0.05, 0.10, 0.25),
    crs: str = "EPSG:27700",
) -> gpd.GeoDataFrame:
    """Polygons of the densest cells: for each share s, the top s of non-empty cells.

    Returns one row per level (``top_share``, ``threshold_per_km2``, ``area_m2``,
    ``weight_share``: the share of all weight inside), densest level first.
    """
    dens = surface.density_per_km2
    nonzero = np.sort(dens[dens > 0])[::-1]
    rows = []
    xs, ys = surface.cell_centres()
    half = surface.cell_m / 2
    cell_weight = dens * surface.cell_m**2 / 1e6
    for share in sorted(top_shares):
        if not len(nonzero):
            break
        k = max(1, round(share * len(nonzero)))
        threshold = nonzero[k - 1]
        rr, cc = np.nonzero(dens >= threshold)
        boxes = shapely.box(xs[cc] - half, ys[rr] - half, xs[cc] + half, ys[rr] + half)
        geom = shapely.coverage_union_all(boxes)
        rows.append(
            {
                "top_share": share,
                "threshold_per_km2": float(threshold),
                "area_m2": float(geom.area),
                "weight_share": float(cell_weight[rr, cc].sum() / max(cell_weight.sum(), 1e-12)),
                "geometry": geom,
            }
        )
    return (
        gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
        if rows
        else gpd.GeoDataFrame(
            {"top_share": [], "threshold_per_km2": [], "area_m2": [], "weight_share": []},
            geometry=[],
            crs=crs,
        )
    )
