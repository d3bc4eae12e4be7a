"""HDBSCAN benchmark: ``hotspots.hdbscan`` against ``sklearn.cluster.HDBSCAN``, same run.

Data (``benchmarks.synthetic``, seed 0): police.uk-like snapped incidents
(about N / 2.3 distinct snap points), the 30 × 30 km square round Gravesend
at 100k, its side grown by √(N/100k) above (density kept). Parameters:
``min_cluster_size=15, min_samples=10`` (fixed, so every run compares the same
work; the analysis now chooses them from the data, :mod:`hotspots.cluster_scale`),
excess of mass, no single cluster.

- 100k: ours and ``sklearn.cluster.HDBSCAN(min_cluster_size=15,
  min_samples=10, copy=True)`` (its default ``algorithm="auto"``: a k-d tree
  for core distances and Prim's spanning tree over all pairs; it has no
  ``n_jobs`` that speeds the tree) alternated in fresh processes, order
  reversed each round, ``--repeat`` rounds (default 3: scikit-learn takes about
  a minute a run here, so 3 runs are ~3–5 minutes). scikit-learn's rounds after
  the first feed it the same incidents in a shuffled row order: its labels
  depend on the row order where merges tie, and the ARI between its own runs is
  printed as the yardstick next to ours.
- 1M (and 5M with ``--large``): ours alone (scikit-learn's O(n²) tree would take
  hours), median of ``--repeat`` fresh-process runs.

Each run loads the points from a ``.npy`` file, warms up on 2,000 points
(imports; numba's compiled code loads from its on-disk cache, compiled once
per install), then times the fit. "Extra peak" is the peak RSS during the fit
minus the RSS before it; "peak" is the process's whole peak RSS.

Run: ``python -m benchmarks.bench_hdbscan [--repeat 3] [--large]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.fresh import alternate, fmt, median, reset_peak, rss_mb, run_child

MIN_CLUSTER_SIZE = 15
MIN_SAMPLES = 10
SEED = 0


def one(kind: str, data: Path, out: Path, shuffle: int) -> dict:
    """One timed fit in this fresh process; labels saved to ``out`` in the file's row order."""
    xy = np.load(data)
    order = np.arange(len(xy))
    if shuffle:
        order = np.random.default_rng(shuffle).permutation(len(xy))
    xy = np.ascontiguousarray(xy[order])
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    t_warm = time.perf_counter()
    if kind == "ours":
        from hotspots.clusters import DensityClusterer

        model = DensityClusterer(
            method="hdbscan", min_samples=MIN_SAMPLES, min_cluster_size=MIN_CLUSTER_SIZE
        )
        model.fit(x[:2000], y[:2000])
    else:
        from sklearn.cluster import HDBSCAN

        model = HDBSCAN(min_cluster_size=MIN_CLUSTER_SIZE, min_samples=MIN_SAMPLES, copy=True)
        model.fit(xy[:2000])
    warm = time.perf_counter() - t_warm
    rss0 = rss_mb()
    reset = reset_peak()
    t0 = time.perf_counter()
    labels = model.fit(x, y).labels_ if kind == "ours" else model.fit(xy).labels_
    seconds = time.perf_counter() - t0
    peak = rss_mb("VmHWM")
    back = np.empty(len(labels), dtype=np.int64)
    back[order] = labels
    np.save(out, back)
    return {
        "seconds": seconds,
        "warmup_seconds": warm,
        "extra_mb": peak - rss0 if reset else float("nan"),
        "peak_mb": peak,
        "clusters": int(labels.max()) + 1,
        "noise_share": float(np.mean(labels < 0)),
    }


