"""Gi* benchmark: ``hotspots.gistar.gi_star`` against ``esda.G_Local`` on ~100k H3 cells.

Data: every H3 resolution-10 cell (edge ≈ 76 m) whose centre lies in a
39 × 39 km square centred on Gravesend (≈ 114k cells), first-ring
neighbours plus self. Counts per cell are Poisson with a background of 0.2
and 60 Gaussian clusters (σ 150–600 m, peaks 1–8 incidents per cell), seed
``SEED``: sparse and tied like real crime counts.

Peer at its best: ``esda.G_Local(y, w, transform="B", star=True,
permutations=999)`` with its other defaults (``n_jobs=-1`` on both cores,
``keep_simulations=True``); ``transform="B"`` so both compute the same
binary Gi*. numba is not installed and, per BENCHMARKS.md, does not help
here. Each run is in a fresh process, ours and esda alternated (order reversed each
round); the time covers the Gi* call only
(the grid and the ``libpysal.W`` are built first). Memory: the peak RSS of
the process tree during the call (sampled every 50 ms from /proc, so
esda's joblib workers count), with the RSS just before the call.

Agreement: max |Δz| (analytical, must be ~1e-12); p_sim compared like for
like — our permutation counts folded with esda's own convention — as the
mean |Δp| next to the mean |Δp| expected from Monte Carlo error alone
(two independent estimates, ``√(2/π) √(2 p (1 − p) / P)``), and the share of
cells whose 95 % class (two-sided ``2 p_sim < 0.05``, sign of z)
differs. Also the tie artefact our ``p_sim`` avoids: esda's fold counts
ties on the upper side only, so a cell whose neighbours sum to 0 — the
lowest possible value, which many draws equal among empty cells — gets
esda's smallest p_sim, ``1/(P+1)``.

Run: ``python -m benchmarks.bench_gistar [--repeat 3] [--esda-repeat 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20240501
PERMUTATIONS = 999
CENTRE = (51.4415, 0.3700)  # Gravesend station (lat, lon)
SIDE_KM = 39.0
RES = 10


def synthetic_grid() -> tuple[np.ndarray, object, dict]:
    """Counts per cell and the k=1 adjacency (self included) of the benchmark grid."""
    import h3
    import shapely

    from hotspots.grid import Grid, cells_for_area

    lat0, lon0 = CENTRE
    dlat = SIDE_KM / 2 / 111.2
    dlon = SIDE_KM / 2 / (111.2 * np.cos(np.radians(lat0)))
    cells = cells_for_area(shapely.box(lon0 - dlon, lat0 - dlat, lon0 + dlon, lat0 + dlat), RES)
    n = cells.size
    empty = np.zeros((n, 0))
    grid = Grid(RES, cells, np.zeros(n), np.zeros(n), [], empty, empty, np.empty(0, "<U15"))
    W = grid.neighbours(1)
    centres = np.array([h3.cell_to_latlng(str(c)) for c in cells])
    ky, kx = 111_200.0, 111_200.0 * np.cos(np.radians(lat0))
    y_m, x_m = (centres[:, 0] - lat0) * ky, (centres[:, 1] - lon0) * kx
    rng = np.random.default_rng(SEED)
    rate = np.full(n, 0.2)
    for _ in range(60):
        cx, cy = rng.uniform(-SIDE_KM * 450, SIDE_KM * 450, 2)
        sigma, peak = rng.uniform(150, 600), rng.uniform(1, 8)
        rate += peak * np.exp(-((x_m - cx) ** 2 + (y_m - cy) ** 2) / (2 * sigma**2))
    counts = rng.poisson(rate).astype(float)
    info = {"cells": n, "incidents": int(counts.sum()), "empty_share": float(np.mean(counts == 0))}
    return counts, W, info


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc), MB."""
    total_kb, stack = 0, [pid]
    while stack:
        proc = Path("/proc") / str(stack.pop())
        try:
            status = (proc / "status").read_text()
            tasks = list((proc / "task").iterdir())
        except OSError:
            continue
        total_kb += next(
            (int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0
        )
        for task in tasks:
            with contextlib.suppress(OSError):
                stack += [int(c) for c in (task / "children").read_text().split()]
    return total_kb / 1024


class _PeakRSS(threading.Thread):
    """Samples the RSS of this process tree every 50 ms (esda's joblib workers included)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = self.before = _tree_rss_mb(os.getpid())
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.05):
            self.peak = max(self.peak, _tree_rss_mb(os.getpid()))

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, _tree_rss_mb(os.getpid()))
        return self.peak


def worker(kind: str, out: str) -> dict:
    """One timed Gi* run with 999 permutations in this process."""
    counts, W, info = synthetic_grid()
    saved: dict[str, Any] = {}
    if kind == "ours":
        from hotspots.gistar import gi_star, permutation_counts

        sampler = _PeakRSS()
        sampler.start()
        t0 = time.perf_counter()
        result = gi_star(counts, W, permutations=PERMUTATIONS, seed=SEED)
        seconds = time.perf_counter() - t0
        sampler.stop()
        n_ge, n_le = permutation_counts(counts, W, PERMUTATIONS, SEED)  # not timed
        saved = {"z": result.z, "p_sim": result.p_sim, "n_ge": n_ge, "n_le": n_le}
    else:
        import esda
        import libpysal

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = libpysal.weights.W.from_WSP(libpysal.weights.WSP(W), silence_warnings=True)
            sampler = _PeakRSS()
            sampler.start()
            t0 = time.perf_counter()
            lg = esda.G_Local(
                counts, w, transform="B", star=True, permutations=PERMUTATIONS, seed=SEED
            )
            seconds = time.perf_counter() - t0
            sampler.stop()
        saved = {"z": lg.Zs, "p_sim": np.asarray(lg.p_sim, dtype=float)}
    saved["counts"] = counts
    np.savez(out, **saved)
    return {
        "kind": kind,
        "seconds": seconds,
        "peak_mb": sampler.peak,
        "before_mb": sampler.before,
        **info,
    }


def _run(kind: str, i: int, folder: Path) -> dict:
    out = folder / f"{kind}{i}.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_gistar", "--worker", kind, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]) | {"file": str(out)}


def _alternated(repeat: int, esda_repeat: int, folder: Path) -> tuple[list[dict], list[dict]]:
    """Ours and esda in fresh processes, alternated with the order reversed each round."""
    runs: dict[str, list[dict]] = {"ours": [], "esda": []}
    for i in range(max(repeat, esda_repeat)):
        kinds = ["ours", "esda"] if i % 2 == 0 else ["esda", "ours"]
        for kind in kinds:
            if len(runs[kind]) < (repeat if kind == "ours" else esda_repeat):
                runs[kind].append(_run(kind, i, folder))
    return runs["ours"], runs["esda"]


def _fmt(runs: list[dict]) -> str:
    s = [r["seconds"] for r in runs]
    return f"{statistics.median(s):.2f} s ({min(s):.2f}–{max(s):.2f}, {len(s)} runs)"


def _class95(p_sim: np.ndarray, upper: np.ndarray) -> np.ndarray:
    return np.where(2 * p_sim < 0.05, np.where(upper, 1, -1), 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours")
    parser.add_argument("--esda-repeat", type=int, default=3, help="runs of esda (~20 s each)")
    parser.add_argument("--worker", choices=("ours", "esda"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.out)))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        ours, peer = _alternated(args.repeat, args.esda_repeat, Path(tmp))
        a, b = np.load(ours[0]["file"]), np.load(peer[0]["file"])
        info = ours[0]
        P = PERMUTATIONS
        t_ours = statistics.median(r["seconds"] for r in ours)
        t_peer = statistics.median(r["seconds"] for r in peer)
        # our counts folded as esda folds them ("directed"): like for like
        larger = a["n_ge"].copy()
        fold = (P - larger) < larger
        larger[fold] = P - larger[fold]
        p_like = (larger + 1.0) / (P + 1.0)
        upper = b["z"] >= 0  # same z in both: classes differ only through p_sim
        diff = np.abs(p_like - b["p_sim"])
        expected = np.mean(np.sqrt(2 / np.pi) * np.sqrt(2 * p_like * (1 - p_like) / P))
        cls_like, cls_e = _class95(p_like, upper), _class95(b["p_sim"], upper)
        print(
            f"data: {info['cells']:,} H3 res-{RES} cells, {SIDE_KM:g}×{SIDE_KM:g} km round "
            f"Gravesend, k=1 + self, {info['incidents']:,} synthetic incidents "
            f"({info['empty_share']:.0%} empty cells), seed {SEED}, {P} permutations"
        )
        print(
            f"time: gi_star {_fmt(ours)} | esda.G_Local(star=True, transform='B') {_fmt(peer)}"
            f" | ratio {t_peer / t_ours:.1f}×"
        )
        print(
            "peak RSS of the process tree during the call (fresh process): gi_star "
            f"{max(r['peak_mb'] for r in ours):,.0f} MB (before {ours[0]['before_mb']:,.0f} MB) | "
            f"esda {max(r['peak_mb'] for r in peer):,.0f} MB (before {peer[0]['before_mb']:,.0f} MB"
            "; 2 joblib workers, keep_simulations=True holds cells × 999 float64)"
        )
        print(f"z: max |z_ours − z_esda| = {np.max(np.abs(a['z'] - b['z'])):.2e}")
        print(
            f"p_sim (esda's 'directed' fold on both): mean |Δp| = {diff.mean():.4f} "
            f"(Monte Carlo expectation {expected:.4f}), max {diff.max():.3f}; "
            f"95 % class differs in {np.mean(cls_like != cls_e):.2%} of cells"
        )
        tied = a["n_ge"] + a["n_le"] > P  # some draw equals the observed sum
        sig_e, sig_ours = b["p_sim"] <= 0.05, a["p_sim"] <= 0.05
        print(
            f"ties: p_sim ≤ 0.05 in {sig_e.sum():,} cells by esda, {np.sum(p_like <= 0.05):,} by "
            f"our counts folded as esda, {sig_ours.sum():,} by gi_star (ties on both sides); "
            f"{np.sum(sig_e & ~sig_ours & tied):,} esda-significant cells have draws tied with the "
            f"observed sum (e.g. 0 among zeros: esda p = {1 / (P + 1):.3f}) and are not by gi_star"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
