"""The OGC load benchmark runs end to end on both stores: synthetic incidents, uvicorn
on loopback, locust clients. What is asserted is that every request succeeded with the
body it should have, never a timing (timings are for ``benchmarks/bench_ogc_load.py``).
tipg is not installed here (it pins other FastAPI versions): the run says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import morecantile
import pytest

from benchmarks.bench_ogc_load import BOXES, requests, tile_of

ROOT = Path(__file__).resolve().parents[2]


def test_tiles_are_the_webmercatorquad_tiles_of_the_boxes():
    tms = morecantile.tms.get("WebMercatorQuad")
    for lon, lat in BOXES:
        for z in (10, 14, 18):
            t = tms.tile(lon, lat, z)
            assert tile_of(lon, lat, z) == (t.x, t.y)


def test_ours_and_tipg_are_asked_for_the_same_things():
    ours, peer = (
        requests(["police-uk/a/2022-01#7"], False),
        requests(["police-uk/a/2022-01#7"], True),
    )
    assert [n for n, *_ in ours] == [n for n, *_ in peer]
    assert {r for *_, r in ours} == {"analyst"} and {r for *_, r in peer} == {"public"}
    item = dict((n, p) for n, p, *_ in ours)["item 0"]
    assert item == "/ogc/collections/incidents/items/police-uk%2Fa%2F2022-01%237"
    # tiles: ours are tileMatrix/tileRow/tileCol, tipg's z/x/y
    tile = dict((n, p) for n, p, *_ in ours)["tile 0"].rsplit("/", 3)[1:]
    tile_peer = dict((n, p) for n, p, *_ in peer)["tile 0"].rsplit("/", 3)[1:]
    assert tile == [tile_peer[0], tile_peer[2], tile_peer[1]]


@pytest.mark.slow
def test_a_short_ogc_load_on_both_stores_has_no_errors(postgis_url):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_ogc_load",
            "--n",
            "3000",
            "--users",
            "4",
            "--warmup",
            "0.3",
            "--duration",
            "1.5",
            "--rounds",
            "1",
            "--database-url",
            postgis_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "TIPG_PYTHON"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    lines = proc.stdout.splitlines()
    for name in ("ours postgis", "ours duckdb"):
        (line,) = [ln for ln in lines if ln.strip().startswith(name)]
        assert "errors 0" in line and " 0 req/s" not in line, line
    assert any("tipg not run" in ln for ln in lines)
