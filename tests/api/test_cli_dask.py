"""Both doors on a Dask cluster (issue 16): ``hotspots analyse --dask`` and the service
with ``HOTSPOTS_DASK_SCHEDULER`` store the run a single machine stores, with the cluster
in its provenance; a bad or absent scheduler is a clear error, never a traceback."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from cli_json import run
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.settings import ApiSettings, ComputeSettings, Settings
from geodata.demo import demo_dir
from geodata.settings import StoreSettings
from geodata.stores import DuckDBStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ARGS = ("analyse", "--method", "gistar", "--resolution", "9", "--permute", "--permutations", "99")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli-dask") / "s.duckdb"
    demo = demo_dir()
    for args in (
        ("import", "boundaries", str(demo / "gravesham-district.geojsonl"), "--kind", "district"),
        ("import", "police", str(demo / "gravesham-police-2022.zip")),
    ):
        code, doc = run(*args, "--store", str(path))
        assert code == 0, doc
    return path


def features(doc: dict) -> list:
    return [(f["id"], f["properties"]["gi_z"], f["properties"]["rank"]) for f in doc["features"]]


def test_analyse_on_a_local_cluster_stores_the_single_machine_run(store: Path):
    code, on_dask = run(*ARGS, "--dask", "local", "--dask-parent-res", "6", "--store", str(store))
    assert code == 0, on_dask
    run_id = on_dask["stored"]["run_id"]
    assert on_dask["stored"]["created"] is True
    code, shown = run("runs", "show", run_id, "--store", str(store))
    execution = shown["provenance"]["execution"]
    assert execution["backend"] == "dask" and execution["workers"] == 2
    assert execution["partitions"] == "H3 parent res 6"
    assert run("runs", "delete", run_id, "--store", str(store))[0] == 0

    code, here = run(*ARGS, "--store", str(store))
    assert code == 0 and here["stored"] == {"run_id": run_id, "created": True}
    assert features(here) == features(on_dask) and len(features(here)) > 5
    code, shown = run("runs", "show", run_id, "--store", str(store))
    assert shown["provenance"]["execution"]["backend"] == "local"


def test_a_method_without_a_distributed_form_runs_here_and_says_so(store: Path):
    code, doc = run("analyse", "--method", "kde", "--dask", "local", "--store", str(store))
    assert code == 0, doc
    assert any("no distributed form" in n for n in doc["notes"])
    assert doc["provenance"]["execution"]["backend"] == "local"


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (("--dask", "somewhere"), {}, "expected 'local'"),
        (("--dask", "tcp://127.0.0.1:9"), {}, "not reachable"),
        ((), {"HOTSPOTS_DASK_PARENT_RES": "9"}, "HOTSPOTS_DASK_PARENT_RES"),
        ((), {"HOTSPOTS_DASK_SCHEDULER": "nowhere"}, "HOTSPOTS_DASK_SCHEDULER"),
    ],
)
def test_a_bad_scheduler_is_one_clear_error(store: Path, monkeypatch, args, env, said):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, doc = run("analyse", "--method", "dbscan", *args, "--store", str(store))
    assert code != 0 and said in doc["error"]["detail"], doc
    assert "Traceback" not in doc["error"]["detail"]


def test_the_service_runs_analyses_on_the_scheduler_it_is_given(
    store: Path, tmp_path: Path, api_kit
):
    from distributed import LocalCluster

    copy = tmp_path / "api.duckdb"
    copy.write_bytes(store.read_bytes())
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster:
        settings = Settings(
            ApiSettings(secret_key=api_kit.secret),
            StoreSettings(duckdb_path=copy),
            compute=ComputeSettings(dask_scheduler=cluster.scheduler_address),
        )
        st = DuckDBStore(copy)
        _, key = api_kit.add_key(st, "analyst")
        with TestClient(create_app(settings, store=st)) as client:
            body = {"method": "dbscan", "eps_m": 150, "min_samples": 10}
            made = client.post("/analyses", json=body, headers={"X-API-Key": key})
            assert made.status_code == 201, made.text
            shown = client.get(f"/runs/{made.json()['run_id']}", headers={"X-API-Key": key})
            execution = shown.json()["provenance"]["execution"]
            assert execution["backend"] == "dask"
            assert execution["scheduler"] == cluster.scheduler_address
        st.close()


def test_the_service_refuses_a_local_cluster_per_request():
    from api.usecases.compute import engine_spec
    from geodata.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="needs a running scheduler"):
        engine_spec(ComputeSettings(dask_scheduler="local"), service=True)
    assert engine_spec(ComputeSettings()) is None
