"""Exact minimum spanning tree of the mutual-reachability graph of 2-D points.

HDBSCAN's hierarchy is the single-linkage tree of the *mutual-reachability
distance* ``mrd(a, b) = max(core[a], core[b], |ab|)``. scikit-learn builds its
minimum spanning tree with Prim's algorithm over the complete graph (O(n²)
distances: ~86 s at 100k points on the reference machine). This module builds
the same tree with Borůvka's algorithm over a k-d tree, compiled with numba:

- every round, each point searches the tree for its cheapest edge to a point
  of another component; a subtree is skipped when all its points are in the
  searcher's component, or when ``max(core[a], min core in the subtree,
  distance to the subtree's box)`` exceeds the best edge known for the
  searcher's component;
- each component keeps its cheapest edge; the edges are joined and the next
  round starts, so there are at most ⌈log₂ n⌉ rounds.

Ties are broken by one strict total order on edges (weight, then the smaller
and the larger point index), so the tree is a true minimum spanning tree and
the same one on every run, whatever the thread timing. Distances are computed
as ``sqrt(dx*dx + dy*dy)`` in float64, as scikit-learn's ``DistanceMetric``.
"""

from __future__ import annotations

import numba
import numpy as np

#: Points per k-d tree leaf.
LEAF_SIZE = 16
_STACK = 128  # deepest search stack: 2 × tree depth is < 80 for 2**40 points