def _scenario(n: int, tmp: Path) -> tuple[Path, str]:
    from benchmarks.synthetic import square_side_m, synthetic_incidents

    frame = synthetic_incidents(n, seed=SEED, snapped=True, keep_density=True, xy_only=True)
    xy = frame[["x", "y"]].to_numpy()
    path = tmp / f"xy_{n}.npy"
    np.save(path, xy)
    side = square_side_m(n, True) / 1000
    distinct = len(np.unique(xy, axis=0))
    return path, (
        f"snapped, density kept, {side:.0f}×{side:.0f} km, seed {SEED}, "
        f"{distinct:,} distinct points"
    )


def _ari(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=4, metavar=("KIND", "DATA", "OUT", "SHUFFLE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size (>= 3)")
    parser.add_argument("--large", action="store_true", help="also ours at 5M")
    parser.add_argument("--skip-sklearn", action="store_true", help="ours only (quick check)")
    args = parser.parse_args(argv)
    if args.one:
        kind, data, out, shuffle = args.one
        print(json.dumps(one(kind, Path(data), Path(out), int(shuffle))))
        return 0
    repeat = max(3, args.repeat)
    print(
        f"HDBSCAN min_cluster_size={MIN_CLUSTER_SIZE} min_samples={MIN_SAMPLES}; times: median "
        f"of {repeat} fresh-process runs (min–max) after a 2,000-point warm-up; ours and "
        "scikit-learn alternated, order reversed each round",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data, label = _scenario(100_000, tmp)

        def run(kind: str, i: int) -> dict:
            out = tmp / f"{kind}{i}.npy"
            shuffle = i if kind == "sklearn" else 0
            r = run_child(
                "benchmarks.bench_hdbscan", ["--one", kind, str(data), str(out), str(shuffle)]
            )
            return r | {"labels": str(out)}

        kinds = ["ours"] if args.skip_sklearn else ["ours", "sklearn"]
        runs = alternate(kinds, run, repeat)
        ours = runs["ours"]
        mine = np.load(ours[0]["labels"])
        line = (
            f"hdbscan N=100,000 [{label}]: ours {fmt(ours, digits=3)}, warm-up "
            f"{median(ours, 'warmup_seconds'):.2f} s, extra peak "
            f"{max(r['extra_mb'] for r in ours):.0f} MB, {ours[0]['clusters']} clusters, "
            f"noise {ours[0]['noise_share']:.1%}"
        )
        if "sklearn" in runs:
            peer = runs["sklearn"]
            ref = np.load(peer[0]["labels"])
            own = [_ari(ref, np.load(r["labels"])) for r in peer[1:]]
            line += (
                f" | sklearn HDBSCAN {fmt(peer, digits=1)}, extra peak "
                f"{max(r['extra_mb'] for r in peer):.0f} MB, {peer[0]['clusters']} clusters, "
                f"noise {peer[0]['noise_share']:.1%} | ratio "
                f"{median(peer) / median(ours):.0f}× faster | ARI ours vs sklearn (rows in "
                f"file order) {_ari(mine, ref):.4f}; vs its shuffled-row runs "
                + ", ".join(f"{_ari(mine, np.load(r['labels'])):.4f}" for r in peer[1:])
                + "; sklearn vs itself with rows shuffled "
                + ", ".join(f"{a:.4f}" for a in own)
                + f" | noise flag differs ours vs sklearn: {int(np.sum((mine < 0) != (ref < 0))):,}"
            )
        print(line, flush=True)
        data.unlink()
        for n in (1_000_000, 5_000_000) if args.large else (1_000_000,):
            data, label = _scenario(n, tmp)
            big = alternate(["ours"], run, repeat)["ours"]
            print(
                f"hdbscan N={n:,} [{label}]: ours {fmt(big)}, "
                f"{median(big) / n * 1e6:.1f} µs per incident, extra peak "
                f"{max(r['extra_mb'] for r in big):.0f} MB, process peak "
                f"{max(r['peak_mb'] for r in big):.0f} MB, {big[0]['clusters']:,} clusters, "
                f"noise {big[0]['noise_share']:.1%} (sklearn not run: O(n²) spanning tree)",
                flush=True,
            )
            data.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
