"""Short routes between sites: an open path by nearest neighbour and 2-opt, on metres.

Distances are straight lines in a projected CRS (metres); a plan turns them
into travel time with a detour factor and a speed. Sites of a day of action
are few (at most a few dozen), so O(n²) passes are cheap.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def path_length(xy: np.ndarray, order, start_xy=None) -> float:
    """Length in metres of the open path through ``xy[order]`` (from ``start_xy`` if given)."""
    pts = xy[list(order)]
    if start_xy is not None and len(pts):
        pts = np.vstack([np.asarray(start_xy, float)[None, :], pts])
    if len(pts) < 2:
        return 0.0
    return float(np.hypot(*np.diff(pts, axis=0).T).sum())


def _two_opt(path: list[int], d: np.ndarray, fixed_first: bool) -> list[int]:
    n = len(path)
    improved = True
    while improved:
        improved = False
        for i in range(1 if fixed_first else 0, n - 1):
            for j in range(i + 1, n):
                a, b = path[i - 1] if i > 0 else None, path[i]
                c, e = path[j], path[j + 1] if j + 1 < n else None
                before = (d[a, b] if a is not None else 0.0) + (d[c, e] if e is not None else 0.0)
                after = (d[a, c] if a is not None else 0.0) + (d[b, e] if e is not None else 0.0)
                if after < before - 1e-9:
                    path[i : j + 1] = path[i : j + 1][::-1]
                    improved = True
    return path


def _nearest_neighbour(first: int, d: np.ndarray) -> list[int]:
    n = len(d)
    path, left = [first], set(range(n)) - {first}
    while left:
        here = path[-1]
        nxt = min(left, key=lambda j: (d[here, j], j))
        path.append(nxt)
        left.remove(nxt)
    return path


def visiting_order(
    x_m: np.ndarray, y_m: np.ndarray, start_xy: tuple[float, float] | None = None
) -> tuple[list[int], float]:
    """A short open path through the points: nearest neighbour from each start, then 2-opt.

    The given order is tried too, so the result is never longer than it.

    Parameters
    ----------
    x_m, y_m : projected coordinates in metres.
    start_xy : where officers set off (metres); ``None`` = at the first site.

    Returns
    -------
    (order, distance_m) : indices into the points, and the path's length.

    Examples
    --------
    >>> order, d = visiting_order(np.array([0.0, 200.0, 100.0]), np.zeros(3))
    >>> order, d
    ([0, 2, 1], 200.0)
    """
    xy = np.column_stack([np.asarray(x_m, float), np.asarray(y_m, float)])
    n = len(xy)
    if n == 0:
        return [], 0.0
    pts = np.vstack([np.asarray(start_xy, float)[None, :], xy]) if start_xy is not None else xy
    d = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    off = 1 if start_xy is not None else 0
    given = list(range(len(pts)))
    tries = [given]
    firsts = [0] if start_xy is not None else range(min(n, 12))
    tries += [_nearest_neighbour(f, d) for f in firsts]
    best, best_len = given, math.inf
    for path in tries:
        path = _two_opt(list(path), d, fixed_first=start_xy is not None)
        length = float(sum(d[a, b] for a, b in itertools.pairwise(path)))
        if length < best_len - 1e-9:
            best, best_len = path, length
    order = [p - off for p in best if p >= off]
    return order, best_len


def insertion_cost(xy: np.ndarray, route: list[int], new: int, start_xy) -> tuple[float, int]:
    """Extra metres to insert ``new`` into the open path ``route``, and where (list position)."""
    p = xy[new]
    fixed = start_xy is not None
    stops = ([np.asarray(start_xy, float)] if fixed else []) + [xy[i] for i in route]
    if not stops:
        return 0.0, 0
    nodes = np.array(stops)
    dist = np.hypot(*(nodes - p).T)
    best, where = float(dist[-1]), len(route)  # append at the end
    if not fixed and dist[0] < best:
        best, where = float(dist[0]), 0  # or in front
    if len(nodes) > 1:
        seg = np.hypot(*np.diff(nodes, axis=0).T)
        extra = dist[:-1] + dist[1:] - seg
        j = int(np.argmin(extra))
        if extra[j] < best:
            best, where = float(extra[j]), j + (0 if fixed else 1)
    return best, where


__all__ = ["insertion_cost", "path_length", "visiting_order"]