@numba.njit(cache=True)
def _build_tree(x, y, leaf):
    """k-d tree by median splits of the wider side: ``(order, start, end, left)``."""
    n = len(x)
    order = np.arange(n)
    cap = 4 * (n // max(leaf // 2, 1)) + 8
    start = np.empty(cap, np.int64)
    end = np.empty(cap, np.int64)
    left = np.full(cap, -1, np.int64)
    start[0], end[0] = 0, n
    count, i = 1, 0
    while i < count:
        s, e = start[i], end[i]
        if e - s > leaf:
            seg = order[s:e]
            xs, ys = x[seg], y[seg]
            if xs.max() - xs.min() >= ys.max() - ys.min():
                order[s:e] = seg[np.argsort(xs, kind="mergesort")]
            else:
                order[s:e] = seg[np.argsort(ys, kind="mergesort")]
            mid = (s + e) // 2
            left[i] = count
            start[count], end[count] = s, mid
            start[count + 1], end[count + 1] = mid, e
            count += 2
        i += 1
    return order, start[:count], end[:count], left[:count]


@numba.njit(cache=True)
def _node_bounds(px, py, pc, start, end, left):
    """Bounding box and smallest core distance of every node (children after parents)."""
    m = len(start)
    xmin, xmax = np.empty(m), np.empty(m)
    ymin, ymax = np.empty(m), np.empty(m)
    cmin = np.empty(m)
    for k in range(m - 1, -1, -1):
        if left[k] < 0:
            s, e = start[k], end[k]
            xmin[k], xmax[k] = px[s:e].min(), px[s:e].max()
            ymin[k], ymax[k] = py[s:e].min(), py[s:e].max()
            cmin[k] = pc[s:e].min()
        else:
            a, b = left[k], left[k] + 1
            xmin[k], xmax[k] = min(xmin[a], xmin[b]), max(xmax[a], xmax[b])
            ymin[k], ymax[k] = min(ymin[a], ymin[b]), max(ymax[a], ymax[b])
            cmin[k] = min(cmin[a], cmin[b])
    return xmin, xmax, ymin, ymax, cmin


@numba.njit(cache=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


@numba.njit(cache=True)
def _before(w1, a1, b1, w2, a2, b2):
    """Whether edge 1 comes before edge 2: by weight, then smaller, then larger index."""
    lo1, hi1 = min(a1, b1), max(a1, b1)
    lo2, hi2 = min(a2, b2), max(a2, b2)
    if w1 != w2:
        return w1 < w2
    if lo1 != lo2:
        return lo1 < lo2
    return hi1 < hi2


@numba.njit(cache=True)
def _node_components(comp, start, end, left):
    """Component shared by all points of each node, or -1."""
    m = len(start)
    out = np.empty(m, np.int64)
    for k in range(m - 1, -1, -1):
        if left[k] < 0:
            c = comp[start[k]]
            for j in range(start[k] + 1, end[k]):
                if comp[j] != c:
                    c = -1
                    break
            out[k] = c
        else:
            a, b = out[left[k]], out[left[k] + 1]
            out[k] = a if a == b else -1
    return out


@numba.njit(cache=True)
def _gap2(xa, ya, xmin, xmax, ymin, ymax, k):
    gx = max(xmin[k] - xa, xa - xmax[k], 0.0)
    gy = max(ymin[k] - ya, ya - ymax[k], 0.0)
    return gx * gx + gy * gy


@numba.njit(parallel=True, cache=True)
def _cheapest_edges(px, py, pc, comp, node_comp, start, end, left, box, bound):
    """For every point, its cheapest edge to another component: ``(weight, other)``."""
    n = len(px)
    xmin, xmax, ymin, ymax, cmin = box
    best_w = np.full(n, np.inf)
    best_j = np.full(n, -1, np.int64)
    for a in numba.prange(n):
        c = comp[a]
        ca = pc[a]
        if ca > bound[c]:
            continue
        xa, ya = px[a], py[a]
        bw, bj = np.inf, np.int64(-1)
        stack = np.empty(_STACK, np.int64)
        stack[0] = 0
        top = 1
        while top:
            top -= 1
            k = stack[top]
            if node_comp[k] == c:
                continue
            gx = max(xmin[k] - xa, xa - xmax[k], 0.0)
            gy = max(ymin[k] - ya, ya - ymax[k], 0.0)
            lb = max(np.sqrt(gx * gx + gy * gy), ca, cmin[k])
            if lb > bw or lb > bound[c]:
                continue
            if left[k] < 0:
                for j in range(start[k], end[k]):
                    if comp[j] == c:
                        continue
                    dx, dy = xa - px[j], ya - py[j]
                    w = max(np.sqrt(dx * dx + dy * dy), ca, pc[j])
                    if bj < 0 or _before(w, a, j, bw, a, bj):
                        bw, bj = w, j
                if bw < bound[c]:
                    bound[c] = bw  # racy but only ever a real edge: a valid upper bound
            else:
                near, far = left[k], left[k] + 1
                if _gap2(xa, ya, xmin, xmax, ymin, ymax, far) < _gap2(
                    xa, ya, xmin, xmax, ymin, ymax, near
                ):  # visit the nearer child first
                    near, far = far, near
                stack[top] = far
                stack[top + 1] = near
                top += 2
        best_w[a], best_j[a] = bw, bj
    return best_w, best_j


@numba.njit(cache=True)
def _boruvka(px, py, pc, start, end, left, box):
    n = len(px)
    parent = np.arange(n)
    ea = np.empty(max(n - 1, 0), np.int64)
    eb = np.empty(max(n - 1, 0), np.int64)
    ew = np.empty(max(n - 1, 0))
    n_edges = 0
    comp = np.arange(n)
    while n_edges < n - 1:
        for i in range(n):
            comp[i] = _find(parent, i)
        node_comp = _node_components(comp, start, end, left)
        bound = np.full(n, np.inf)
        best_w, best_j = _cheapest_edges(px, py, pc, comp, node_comp, start, end, left, box, bound)
        cw = np.full(n, np.inf)
        ca = np.full(n, -1, np.int64)
        cb = np.full(n, -1, np.int64)
        for a in range(n):
            j = best_j[a]
            if j < 0:
                continue
            c = comp[a]
            if ca[c] < 0 or _before(best_w[a], a, j, cw[c], ca[c], cb[c]):
                cw[c], ca[c], cb[c] = best_w[a], a, j
        added = 0
        for c in range(n):
            if ca[c] < 0:
                continue
            ra, rb = _find(parent, ca[c]), _find(parent, cb[c])
            if ra == rb:
                continue
            parent[max(ra, rb)] = min(ra, rb)
            ea[n_edges], eb[n_edges], ew[n_edges] = ca[c], cb[c], cw[c]
            n_edges += 1
            added += 1
        if added == 0:  # cannot happen with finite coordinates
            break
    return ea[:n_edges], eb[:n_edges], ew[:n_edges]


def mutual_reachability_mst(x, y, core) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum spanning tree of the mutual-reachability graph of distinct points.

    Parameters
    ----------
    x, y : array_like
        Coordinates in metres (float64), no two points equal.
    core : array_like
        Core distance of each point (``>= 0``).

    Returns
    -------
    (a, b, weight) : tuple of numpy.ndarray
        The ``n - 1`` edges as point indices and their mutual-reachability
        distances ``max(core[a], core[b], |ab|)``, in the order found.

    Examples
    --------
    >>> a, b, w = mutual_reachability_mst([0.0, 1.0, 5.0], [0.0, 0.0, 0.0], [1.0, 1.0, 4.0])
    >>> sorted(w.tolist())
    [1.0, 4.0]
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    core = np.ascontiguousarray(core, dtype=np.float64)
    if len(x) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    order, start, end, left = _build_tree(x, y, LEAF_SIZE)
    px, py, pc = x[order], y[order], core[order]
    box = _node_bounds(px, py, pc, start, end, left)
    a, b, w = _boruvka(px, py, pc, start, end, left, box)
    return order[a], order[b], w
