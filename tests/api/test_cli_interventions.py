"""``hotspots interventions …`` and ``hotspots evaluate``, driven as a user or a script would,
on a synthetic DuckDB store with a planted 30 % reduction (see synthetic_intervention.py)."""

from __future__ import annotations

import json
from pathlib import Path

import h3
import pytest
import shapely
import synthetic_intervention as synthetic  # tests/api/synthetic_intervention.py
from cli_json import run, runner  # tests/api/cli_json.py
from shapely.geometry import shape

from api.cli import app
from api.cli.output import EXIT_INPUT, EXIT_NOT_FOUND, EXIT_USAGE
from geodata.stores import DuckDBStore


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("cli-interventions")
    path = folder / "s.duckdb"
    info = synthetic.build(path, after_factor=0.7)
    square = folder / "square.geojson"
    square.write_text(
        json.dumps({"type": "Feature", "properties": {}, "geometry": info["square_geojson"]})
    )
    return {**info, "store": str(path), "square_file": square, "folder": folder}


def add(world, *args: str) -> tuple[int, object]:
    return run("interventions", "add", "--store", world["store"], *args)


def test_add_from_polygon_then_list_show_evaluate(world) -> None:
    code, rec = add(
        world,
        "--title", "Day of action: synthetic square",
        "--kind", "day-of-action",
        "--start", "2022-06-15",
        "--polygon", str(world["square_file"]),
        "--hours", "40",
        "--notes", "wardens and PCSOs",
        "--by", "test analyst",
    )  # fmt: skip
    assert code == 0, rec
    iv = rec["intervention_id"]
    assert rec["start_date"] == rec["end_date"] == "2022-06-15"
    assert rec["officer_hours"] == 40 and rec["created_by"] == "test analyst"
    assert shape(rec["geometry"]).equals(shape(world["square_geojson"]))

    code, listed = run("interventions", "list", "--store", world["store"])
    assert code == 0 and iv in [r["intervention_id"] for r in listed]
    code, shown = run("interventions", "show", iv, "--store", world["store"])
    assert code == 0 and shown == rec

    code, doc = run("evaluate", iv, "--store", world["store"])
    assert code == 0, doc
    counts, planted = doc["result"]["counts"], world["counts"]
    for part in ("target", "buffer", "control"):
        for window, months in (("before", (3, 4, 5)), ("after", (7, 8, 9))):
            want = sum(planted[part][f"2022-{m:02d}"] for m in months)
            assert counts[part][window] == want, (part, window)
    assert doc["verdict"] == "reduction"
    assert doc["plan"]["control"] == f"ward {world['ward']}"

    human = runner.invoke(app, ["evaluate", iv, "--store", world["store"]])
    assert human.exit_code == 0, human.output
    assert "Verdict: reduction." in human.output and "-30 %" in human.output


def test_evaluate_options(world) -> None:
    code, rec = add(
        world, "--title", "Patrols", "--kind", "patrols", "--start", "2022-06-01",
        "--end", "2022-06-30", "--polygon", str(world["square_file"]),
    )  # fmt: skip
    assert code == 0, rec
    iv = rec["intervention_id"]
    code, doc = run(
        "evaluate", iv, "--store", world["store"], "--buffer-m", "100", "--control", "borough",
        "--before-from", "2022-01", "--before-to", "2022-05",
        "--after-from", "2022-07", "--after-to", "2022-11",
    )  # fmt: skip
    assert code == 0, doc
    plan = doc["plan"]
    assert plan["before"] == ["2022-01-01T00:00:00", "2022-06-01T00:00:00"]
    assert plan["after"] == ["2022-07-01T00:00:00", "2022-12-01T00:00:00"]
    assert plan["control"] == "borough" and plan["buffer_m"] == 100
    km2 = doc["plan"]["area_km2"]
    side = 2 * synthetic.HALF_SIDE_M
    assert km2["target"] == pytest.approx(side**2 / 1e6, rel=1e-3)
    # a 100 m ring round a square: 4 sides × 100 m plus four quarter circles
    assert km2["buffer"] == pytest.approx((4 * side * 100 + 3.1416 * 100**2) / 1e6, rel=1e-2)
    # five months each side: the target's counts are the planted ones
    assert doc["result"]["counts"]["target"]["before"] == 5 * synthetic.TARGET
    assert doc["result"]["counts"]["target"]["after"] == 5 * round(0.7 * synthetic.TARGET)


