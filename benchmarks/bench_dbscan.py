"""DBSCAN benchmark: our exact grid DBSCAN against scikit-learn's, same data, same run.

Scenarios (``benchmarks.synthetic``, seed 0, eps 150 m, min_samples 10):

- 100k incidents on the 30 × 30 km square round Gravesend, with every
  incident at its own point and the police.uk-like snapped variant: ours
  against ``sklearn.cluster.DBSCAN(eps=150, min_samples=10, n_jobs=-1)`` with
  the faster of its ``kd_tree`` / ``ball_tree`` algorithms for the data
  (chosen by one trial run of each; ``brute`` computes all n² distances and
  is left out). Labels are compared: core points that differ (must be 0),
  whether the partition of core points is identical, and whether every label
  is identical.
- ours alone at 1M and 5M incidents with the density of 100k (the square's
  side grows by √(N/100k)), and the fixed-square 1M stress test (every point
  core, one cluster; not a realistic workload).

Every run is a fresh process that loads the points from a ``.npy`` file and
warms the method up on 2,000 of them (imports, thread pools); "extra peak" is
the process's peak RSS during the timed fit minus its RSS before it (peak
reset through ``/proc/self/clear_refs`` where Linux allows).
Times are the median of ``--repeat`` runs (min–max shown); at 100k ours and
scikit-learn are alternated, the order reversed each round.

Run: ``python -m benchmarks.bench_dbscan`` (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.fresh import alternate, reset_peak, rss_mb

ROOT = Path(__file__).resolve().parents[1]
EPS_M = 150.0
MIN_SAMPLES = 10
SEED = 0


# ------------------------------------------------------------------ child process


def one(kind: str, data: Path, out: Path) -> dict:
    """One timed fit in this (fresh) process; labels and core mask saved to ``out``."""
    if kind == "ours":
        from hotspots.clusters import DensityClusterer
    else:
        from sklearn.cluster import DBSCAN
    xy = np.load(data)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    # Warm up both on 2,000 points (lazy imports, thread pools), as in a long-lived process.
    if kind == "ours":
        DensityClusterer(eps_m=EPS_M, min_samples=MIN_SAMPLES).fit(x[:2000], y[:2000])
    else:
        DBSCAN(eps=EPS_M, min_samples=MIN_SAMPLES, n_jobs=-1).fit(xy[:2000])
    rss0 = rss_mb("VmRSS")
    reset = reset_peak()
    t0 = time.perf_counter()
    if kind == "ours":
        model = DensityClusterer(eps_m=EPS_M, min_samples=MIN_SAMPLES).fit(x, y)
        labels, core = model.labels_, model.core_sample_mask_
    else:
        algorithm = kind.split(":", 1)[1]
        sk = DBSCAN(eps=EPS_M, min_samples=MIN_SAMPLES, n_jobs=-1, algorithm=algorithm).fit(xy)
        labels = sk.labels_
        core = np.zeros(len(labels), dtype=bool)
        core[sk.core_sample_indices_] = True
    seconds = time.perf_counter() - t0
    peak = rss_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.savez(out, labels=labels, core=core)
    return {"seconds": seconds, "extra_mb": peak - rss0, "clusters": int(labels.max()) + 1}


# ------------------------------------------------------------------ parent process


def _run(kind: str, data: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_dbscan", "--one", kind, str(data), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(kind: str, data: Path, out: Path, repeat: int) -> dict:
    return _summary(kind, [_run(kind, data, out) for _ in range(repeat)])


def measure_pair(a: str, b: str, data: Path, tmp: Path, repeat: int) -> tuple[dict, dict]:
    """Both kinds alternated in fresh processes (a, b, b, a, ...); labels in ours/peer.npz."""
    outs = {a: tmp / "ours.npz", b: tmp / "peer.npz"}
    runs = alternate([a, b], lambda kind, _i: _run(kind, data, outs[kind]), repeat)
    return _summary(a, runs[a]), _summary(b, runs[b])


def _summary(kind: str, runs: list[dict]) -> dict:
    secs = [r["seconds"] for r in runs]
    return {
        "kind": kind,
        "median": statistics.median(secs),
        "min": min(secs),
        "max": max(secs),
        "extra_mb": max(r["extra_mb"] for r in runs),
        "clusters": runs[-1]["clusters"],
    }


def mean_neighbours(x: np.ndarray, y: np.ndarray, sample: int = 20_000) -> tuple[float, str]:
    """Mean number of points within eps (itself included), exact or on a stride sample."""
    from scipy.spatial import cKDTree

    tree = cKDTree(np.c_[x, y])
    step = max(1, len(x) // sample) if len(x) > 200_000 else 1
    q = np.c_[x[::step], y[::step]]
    counts = tree.query_ball_point(q, EPS_M, return_length=True, workers=-1)
    how = "all points" if step == 1 else f"{len(q):,}-point sample"
    return float(np.mean(counts)), how


def compare(ours: Path, peer: Path) -> tuple[int, bool, bool]:
    """Core points that differ, whether the core partition is identical, labels identical."""
    a, b = np.load(ours), np.load(peer)
    core_diff = int(np.sum(a["core"] != b["core"]))
    core = a["core"] & b["core"]
    pairs = np.unique(np.c_[a["labels"][core], b["labels"][core]], axis=0)
    same_partition = (
        core_diff == 0
        and len(np.unique(pairs[:, 0])) == len(pairs)
        and len(np.unique(pairs[:, 1])) == len(pairs)
    )
    return core_diff, same_partition, bool(np.array_equal(a["labels"], b["labels"]))


def _fmt(m: dict) -> str:
    return f"{m['median']:.3f} s ({m['min']:.3f}–{m['max']:.3f})"


def _scenario(n: int, keep_density: bool, snapped: bool, tmp: Path) -> tuple[Path, str]:
    from benchmarks.synthetic import square_side_m, synthetic_incidents

    frame = synthetic_incidents(
        n, seed=SEED, keep_density=keep_density, snapped=snapped, xy_only=True
    )
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    side_km = square_side_m(n, keep_density) / 1000
    path = tmp / f"xy_{n}_{int(keep_density)}_{int(snapped)}.npy"
    np.save(path, np.c_[x, y])
    nb, how = mean_neighbours(x, y)
    distinct = len(np.unique(np.c_[x, y], axis=0)) if snapped else n
    label = (
        f"{'snapped' if snapped else 'unsnapped'}, "
        f"{'density kept' if keep_density else 'fixed square'} {side_km:.0f}×{side_km:.0f} km "
        f"({side_km**2:,.0f} km²), seed {SEED}, {distinct:,} distinct points, "
        f"mean {nb:.0f} neighbours within {EPS_M:.0f} m ({how})"
    )
    return path, label


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=3, metavar=("KIND", "DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (>= 3)")
    parser.add_argument("--skip-large", action="store_true", help="only the 100k comparisons")
    args = parser.parse_args(argv)
    if args.one:
        kind, data, out = args.one
        print(json.dumps(one(kind, Path(data), Path(out))))
        return
    repeat = max(3, args.repeat)
    started = time.perf_counter()
    print(
        f"DBSCAN eps={EPS_M:.0f} m min_samples={MIN_SAMPLES}; times: median of {repeat} "
        "fresh-process runs (min–max), each after a 2,000-point warm-up, ours and sklearn "
        "alternated (order reversed each round); extra peak = peak RSS during the timed fit − "
        "RSS before it"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for snapped in (False, True):
            data, label = _scenario(100_000, True, snapped, tmp)
            # The peer at its best: the faster tree for this data, by one trial of each.
            trial = {
                a: _run(f"sklearn:{a}", data, tmp / "trial.npz") for a in ("kd_tree", "ball_tree")
            }
            best = min(trial, key=lambda a: trial[a]["seconds"])
            ours, peer = measure_pair("ours", f"sklearn:{best}", data, tmp, repeat)
            core_diff, same_partition, same_labels = compare(tmp / "ours.npz", tmp / "peer.npz")
            mem_ratio = ours["extra_mb"] / peer["extra_mb"]
            print(
                f"dbscan N=100,000 [{label}]: ours {_fmt(ours)} | sklearn DBSCAN(n_jobs=-1, "
                f"algorithm={best}) {_fmt(peer)} | ratio {peer['median'] / ours['median']:.1f}× "
                f"faster | extra peak ours {ours['extra_mb']:.0f} MB, sklearn "
                f"{peer['extra_mb']:.0f} MB (ours/sklearn {mem_ratio:.2f}) | clusters "
                f"{ours['clusters']} vs {peer['clusters']} | core points differing {core_diff} | "
                f"core partition identical: {'yes' if same_partition else 'NO'} | "
                f"all labels identical: {'yes' if same_labels else 'no'}",
                flush=True,
            )
        if not args.skip_large:
            for n, keep in ((1_000_000, True), (5_000_000, True), (1_000_000, False)):
                data, label = _scenario(n, keep, False, tmp)
                ours = measure("ours", data, tmp / "ours.npz", repeat)
                tag = "" if keep else "STRESS (not realistic: fixed square, density ×10) "
                print(
                    f"dbscan {tag}N={n:,} [{label}]: ours {_fmt(ours)}, "
                    f"{ours['median'] / n * 1e6:.2f} µs per point | extra peak "
                    f"{ours['extra_mb']:.0f} MB | clusters {ours['clusters']} | "
                    "(sklearn not run at this size)",
                    flush=True,
                )
                data.unlink()
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
