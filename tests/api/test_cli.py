"""The ``hotspots`` command line, driven as a user or a script would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from cli_json import run, runner  # tests/api/cli_json.py

from api.cli import app
from api.cli.output import EXIT_INPUT, EXIT_NOT_FOUND, EXIT_STRICT
from geodata.readers.police import POLICE_COLUMNS
from geodata.stores import DuckDBStore


def police_csv(path: Path, rows: list[list[str]]) -> Path:
    lines = [",".join(POLICE_COLUMNS)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(
    ref: str,
    month: str = "2023-05",
    lon: str = "0.3700",
    lat: str = "51.4415",
    crime: str = "Violence and sexual offences",
) -> list[str]:
    return [
        ref,
        month,
        "Kent Police",
        "Kent Police",
        lon,
        lat,
        "On or near Station Road",
        "E01024290",
        "Gravesham 004B",
        crime,
        "Under investigation",
        "",
    ]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    code, doc = run("demo", "--store", str(path))
    assert code == 0, doc
    return path, doc


def test_demo_loads_real_gravesham_data(demo_store: tuple[Path, dict]) -> None:
    path, doc = demo_store
    assert doc["boundaries"] == {"district": 1, "ward": 18, "lsoa": 64}
    assert doc["population_total"] == 106_939
    imp = doc["import"]
    assert len(imp["batches"]) == 11  # 2022-01 … 2022-11
    assert {b["period"] for b in imp["batches"]} == {f"2022-{m:02d}" for m in range(1, 12)}
    assert imp["rows_accepted"] + imp["rows_rejected"] == imp["rows_read"]
    # the extracts hold the ring of neighbouring districts: beyond 2 km they are quarantined
    assert set(imp["rejected_by_reason"]) == {"outside-study-area"}
    assert doc["incidents_stored"] == imp["rows_accepted"]
    assert "Open Government Licence v3.0" in doc["attribution"]
    with DuckDBStore(path) as store:
        incidents = store.query_incidents().to_pandas()
    # every stored incident is in Gravesham + 2 km and police.uk month precision
    assert (incidents["occurred_precision"] == "month").all()
    district = store_boundary(path, "district")
    assert district.buffer(2_001).contains(shapely.points(incidents["x"], incidents["y"])).all()
    # incidents inside a ward got that ward's code by point in polygon
    wards = store_boundary_codes(path, "ward")
    coded = incidents["ward_code"].dropna()
    assert len(coded) > 0.6 * len(incidents)
    assert set(coded) <= wards


def store_boundary(path: Path, kind: str):
    with DuckDBStore(path) as store:
        return store.boundaries(kind).geometry.iloc[0]


def store_boundary_codes(path: Path, kind: str) -> set[str]:
    with DuckDBStore(path) as store:
        return set(store.boundaries(kind)["code"])


def test_demo_twice_changes_nothing(demo_store: tuple[Path, dict]) -> None:
    path, first = demo_store
    with DuckDBStore(path) as store:
        before = {b.batch_id: b.imported_at for b in store.list_batches()}
    code, doc = run("demo", "--store", str(path))
    assert code == 0
    assert {b["status"] for b in doc["import"]["batches"]} == {"unchanged"}
    assert doc["incidents_stored"] == first["incidents_stored"]
    with DuckDBStore(path) as store:
        assert {b.batch_id: b.imported_at for b in store.list_batches()} == before


def test_batches_and_quarantine_listings(demo_store: tuple[Path, dict]) -> None:
    path, _ = demo_store
    code, batches = run("batches", "--store", str(path))
    assert code == 0
    assert [b["batch_id"] for b in batches] == [
        f"police-uk/kent-police/2022-{m:02d}" for m in range(1, 12)
    ]
    code, rows = run(
        "quarantine", "--store", str(path), "--reason", "outside-study-area", "--limit", "5"
    )
    assert code == 0 and len(rows) == 5
    for r in rows:
        assert r["reason"] == "outside-study-area"
        assert r["file"].endswith("-kent-street.csv")
        assert r["row_number"] >= 2
        assert r["raw"].count(",") >= 11  # the row as it was in the file


def test_import_dry_run_stores_nothing(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    csv = police_csv(tmp_path / "2023-05-kent-street.csv", [row("a1"), row("a2")])
    code, doc = run("import", "police", str(csv), "--store", str(store), "--dry-run")
    assert code == 0
    assert doc["rows_accepted"] == 2 and doc["batches"][0]["status"] == "checked"
    code, batches = run("batches", "--store", str(store))
    assert batches == []


def test_strict_exits_1_when_rows_are_quarantined(tmp_path: Path) -> None:
    csv = police_csv(tmp_path / "2023-05-kent-street.csv", [row("a1"), row("a2", lon="", lat="")])
    code, doc = run("import", "police", str(csv), "--store", str(tmp_path / "s.duckdb"), "--strict")
    assert code == EXIT_STRICT
    assert doc["rejected_by_reason"] == {"no-coordinates": 1}


def test_bad_file_exits_3_naming_file_row_and_field(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    good = police_csv(tmp_path / "2023-05-kent-street.csv", [row("a1"), row("a2")])
    assert run("import", "police", str(good), "--store", str(store))[0] == 0
    bad = tmp_path / "2023-06-kent-street.csv"
    bad.write_text(
        ",".join(POLICE_COLUMNS)
        + "\n"
        + ",".join(row("b1", "2023-06"))
        + "\nb2,2023-06,Kent Police,Kent Po",
        encoding="utf-8",
    )
    code, doc = run("import", "police", str(bad), "--store", str(store))
    assert code == EXIT_INPUT
    err = doc["error"]
    assert err["type"] == "invalid-input-file"
    assert err["file"] == str(bad) and err["row"] == 3
    assert "truncated" in err["detail"]
    code, batches = run("batches", "--store", str(store))
    assert [b["batch_id"] for b in batches] == ["police-uk/kent-police/2023-05"]


def test_delete_batch_and_not_found(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    csv = police_csv(tmp_path / "2023-05-kent-street.csv", [row("a1")])
    run("import", "police", str(csv), "--store", str(store))
    code, _ = run("delete-batch", "police-uk/kent-police/2023-05", "--store", str(store))
    assert code == 0
    code, doc = run("delete-batch", "police-uk/kent-police/2023-05", "--store", str(store))
    assert code == EXIT_NOT_FOUND and "no batch" in doc["error"]["detail"]


def test_categories_and_db_status(tmp_path: Path) -> None:
    code, cats = run("categories")
    slugs = {c["slug"]: c for c in cats}
    assert code == 0 and "violent-crime" in slugs and "fly-tipping" in slugs
    assert slugs["domestic-abuse"]["sensitive"] and not slugs["violent-crime"]["sensitive"]
    code, status = run("db", "status", "--store", str(tmp_path / "new.duckdb"))
    assert code == 0 and status["current"] is True


def test_human_output_has_summary_table(tmp_path: Path) -> None:
    csv = police_csv(
        tmp_path / "2023-05-kent-street.csv",
        [row("a1"), row("a2", lon="", lat=""), row("a3", crime="Loitering")],
    )
    result = runner.invoke(
        app, ["import", "police", str(csv), "--store", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code == 0
    assert "police-uk/kent-police/2023-05" in result.stdout
    assert "no-coordinates" in result.stdout
    assert "'Loitering'" in result.stdout  # unknown category named in the warnings


def test_demo_shows_ranked_hotspots(demo_store: tuple[Path, dict]) -> None:
    _, doc = demo_store
    analyses = doc["analyses"]
    assert len(analyses) == 2
    for fc in analyses.values():
        assert fc["type"] == "FeatureCollection" and fc["features"]
        assert [f["properties"]["rank"] for f in fc["features"]][:3] == [1, 2, 3]


def test_demo_stores_its_runs_and_share_links_that_open_in_the_service(
    demo_store: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings, Settings

    path, doc = demo_store
    assert doc["served"] is False  # no terminal: the demo does not block serving
    links = doc["share_links"]
    assert set(links) == set(doc["run_ids"]) == set(doc["analyses"])
    # the links are signed with the key the demo kept beside its store
    secret = Path(f"{path}.secret").read_text().strip()
    assert len(secret) >= 32 and Path(f"{path}.secret").stat().st_mode & 0o077 == 0
    with DuckDBStore(path) as store:
        stored = {r.run_id for r in store.list_runs()}
        assert set(doc["run_ids"].values()) <= stored
        app = create_app(Settings(ApiSettings(secret_key=secret)), store=store)
        with TestClient(app) as client:
            for name, url in links.items():
                page = client.get(url.removeprefix("http://127.0.0.1:8000"))
                assert page.status_code == 200, name
                assert doc["run_ids"][name] in page.text
    # running the demo again reuses its runs and its (still live) links
    code, again = run("demo", "--store", str(path))
    assert code == 0
    assert again["run_ids"] == doc["run_ids"] and again["share_links"] == links


def test_analyse_writes_geojson_and_reports_choices(
    demo_store: tuple[Path, dict], tmp_path: Path
) -> None:
    path, _ = demo_store
    out = tmp_path / "hot.geojson"
    code, doc = run(
        "analyse",
        "--store",
        str(path),
        "--method",
        "hexes",
        "--categories",
        "burglary,robbery",
        "--from",
        "2022-03",
        "--to",
        "2022-05",
        "--output",
        str(out),
    )
    assert code == 0
    written = json.loads(out.read_text())
    assert written["run_id"] == doc["run_id"]
    assert written["provenance"]["window"]["months"] == ["2022-03", "2022-04", "2022-05"]
    assert written["provenance"]["automatic"]["resolution"]["reason"]
    cats = set()
    for f in written["features"]:
        cats |= set(f["properties"]["categories"])
    assert cats <= {"burglary", "robbery"}


def test_analyse_refuses_bad_options_and_weights(
    demo_store: tuple[Path, dict], tmp_path: Path
) -> None:
    path, _ = demo_store
    result = runner.invoke(app, ["analyse", "--store", str(path), "--method", "kmeans"])
    assert result.exit_code == 2 and "method must be one of" in result.output
    result = runner.invoke(app, ["analyse", "--store", str(path), "--from", "March"])
    assert result.exit_code == 2 and "YYYY-MM" in result.output
    weights = tmp_path / "w.toml"
    weights.write_text('version = "x"\n[weights.mugging]\nweight = 3\n')
    code, doc = run("analyse", "--store", str(path), "--harm-weights", str(weights))
    assert code == EXIT_INPUT and "unknown category 'mugging'" in doc["error"]["detail"]


def test_analyse_with_own_harm_weights(demo_store: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = demo_store
    weights = tmp_path / "w.toml"
    weights.write_text('version = "kent-test"\n[weights.violent-crime]\nweight = 2\n')
    code, doc = run(
        "analyse",
        "--store",
        str(path),
        "--method",
        "hexes",
        "--resolution",
        "8",
        "--categories",
        "violent-crime",
        "--harm-weights",
        str(weights),
    )
    assert code == 0 and doc["provenance"]["weights_version"].startswith("kent-test (sha256 ")
    top = doc["features"][0]["properties"]
    assert top["harm"] == 2 * top["count"]


def test_rates_by_ward_against_the_borough(demo_store: tuple[Path, dict]) -> None:
    path, _ = demo_store
    code, doc = run(
        "rates", "--store", str(path), "--kind", "ward", "--categories", "anti-social-behaviour"
    )
    assert code == 0
    areas = doc["areas"]
    assert len(areas) == 18 and sum(a["population"] for a in areas) == 106_939
    for a in areas:
        assert a["rate"] == pytest.approx(a["count"] / a["population"] * 1000)
        assert a["rate_low"] <= a["rate"] <= a["rate_high"]
    borough = doc["borough"]
    assert borough["rate"] == pytest.approx(sum(a["count"] for a in areas) / 106_939 * 1000)
    code, lsoa = run("rates", "--store", str(path), "--kind", "lsoa")
    assert code == 0 and len(lsoa["areas"]) == 64
    assert {a["name"] for a in lsoa["areas"]} >= {"Gravesham 001A"}


def test_analyse_permutations_ranking_weights_and_concern(
    demo_store: tuple[Path, dict], tmp_path: Path
) -> None:
    path, _ = demo_store
    base = [
        "analyse",
        "--store",
        str(path),
        "--method",
        "gistar",
        "--resolution",
        "9",
        "--categories",
        "anti-social-behaviour,burglary",
    ]
    code, analytical = run(*base)
    assert code == 0 and analytical["provenance"]["parameters"]["permutations"] == 0
    code, permuted = run(*base, "--permute", "--permutations", "199", "--seed", "5")
    assert code == 0 and permuted["provenance"]["parameters"]["permutations"] == 199
    assert permuted["features"][0]["properties"]["gi_p_sim"] >= 1 / 200
    code, by_volume = run(*base, "--weights", "volume=1,harm=0,trend=0,concern=0")
    counts = [f["properties"]["count"] for f in by_volume["features"]]
    assert counts == sorted(counts, reverse=True)
    assert by_volume["provenance"]["ranking_weights"]["volume"] == 1.0
    profile = tmp_path / "concern.toml"
    profile.write_text(
        'name = "burglary-first"\n[[themes]]\nname = "homes"\n'
        'first_choice_pct = 60\ncategories = ["burglary"]\n'
    )
    code, doc = run(*base, "--concern", str(profile))
    assert code == 0 and doc["provenance"]["concern_profile"].startswith("burglary-first (sha256 ")
    for f in doc["features"]:
        p = f["properties"]
        share = p["categories"].get("burglary", 0) / p["count"] if p["count"] else 0.0
        assert p["concern_component"] == pytest.approx(share, abs=1e-6)
    result = runner.invoke(app, [*base, "--weights", "volume=x"])
    assert result.exit_code == 2 and "must be a number" in result.output
    profile.write_text('name = "bad"\n[[themes]]\nfirst_choice_pct = 150\ncategories = ["x"]\n')
    code, doc = run(*base, "--concern", str(profile))
    assert code == EXIT_INPUT and "first_choice_pct must be 0-100" in doc["error"]["detail"]