def test_add_from_ward_and_cells(world) -> None:
    code, rec = add(
        world, "--title", "Ward lighting", "--kind", "lighting", "--start", "2022-02-01",
        "--end", "2022-02-28", "--ward", world["ward"],
    )  # fmt: skip
    assert code == 0, rec
    assert rec["area_type"] == "ward" and rec["area_codes"] == [world["ward"]]
    with DuckDBStore(world["store"], read_only=True) as st:
        ward = st.area_polygon("ward", world["ward"])
    assert shape(rec["geometry"]).area > 0
    assert ward.area > 0

    centre = shape(world["square_geojson"]).centroid
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(centre.y, centre.x, 9), 1))
    code, rec = add(
        world, "--title", "CCTV", "--kind", "cctv", "--start", "2022-03-01",
        "--cells", ",".join(cells),
    )  # fmt: skip
    assert code == 0, rec
    assert rec["area_type"] == "cells" and rec["area_codes"] == cells
    hexes = shapely.union_all(
        [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    )
    assert shape(rec["geometry"]).symmetric_difference(hexes).area < 1e-12


@pytest.mark.parametrize(
    ("args", "exit_code", "words"),
    [
        (["--start", "2022-06-15"], EXIT_USAGE, "exactly one of"),
        (["--start", "2022-06-15", "--ward", "E05004977", "--lsoa", "E01024290"], EXIT_USAGE,
         "--ward, --lsoa"),
        (["--start", "15/06/2022", "--ward", "E05004977"], EXIT_USAGE, "YYYY-MM-DD"),
        (["--start", "2022-06-15", "--end", "2022-06-01", "--polygon", "SQUARE"], EXIT_USAGE,
         "'end_date'"),
        (["--start", "2022-06-15", "--ward", "E05999999"], EXIT_USAGE, "E05999999"),
        (["--start", "2022-06-15", "--cells", "abc"], EXIT_USAGE, "H3 cell"),
        (["--start", "2022-06-15", "--polygon", "NOTJSON"], EXIT_INPUT, "GeoJSON"),
        (["--start", "2022-06-15", "--polygon", "POINT"], EXIT_INPUT, "Polygon"),
        (["--start", "2022-06-15", "--polygon", "MISSING"], EXIT_INPUT, "cannot be read"),
        (["--start", "2022-06-15", "--ward", "E05004977", "--hours", "-2"], EXIT_USAGE,
         "officer_hours"),
    ],
)  # fmt: skip
def test_bad_adds(world, args, exit_code, words) -> None:
    files = {
        "SQUARE": str(world["square_file"]),
        "NOTJSON": str(_write(world["folder"] / "bad.geojson", "not json {")),
        "POINT": str(
            _write(
                world["folder"] / "point.geojson",
                json.dumps({"type": "Point", "coordinates": [0.37, 51.44]}),
            )
        ),
        "MISSING": str(world["folder"] / "missing.geojson"),
    }
    args = [files.get(a, a) for a in args]
    with DuckDBStore(world["store"], read_only=True) as st:
        before = len(st.list_interventions())
    code, doc = add(world, "--title", "bad", "--kind", "patrols", *args)
    assert code == exit_code, doc
    assert words in json.dumps(doc, ensure_ascii=False), doc
    with DuckDBStore(world["store"], read_only=True) as st:
        assert len(st.list_interventions()) == before


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_not_found_and_bad_evaluations(world) -> None:
    for args in (("interventions", "show", "iv-nope"), ("interventions", "delete", "iv-nope"),
                 ("evaluate", "iv-nope")):  # fmt: skip
        code, doc = run(*args, "--store", world["store"])
        assert code == EXIT_NOT_FOUND and "iv-nope" in json.dumps(doc), args
    code, rec = add(
        world, "--title", "x", "--kind", "other", "--start", "2022-06-15",
        "--polygon", str(world["square_file"]),
    )  # fmt: skip
    iv = rec["intervention_id"]
    cases = [
        (["--months", "9"], "'before'", "2021-09"),  # data start in January 2022
        (["--after-from", "2022-10", "--after-to", "2023-01"], "'after'", "2023-01"),
        (["--after-from", "2022-10"], "--after-to", ""),
        (["--control", "nowhere"], "--control", ""),
        (["--control", "ward:E05999999"], "'control'", "E05999999"),
        (["--buffer-m", "-1"], "'buffer_m'", ""),
    ]
    for extra, words, more in cases:
        code, doc = run("evaluate", iv, "--store", world["store"], *extra)
        assert code == EXIT_USAGE, (extra, doc)
        assert words in doc["error"]["detail"] and more in doc["error"]["detail"], doc


def test_delete(world) -> None:
    code, rec = add(
        world, "--title", "gone", "--kind", "other", "--start", "2022-06-15",
        "--polygon", str(world["square_file"]),
    )  # fmt: skip
    iv = rec["intervention_id"]
    assert run("interventions", "delete", iv, "--store", world["store"]) == (0, {"deleted": iv})
    code, _ = run("interventions", "show", iv, "--store", world["store"])
    assert code == EXIT_NOT_FOUND
    human = runner.invoke(app, ["interventions", "list", "--store", world["store"]])
    assert human.exit_code == 0 and iv not in human.output and "interventions" in human.output
