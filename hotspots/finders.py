"""The hotspot finders of :func:`hotspots.analysis.run_analysis`, one per kind of method.

Each takes the selected incidents, the parameters, the analysis CRS, the study area,
the months, and the run's ``automatic`` choices and ``notes`` (both filled in), and
returns ``(hotspots, cells, surface, params)``: the unranked hotspot table (with
``attrs["hs_of"]``, each incident's hotspot or -1), every grid cell (grid methods),
the density surface (KDE) and the parameters with the automatic values set.
"""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.crs import xy_to_lonlat

from .codes import tallies
from .emerging import PATTERNS
from .provenance import StageTimer


def clusters(data, params, crs, area_lonlat, months, automatic, notes, timer=None, engine=None):
    """DBSCAN / HDBSCAN clusters; scales not given are chosen at patrol scale
    (:mod:`hotspots.cluster_scale`, whose rule the provenance quotes)."""
    from .cluster_scale import (
        dbscan_scale,
        dense_enough,
        hdbscan_scale,
        no_cluster_advice,
        study_density,
    )
    from .clusters import DensityClusterer, summarise_clusters

    lap = (timer or StageTimer()).laps()
    x, y = data["x"].to_numpy(), data["y"].to_numpy()
    if len(data) == 0:
        return _empty(crs), None, None, params
    area_m2 = (
        float(gpd.GeoSeries([area_lonlat], crs="EPSG:4326").to_crs(crs).area.iloc[0])
        if area_lonlat is not None
        else None
    )
    density = study_density(x, y, area_m2, len(months))
    if params.method == "dbscan":
        auto, eps, ms = dbscan_scale(x, y, density, params.eps_m, params.min_samples)
        params = replace(params, eps_m=eps, min_samples=ms)
    else:
        auto, mcs, ms = hdbscan_scale(density, params.min_cluster_size, params.min_samples)
        params = replace(params, min_cluster_size=mcs, min_samples=ms)
    automatic.update(auto)
    if engine is not None:  # on a Dask cluster, partition by partition: the same labels
        from .scaleout.dbscan import dbscan_labels

        lat, lon = data["lat"].to_numpy(), data["lon"].to_numpy()
        labels, _ = dbscan_labels(
            engine, x, y, lat, lon, params.eps_m, params.min_samples, parent_res=engine.parent_res
        )
    else:
        labels = (
            DensityClusterer(
                eps_m=params.eps_m or 150.0,
                min_samples=params.min_samples,
                method=params.method,
                min_cluster_size=params.min_cluster_size,
                seed=params.seed,
                cluster_selection=params.cluster_selection,
            )
            .fit(x, y)
            .labels_
        )
    lap("clustering")
    summary = summarise_clusters(data, labels, data["harm"].to_numpy(), crs=crs)
    if params.method == "hdbscan" and not summary.empty:
        dense = dense_enough(summary["count"], summary["area_m2"], density)
        if not dense.all():
            notes.append(
                f"{int((~dense).sum())} of {len(summary)} HDBSCAN clusters are left out: less "
                f"dense than a hotspot ({density.describe()})"
            )
            summary = summary.loc[dense]
            labels = np.where(np.isin(labels, summary["cluster_id"].to_numpy()), labels, -1)
    if summary.empty:
        notes.append(no_cluster_advice(x, y, params.method, params.eps_m, params.min_samples))
        lap("cluster summary")
        return _empty(crs), None, None, params
    summary = summary.copy()
    summary["hotspot_id"] = [f"c{int(c)}" for c in summary["cluster_id"]]
    lookup = np.full(int(labels.max()) + 2, -1)
    lookup[summary["cluster_id"].to_numpy(int)] = np.arange(len(summary))
    summary.attrs["hs_of"] = lookup[labels]  # labels -1 (noise) → lookup[-1] = -1
    summary["harm_density_per_km2"] = summary["harm"] / (summary["area_m2"] / 1e6)
    summary["top_locations"] = [_named(locs) for locs in summary["top_locations"]]
    lap("cluster summary")
    return summary, None, None, params


