"""DBSCAN on a Dask cluster: the labels of :func:`hotspots.dbscan.dbscan_labels`.

Each partition (the points of one H3 parent cell) is clustered by the
single-machine kernel together with a *halo*: every point of the other
partitions inside the partition's bounding box grown by ``2·eps``.

- A point within ``eps`` of the box (the partition's own points and the inner
  halo) has its whole ``eps``-neighbourhood, and the neighbourhoods of all its
  neighbours, inside the grown box. So its core flag is exact, and every
  core–core pair with one end in the partition is seen with both ends core.
- A point of the outer halo may miss neighbours: it can only be taken for
  non-core, never for core (a subset never weighs more), so no false link is made.

Each partition reports, for the core points of its inner area, their global id
and local cluster. A core point seen by several partitions links their local
clusters; the connected components of those links (``scipy.sparse.csgraph``) are
the global clusters, numbered as the single-machine run numbers them (by their
first core point in the input order, scikit-learn's order). A border point joins
the lowest-numbered cluster with a core point within ``eps`` (also scikit-learn's
rule): each partition lists, for its own border points, the local clusters in
reach, and the lowest global number is taken after the merge.

Result: the same core points, the same clusters with the same numbers and the same
border assignment as one machine, whatever the partitioning (tested with parent
resolutions 4, 5 and 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..dbscan import check_scale
from ..dbscan import dbscan_labels as kernel


@dataclass(frozen=True)
class Part:
    """The points of one partition: coordinates (metres), weights and global ids."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    gid: np.ndarray

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (float(self.x.min()), float(self.y.min()), float(self.x.max()), float(self.y.max()))

    def within(self, box: tuple[float, float, float, float]) -> Part:
        keep = (self.x >= box[0]) & (self.x <= box[2]) & (self.y >= box[1]) & (self.y <= box[3])
        return Part(self.x[keep], self.y[keep], self.w[keep], self.gid[keep])


def grow(box, by: float) -> tuple[float, float, float, float]:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def local_clusters(own: Part, halo: list[Part], eps: float, min_samples: int) -> dict:
    """One partition's work (runs on a worker).

    Returns the own points' core flags, the (global id, local cluster) of every core
    point of the inner area, and for each own border point the local clusters within
    ``eps`` (CSR: ``reach_ptr``, ``reach``)."""
    box = own.bbox
    outer = grow(box, 2.0 * eps)
    parts = [own, *(h.within(outer) for h in halo)]
    x = np.concatenate([p.x for p in parts])
    y = np.concatenate([p.y for p in parts])
    w = np.concatenate([p.w for p in parts])
    gid = np.concatenate([p.gid for p in parts])
    labels, core = kernel(x, y, eps, min_samples, w)
    n_own = own.x.size
    inner_box = grow(box, eps)
    inner = (x >= inner_box[0]) & (x <= inner_box[2]) & (y >= inner_box[1]) & (y <= inner_box[3])
    link = np.flatnonzero(inner & core)
    border = np.flatnonzero(~core[:n_own])
    reach_ptr = np.zeros(border.size + 1, np.int64)
    reach = np.empty(0, np.int64)
    if border.size and link.size:
        tree = cKDTree(np.c_[x[link], y[link]])
        # a hair wider than eps, then the kernel's own test: dx² + dy² <= eps²
        found = tree.query_ball_point(np.c_[x[border], y[border]], eps * (1 + 1e-9))
        lists = []
        for b, cand in zip(border, found):
            cand = np.asarray(cand, np.int64)
            j = link[cand]
            near = (x[j] - x[b]) ** 2 + (y[j] - y[b]) ** 2 <= eps * eps
            lists.append(np.unique(labels[j[near]]))
        sizes = np.fromiter(map(len, lists), np.int64, count=len(lists))
        reach_ptr[1:] = np.cumsum(sizes)
        reach = np.concatenate(lists) if lists else reach
    return {
        "gid": own.gid,
        "core": core[:n_own],
        "labels": labels[:n_own],
        "link_gid": gid[link],
        "link_label": labels[link],
        "border": border,
        "reach_ptr": reach_ptr,
        "reach": reach,
        "n_local": int(labels.max()) + 1 if labels.size else 0,
    }


def neighbours_of(boxes: list[tuple], reach: float) -> list[list[int]]:
    """For each box, the other boxes within ``reach`` of it (boxes intersecting it grown)."""
    b = np.array(boxes, float).reshape(-1, 4)
    out = []
    for i in range(len(b)):
        g = grow(b[i], reach)
        hit = (b[:, 0] <= g[2]) & (b[:, 2] >= g[0]) & (b[:, 1] <= g[3]) & (b[:, 3] >= g[1])
        hit[i] = False
        out.append(np.flatnonzero(hit).tolist())
    return out


