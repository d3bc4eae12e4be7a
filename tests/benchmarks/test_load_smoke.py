"""The load test runs end to end: demo store, uvicorn on loopback, locust clients.

A few clients for a couple of seconds, in subprocesses as the benchmark runs it;
what is asserted is that every request succeeded with the body it should have,
never a timing (timings are for ``benchmarks/bench_api.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.load_api import _percentile, requests_for

ROOT = Path(__file__).resolve().parents[2]
FACTS = {"runs": {"dbscan": "run-a", "gistar": "run-b", "dbscan-first": "c1"}}


def test_percentiles_are_nearest_rank():
    ms = [float(v) for v in range(1, 101)]
    assert [_percentile(ms, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert _percentile([7.0], 99) == 7.0


def test_scenarios_ask_for_the_demo_runs_hotspots():
    paths = {s: [p for _, p, _, _ in requests_for(s, FACTS)] for s in ("hotspots", "naive")}
    assert paths["hotspots"] == ["/runs/run-a/hotspots", "/runs/run-b/hotspots"]
    assert paths["naive"] == ["/bench/naive" + p for p in paths["hotspots"]]
    mix = requests_for("mix", FACTS)
    assert {p for _, p, _, _ in mix} >= set(paths["hotspots"])
    assert any(p.startswith("/ogc/collections/") for _, p, _, _ in mix)
    with pytest.raises(KeyError):
        requests_for("mix", {"runs": {}})


@pytest.mark.slow
def test_a_short_mixed_load_on_the_demo_has_no_errors():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.load_api",
            "--scenario",
            "mix",
            "--users",
            "4",
            "--warmup",
            "0.3",
            "--duration",
            "1.5",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == 0, result["error_kinds"]
    assert result["requests"] > 0
    names = {n for n, _, _, _ in requests_for("mix", FACTS)}
    served = {n for n, s in result["per_request"].items() if s["n"] > 0}
    assert served <= names and {"hotspots dbscan", "hotspots gistar"} <= served
    assert all(b > 100 for b in result["bytes"].values()), result["bytes"]