def grid(data, params, crs, area_lonlat, months, automatic, notes, timer=None, engine=None):
    from .grid import build_grid, suggest_resolution

    lap = (timer or StageTimer()).laps()
    res = params.resolution
    if res is None:
        res, reason = suggest_resolution(data, area_lonlat=area_lonlat)
        automatic["resolution"] = {"value": res, "reason": reason}
        params = replace(params, resolution=res)
        lap("resolution")
    # monthly counts only for emerging hot spots (cells × months: 0.3 GB at 5M incidents)
    monthly = params.method == "emerging"
    grid = build_grid(data, res=res, area_lonlat=area_lonlat, months=months, monthly=monthly)
    lap("grid")  # H3 index of the points, the area's cells, counts per cell and month
    cells = grid.to_geodataframe(crs, rows=())  # polygons drawn for the hot cells only
    values = grid.harm if params.value == "harm" else grid.count
    if params.method == "hexes":
        keep = np.flatnonzero(values > 0)
    elif params.method == "gistar":
        result = _statistic("gi_star", values, grid, params, engine, fdr=params.fdr)
        for name in ("z", "p", "p_sim", "p_fdr", "gi_bin"):
            cells[f"gi_{name}" if not name.startswith("gi") else name] = getattr(result, name)
        keep = np.flatnonzero(result.gi_bin >= params.min_gi_bin)
        if params.fdr and params.permutations and not len(keep):
            floor = 2 / (params.permutations + 1)
            notes.append(
                f"with {params.permutations} permutations the smallest two-sided p is "
                f"{floor:.4f}, too coarse for the FDR correction over {len(grid.cells):,} cells; "
                "use more permutations or analytical p-values (no --permutations)"
            )
    else:
        monthly = grid.monthly_harm if params.value == "harm" else grid.monthly_count
        # ArcGIS Pro's current wording: sporadic needs a hot final time step.
        result = _statistic(
            "emerging_hotspots", monthly, grid, params, engine, sporadic_needs_final=True
        )
        cells["emerging"] = result.category
        cells["emerging_trend_z"] = result.trend_z
        cells["emerging_trend_p"] = result.trend_p
        keep = np.flatnonzero(np.isin(result.category, [f"{c} hot spot" for c in PATTERNS]))
        del result  # its cells × months z-scores (0.15 GB at 5M incidents) are not kept
    lap("statistics")  # Gi* or emerging hot spots, with the k-ring neighbours
    if params.method in ("gistar", "emerging") and len(keep):
        from .surroundings import NEIGHBOUR_CLASS, note, split_hot_cells, surroundings_table

        keep, nb, threshold = split_hot_cells(keep, values, grid.count)
        cells = _drawn(cells, grid, np.concatenate([keep, nb]), crs)
        cells["hot_class"] = ""
        cells.loc[cells.index[keep], "hot_class"] = "hot"
        cells.loc[cells.index[nb], "hot_class"] = NEIGHBOUR_CLASS
        if len(nb):
            what = "harm" if params.value == "harm" else "incidents"
            notes.append(note(len(nb), len(keep) + len(nb), threshold, what))
            stats = [c for c in cells.columns if c.startswith(("gi_", "emerging"))]
            cells.attrs["surroundings"] = surroundings_table(cells, nb, stats)
    else:
        cells = _drawn(cells, grid, keep, crs)
    lap("cell polygons")
    pos = grid.cell_index  # each incident's row in grid.cells, -1 without coordinates
    if not len(keep):
        notes.append("no cell meets the hotspot rule for this method")
        lap("hotspot table")
        return _empty(crs), cells, None, params
    hs_index = np.full(len(grid.cells) + 1, -1)
    hs_index[keep] = np.arange(len(keep))
    hs_of = hs_index[pos]  # pos -1 → hs_index[-1] = -1
    stats = [c for c in cells.columns if c.startswith(("gi_", "emerging"))]
    out = _hotspot_table(
        data,
        hs_of,
        len(keep),
        {
            "hotspot_id": grid.cells[keep].astype(str),
            "cell": grid.cells[keep].astype(str),
            **{c: cells[c].to_numpy()[keep] for c in stats},
        },
        cells.geometry.to_numpy()[keep],
        crs,
    )
    lap("hotspot table")
    return out, cells, None, params


def _drawn(cells, grid, rows: np.ndarray, crs: str):
    """``cells`` with the polygons of the cells at ``rows`` (the others stay ``None``)."""
    cells[cells.geometry.name] = gpd.array.from_shapely(grid.drawn(rows, crs), crs=cells.crs)
    return cells