def merge(results: list[dict], own_gids: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Global ``(labels, core)`` for ``n`` points from every partition's result (in order)."""
    offsets = np.cumsum([0] + [r["n_local"] for r in results])
    nodes = int(offsets[-1])
    link_gid = np.concatenate([r["link_gid"] for r in results]) if results else np.empty(0)
    link_node = (
        np.concatenate([r["link_label"] + offsets[i] for i, r in enumerate(results)])
        if results
        else np.empty(0, np.int64)
    )
    order = np.argsort(link_gid, kind="stable")
    g, nd = link_gid[order], link_node[order]
    same = np.flatnonzero(g[1:] == g[:-1])
    graph = coo_array((np.ones(same.size), (nd[same], nd[same + 1])), shape=(nodes, nodes))
    _, comp = connected_components(graph, directed=False) if nodes else (0, np.empty(0, int))
    core = np.zeros(n, bool)
    comp_of = np.full(n, -1, np.int64)
    for i, (r, gids) in enumerate(zip(results, own_gids)):
        c = r["core"]
        core[gids[c]] = True
        comp_of[gids[c]] = comp[r["labels"][c] + offsets[i]]
    # number clusters by their first core point in the input order (scikit-learn's)
    first = np.full(comp.max() + 1 if comp.size else 0, n, np.int64)
    np.minimum.at(first, comp_of[core], np.flatnonzero(core))
    used = np.flatnonzero(first < n)
    number = np.full(first.size, -1, np.int64)
    number[used[np.argsort(first[used], kind="stable")]] = np.arange(used.size)
    labels = np.full(n, -1, np.int64)
    labels[core] = number[comp_of[core]]
    for i, (r, gids) in enumerate(zip(results, own_gids)):
        ptr, reach = r["reach_ptr"], r["reach"]
        if not reach.size:
            continue
        glob = number[comp[reach + offsets[i]]]
        has = np.diff(ptr) > 0
        lowest = np.minimum.reduceat(glob, ptr[:-1][has]) if has.any() else glob[:0]
        labels[gids[r["border"][has]]] = lowest
    return labels, core


def dbscan_labels(engine, x, y, lat, lon, eps_m, min_samples, weight=None, parent_res=5):
    """:func:`hotspots.dbscan.dbscan_labels` on the engine: ``(labels, core)`` per point,
    the points partitioned by their H3 parent cell at ``parent_res`` (from lat/lon)."""
    from .partition import group, point_parents

    eps, min_samples = check_scale(eps_m, min_samples)
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = x.size
    w = np.ones(n) if weight is None else np.asarray(weight, float)
    ok = np.isfinite(x) & np.isfinite(y)
    parents = np.where(ok, point_parents(lat, lon, parent_res), -1)
    # a point with x/y but no lon/lat still needs a partition: the lowest parent id
    parents[ok & (parents < 0)] = parents[ok].max() if (parents >= 0).any() else 0
    groups = group(parents)
    if not len(groups):
        return np.full(n, -1, np.int64), np.zeros(n, bool)
    rows = [groups.rows(g) for g in range(len(groups))]
    held = [engine.hold(Part(x[r], y[r], w[r], r)) for r in rows]
    boxes = [(x[r].min(), y[r].min(), x[r].max(), y[r].max()) for r in rows]
    return _cluster(engine, held, boxes, n, eps, min_samples)


def _cluster(engine, held: list, boxes: list, n: int, eps: float, min_samples: int):
    near = neighbours_of(boxes, 2.0 * eps)
    results = engine.map(
        local_clusters,
        [(held[i], [held[j] for j in near[i]], eps, min_samples) for i in range(len(held))],
        "DBSCAN per partition",
    )
    return merge(results, [r["gid"] for r in results], n)


def _read_part(folder: str, parent: str) -> Part:
    """One parent cell of a partitioned export (every month), on a worker."""
    from geodata.partitioned import read_partition

    t = read_partition(folder, parent, ["x", "y", "row"])
    x, y = t["x"].to_numpy(zero_copy_only=False), t["y"].to_numpy(zero_copy_only=False)
    ok = np.isfinite(x) & np.isfinite(y)
    row = t["row"].to_numpy(zero_copy_only=False)[ok]
    return Part(x[ok], y[ok], np.ones(int(ok.sum())), row)


def _extent(part: Part) -> tuple:
    return (*part.bbox, int(part.gid.max()) + 1 if part.gid.size else 0)


def dbscan_dataset(engine, folder, eps_m, min_samples) -> tuple[np.ndarray, np.ndarray]:
    """DBSCAN of a partitioned GeoParquet export (:mod:`geodata.partitioned`) read on the
    workers, one parent cell per task: ``(labels, core)`` by the export's ``row`` (the
    store's id order), the labels a single run over those rows gives. The driver never
    holds the incidents, only a label per row."""
    from geodata.partitioned import parents_of

    eps, min_samples = check_scale(eps_m, min_samples)
    parents = [p for p in parents_of(folder) if p != "none"]
    held = [engine.load(_read_part, str(folder), p) for p in parents]
    extents = engine.map(_extent, [(h,) for h in held], "partition extents")
    n = max((e[4] for e in extents), default=0)
    return _cluster(engine, held, [e[:4] for e in extents], n, eps, min_samples)
