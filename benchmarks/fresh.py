"""Fresh-process runs for benchmarks, ours and the peer alternated (``BENCHMARKS.md``).

Every timed run is a new ``python -m benchmarks.<module> ...`` process that
prints one JSON line last. :func:`alternate` runs the kinds in turn, reversing
their order every round (ours, peer, peer, ours, ...), so that a swing in the
load of this shared machine does not land on one side only.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(field: str = "VmRSS") -> float:
    """This process's ``VmRSS`` / ``VmHWM`` (peak) in MB, from ``/proc/self/status``."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS where Linux allows; whether it did."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def run_child(module: str, args: Sequence[str], timeout: float | None = None) -> dict:
    """Run ``python -m module *args`` in a fresh process; its last stdout line as JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if proc.returncode:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def alternate(
    kinds: Sequence[str], run: Callable[[str, int], dict], repeat: int
) -> dict[str, list[dict]]:
    """``repeat`` rounds of ``run(kind, round)`` for every kind, order reversed each round."""
    out: dict[str, list[dict]] = {k: [] for k in kinds}
    for i in range(repeat):
        for kind in kinds if i % 2 == 0 else list(reversed(kinds)):
            out[kind].append(run(kind, i))
    return out


def median(runs: list[dict], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in runs)


def fmt(runs: list[dict], key: str = "seconds", digits: int = 2) -> str:
    """``median s (min–max, n runs)``."""
    v = [r[key] for r in runs]
    return (
        f"{statistics.median(v):.{digits}f} s ({min(v):.{digits}f}–{max(v):.{digits}f}, "
        f"{len(v)} run{'s' if len(v) != 1 else ''})"
    )