def _statistic(name: str, values, grid, params, engine, **options):
    """Gi* (``gi_star``) or emerging hot spots (``emerging_hotspots``) of the grid's values
    with k-ring neighbours: here, or partition by partition on the engine's Dask cluster
    (:mod:`hotspots.scaleout`, the same result)."""
    common = {"permutations": params.permutations, "seed": params.seed, **options}
    if engine is None:
        from . import emerging, gistar

        module = gistar if name == "gi_star" else emerging
        return getattr(module, name)(values, grid.neighbours(params.k), **common)
    from .scaleout import gistar as dask_gi

    parts = engine.cell_partitions(grid.ids)
    return getattr(dask_gi, name)(engine, values, grid.ids, parts, k=params.k, **common)


def kde(data, params, crs, area_lonlat, months, automatic, notes, timer=None, engine=None):
    from .kde import density_contours, kernel_density

    lap = (timer or StageTimer()).laps()
    if len(data) < 2:
        notes.append("too few incidents for a density surface")
        return _empty(crs), None, None, params
    surface = kernel_density(
        data["x"].to_numpy(),
        data["y"].to_numpy(),
        data["harm"].to_numpy(),
        bandwidth_m=params.bandwidth_m,
        cell_m=params.cell_m,
    )
    if params.bandwidth_m is None:
        automatic["bandwidth_m"] = {
            "value": surface.bandwidth_m,
            "reason": surface.bandwidth_reason,
        }
        params = replace(params, bandwidth_m=surface.bandwidth_m)
    contours = density_contours(surface, (params.kde_top_share,), crs=crs)
    lap("density")
    parts = list(shapely.get_parts(contours.geometry.iloc[0])) if len(contours) else []
    pts = shapely.points(data["x"].to_numpy(), data["y"].to_numpy())
    hs_of = np.full(len(data), -1)
    kept = []
    for poly in parts:
        inside = shapely.covers(poly, pts) & (hs_of < 0)
        if inside.any():
            hs_of[inside] = len(kept)
            kept.append(poly)
    if not kept:
        return _empty(crs), None, surface, params
    out = _hotspot_table(
        data,
        hs_of,
        len(kept),
        {"hotspot_id": [f"k{j}" for j in range(len(kept))]},
        np.array(kept, dtype=object),
        crs,
    )
    lap("hotspot table")
    return out, None, surface, params


def _named(locations) -> list:
    """Drop police.uk's nameless snap points ("On or near " with no street) from a top list."""
    return [loc for loc in locations if str(loc[0]).strip().lower() not in ("on or near", "")]


def _hotspot_table(
    data: pd.DataFrame,
    hs_of: np.ndarray,
    n: int,
    columns: dict,
    geometry: np.ndarray,
    crs: str,
    top_n: int = 5,
) -> gpd.GeoDataFrame:
    """Counts, harm, categories and top streets per hotspot, in one pass over the incidents.

    ``hs_of`` gives each incident's hotspot (0..n-1) or -1.
    """
    inside = hs_of >= 0
    h = hs_of[inside]
    count = np.bincount(h, minlength=n)
    harm = np.bincount(h, weights=data["harm"].to_numpy()[inside], minlength=n)
    # texts tallied as codes (hotspots.codes): no Python string per incident
    cats = [dict(pairs) for pairs in tallies(h, data["category"], inside, n)]
    tops: list[list] = [[] for _ in range(n)]
    if "location" in data:
        tops = tallies(h, data["location"], inside, n, top=top_n, skip=("on or near", ""))
        tops = [[list(pair) for pair in pairs] for pairs in tops]
    out = gpd.GeoDataFrame(
        {**columns, "count": count, "harm": harm, "categories": cats, "top_locations": tops},
        geometry=geometry,
        crs=crs,
    )
    out["area_m2"] = out.geometry.area
    out["harm_density_per_km2"] = out["harm"] / (out["area_m2"] / 1e6)
    centroid = out.geometry.centroid
    out["centroid_lon"], out["centroid_lat"] = xy_to_lonlat(
        centroid.x.to_numpy(), centroid.y.to_numpy(), crs
    )
    out.attrs["hs_of"] = hs_of
    return out


def _empty(crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "hotspot_id": pd.Series(dtype=str),
            "count": pd.Series(dtype=int),
            "harm": pd.Series(dtype=float),
            "categories": pd.Series(dtype=object),
        },
        geometry=[],
        crs=crs,
    )
