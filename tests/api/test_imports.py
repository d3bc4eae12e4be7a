"""Uploads through the web API (``POST /imports``), batches, quarantine, background jobs,
and areas' change on the year before once a later year is loaded; on both stores.

This module changes its copy of the demo (see ``api_env`` in conftest), so it has a
module of its own. Expected values come from the uploaded files and the stored table.
"""

from __future__ import annotations

import io
import re
import zipfile
from functools import partial

import pandas as pd
import pytest
import street_csv  # tests/api/street_csv.py

from api.routes import imports as imports_route

PROBLEM = "application/problem+json"
LEAKS = re.compile(r"Traceback|/tmp/|hotspots-upload|SELECT |psycopg|duckdb", re.I)


#: uploads here: burglaries 0.0002° apart, ids up2023-01-00000 …
police_csv = partial(street_csv.police_csv, prefix="up", step_deg=0.0002)


def upload(env, name: str, data: bytes, role: str = "analyst", client=None, **form):
    files = {"file": (name, data, "application/octet-stream")}
    client = client or env.client
    return client.post("/imports", files=files, data=form, headers=env.headers[role])


def state(env) -> tuple[dict, int]:
    """(batch id → content hash, incident count) as stored."""
    return {
        b.batch_id: b.content_hash for b in env.store.list_batches()
    }, env.store.count_incidents()


def check_problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    doc = r.json()
    assert doc["type"].endswith("/" + slug) and doc["status"] == status and doc["detail"]
    assert not LEAKS.search(r.text), r.text
    return doc


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def test_a_police_csv_upload_answers_with_the_import_report_and_is_idempotent(env):
    before_batches, before_count = state(env)
    r = upload(env, "2023-01-kent-street.csv", police_csv("2023-01", 5, no_coords=1))
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["rows_read"] == 6 and report["rows_accepted"] == 5
    assert report["rows_rejected"] == 1 and report["rejected_by_reason"] == {"no-coordinates": 1}
    (batch,) = report["batches"]
    assert batch["batch_id"] == "police-uk/kent-police/2023-01" and batch["status"] == "created"
    assert batch["files"] == ["2023-01-kent-street.csv"]
    (example,) = batch["examples"]["no-coordinates"]
    assert example["row"] == 7 and example["field"] == "Longitude"
    batches, count = state(env)
    assert count == before_count + 5 and set(batches) == set(before_batches) | {batch["batch_id"]}
    listed = {b["batch_id"]: b for b in env.get("/batches").json()}
    assert listed[batch["batch_id"]]["rows_accepted"] == 5
    assert listed[batch["batch_id"]]["files"] == ["2023-01-kent-street.csv"]
    got = env.get("/incidents?from=2023-01&to=2023-01").json()
    assert got["numberMatched"] == 5
    assert {f["id"].split("#")[0] for f in got["features"]} == {batch["batch_id"]}

    quarantined = env.get(f"/quarantine?batch_id={batch['batch_id']}").json()
    assert [(q["row_number"], q["reason"], q["field"]) for q in quarantined] == [
        (7, "no-coordinates", "Longitude")
    ]
    assert quarantined[0]["file"] == "2023-01-kent-street.csv"
    assert quarantined[0]["raw"].startswith(",2023-01,Kent Police")

    again = upload(env, "2023-01-kent-street.csv", police_csv("2023-01", 5, no_coords=1))
    assert again.status_code == 201 and again.json()["batches"][0]["status"] == "unchanged"
    assert state(env) == (batches, count)
    assert len(env.get(f"/quarantine?batch_id={batch['batch_id']}").json()) == 1

    newer = upload(env, "2023-01-kent-street.csv", police_csv("2023-01", 7))
    assert newer.json()["batches"][0]["status"] == "replaced"
    assert state(env)[1] == before_count + 7
    assert env.get(f"/quarantine?batch_id={batch['batch_id']}").json() == []


def test_a_police_zip_upload_imports_each_month(env):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for month in ("2023-02", "2023-03"):
            z.writestr(f"{month}/{month}-kent-street.csv", police_csv(month, 4))
        z.writestr("2023-03/2023-03-kent-outcomes.csv", "not incidents\n")
    _, before = state(env)
    r = upload(env, "police.zip", buf.getvalue())
    assert r.status_code == 201, r.text
    batches = {b["batch_id"]: b for b in r.json()["batches"]}
    assert set(batches) == {"police-uk/kent-police/2023-02", "police-uk/kent-police/2023-03"}
    assert batches["police-uk/kent-police/2023-02"]["files"] == [
        "police.zip!2023-02/2023-02-kent-street.csv"
    ]
    assert state(env)[1] == before + 8
    again = upload(env, "police.zip", buf.getvalue())
    assert {b["status"] for b in again.json()["batches"]} == {"unchanged"}
    assert state(env)[1] == before + 8


def test_a_council_file_is_read_through_its_profile(env, api_kit, tmp_path):
    rows = [
        ("Loud music", 51.4405, 0.3712, "14/03/2023", "22:15"),
        ("Barking dog", 51.4410, 0.3690, "15/03/2023", "07:05"),
        ("DIY", 51.4420, 0.3700, "16/03/2023", "10:30"),
        ("Party noise", 51.4401, 0.3720, "17/03/2023", "23:55"),
    ]
    path = api_kit.write_council_csv(tmp_path / "noise.csv", rows, prefix="NZ-")
    r = upload(env, "noise.csv", path.read_bytes(), kind="council", profile="noise")
    assert r.status_code == 201, r.text
    (batch,) = r.json()["batches"]
    assert batch["rows_accepted"] == 4 and batch["categories"] == {"noise": 4}
    assert batch["files"] == ["noise.csv"] and batch["source"] == "council/noise"
    got = env.get("/incidents?categories=noise&from=2023-03-14&to=2023-03-17").json()
    assert got["numberMatched"] == 4
    times = sorted(f["properties"]["occurred_at"] for f in got["features"])
    assert times[0] == "2023-03-14T22:15:00" and times[-1] == "2023-03-17T23:55:00"
    assert {f["properties"]["occurred_precision"] for f in got["features"]} == {"minute"}
    again = upload(env, "noise.csv", path.read_bytes(), kind="council", profile="noise")
    assert again.json()["batches"][0]["status"] == "unchanged"


def truncated() -> bytes:
    text = police_csv("2023-04", 3).decode()
    return (text + "x2023-04,2023-04,Kent Police,Kent Police,0.37,51.44,On").encode()


BAD_FILES = [
    # (name, bytes, form, file named, row, field)
    ("2023-04-kent-street.csv", truncated(), {}, "2023-04-kent-street.csv", 5, "LSOA code"),
    ("wrong.csv", b"Reference,When\nA,1\n", {}, "wrong.csv", 1, "Crime ID"),
    ("binary.csv", bytes(range(256)) * 4, {}, "binary.csv", 1, None),
    ("utf16.csv", police_csv("2023-04", 2).decode().encode("utf-16"), {}, "utf16.csv", None, None),
    ("damaged.zip", b"PK\x03\x04" + b"\x00" * 64, {}, "damaged.zip", None, None),
    ("no-csv.zip", None, {}, "no-csv.zip", None, None),
    (
        "flytips.csv",
        b"Case Ref,Date Reported\nA1,01/02/2023\n",
        {"kind": "council", "profile": "flytipping"},
        "flytips.csv",
        None,
        None,
    ),
]


def empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "nothing here")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "form", "named", "row", "field"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_a_bad_file_is_a_422_naming_file_row_and_field_and_nothing_is_stored(
    env, name, data, form, named, row, field
):
    before = state(env)
    r = upload(env, name, data if data is not None else empty_zip(), **form)
    doc = check_problem(r, 422, "invalid-input-file")
    assert doc["detail"].startswith(f"file {named}"), doc
    assert doc["file"] == named
    if row is not None:
        assert doc["row"] == row and f"row {row}" in doc["detail"]
    if field is not None:
        assert doc["field"] == field and repr(field) in doc["detail"]
    assert state(env) == before


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"kind": "council"}, "profile"),
        ({"kind": "council", "profile": "/etc/passwd"}, "profile"),
        ({"kind": "council", "profile": "../../geodata/profiles/noise.toml"}, "profile"),
        ({"kind": "council", "profile": "nope"}, "profile"),
        ({"kind": "spreadsheet"}, "kind"),
        ({"dry_run": "maybe"}, "dry_run"),
    ],
)
def test_bad_form_fields_are_422_naming_the_field(env, form, field):
    before = state(env)
    r = upload(env, "x.csv", police_csv("2023-05", 2), **form)
    doc = check_problem(r, 422, "invalid-input")
    assert doc["errors"][0]["field"] == field and field in doc["detail"]
    assert "received" in doc["detail"]
    assert "root:" not in r.text
    assert state(env) == before


def test_an_empty_upload_or_none_at_all_is_a_422(env):
    doc = check_problem(upload(env, "empty.csv", b""), 422, "invalid-input-file")
    assert "empty.csv" in doc["detail"] and "empty" in doc["detail"]
    r = env.client.post("/imports", headers=env.headers["analyst"])
    assert check_problem(r, 422, "invalid-input")["errors"][0]["field"] == "file"


def test_an_upload_over_the_size_limit_is_413_and_stores_nothing(env, api_kit):
    before = state(env)
    app = api_kit.make_app(env.store, env.kind, max_upload_mb=0.001)  # 1,048 bytes
    with api_kit.TestClient(app) as client:
        small = upload(env, "2023-06-kent-street.csv", police_csv("2023-06", 2), client=client)
        assert small.status_code == 201
        before = state(env)
        r = upload(env, "2023-07-kent-street.csv", police_csv("2023-07", 40), client=client)
    doc = check_problem(r, 413, "too-large")
    assert "2023-07-kent-street.csv" in doc["detail"] and "limit of 0.001 MB" in doc["detail"]
    assert state(env) == before


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(env, api_kit):
    before = state(env)
    app = api_kit.make_app(env.store, env.kind, max_upload_mb=0.05)
    with api_kit.TestClient(app) as client:
        big = police_csv("2023-07", 2000)
        assert len(big) > 200_000
        r = upload(env, "2023-07-kent-street.csv", big, client=client)
        doc = check_problem(r, 413, "too-large")
        assert "limit is 0.05 MB" in doc["detail"] and r.headers["connection"] == "close"
        json_body = b'{"method": "dbscan", "pad": "' + b" " * 300_000 + b'"}'
        r = client.post("/analyses", content=json_body, headers=env.headers["analyst"])
        check_problem(r, 413, "too-large")
        assert client.get("/health").status_code == 200
    assert state(env) == before


def test_a_large_upload_becomes_a_background_job_with_progress(env, monkeypatch):
    monkeypatch.setattr(imports_route, "BACKGROUND_ABOVE_BYTES", 1000)
    seen: list[tuple[str, dict]] = []
    update = env.store.update_job

    def spy(job_id, **changes):
        seen.append((job_id, changes))
        return update(job_id, **changes)

    monkeypatch.setattr(env.store, "update_job", spy)
    _, before = state(env)
    data = police_csv("2023-08", 60, no_coords=2)
    r = upload(env, "2023-08-kent-street.csv", data)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert r.headers["location"] == f"/jobs/{job_id}" == r.json()["links"]["self"]
    job = env.get(r.headers["location"]).json()
    assert job["status"] == "done" and job["progress"] == 1.0 and job["kind"] == "import-police"
    assert job["result"]["rows_accepted"] == 60 and job["result"]["rows_rejected"] == 2
    assert job["result"]["batches"][0]["files"] == ["2023-08-kent-street.csv"]
    assert state(env)[1] == before + 60
    statuses = [c.get("status") for j, c in seen if j == job_id and c.get("status")]
    assert statuses == ["running", "done"]
    progress = [c["progress"] for j, c in seen if j == job_id and "progress" in c]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert all(0 <= p <= 1 for p in progress)
    for role in ("partner", "public", "anonymous"):
        assert env.get(r.headers["location"], role).status_code in (401, 403)

    failed = upload(env, "2023-09-kent-street.csv", b"Not,A,Police,File\n" * 100)
    assert failed.status_code == 202
    job = env.get(failed.headers["location"]).json()
    assert job["status"] == "failed" and job["message"].startswith("file 2023-09-kent-street.csv")
    assert job["result"]["error"]["type"] == "invalid-input-file"
    assert not LEAKS.search(str(job))
    assert state(env)[1] == before + 60
    check_problem(env.get("/jobs/job_nope"), 404, "not-found")


def test_quarantine_listing_filters_by_batch_and_reason_and_pages(env):
    everything = env.get("/quarantine?limit=10000").json()
    assert everything
    reasons = {q["reason"] for q in everything}
    for reason in reasons:
        some = env.get(f"/quarantine?reason={reason}&limit=10000").json()
        assert some and {q["reason"] for q in some} == {reason}
        assert len(some) == sum(q["reason"] == reason for q in everything)
    first, second = env.get("/quarantine?limit=3").json(), env.get("/quarantine?limit=3&offset=3")
    assert first + second.json() == everything[:6]
    doc = check_problem(env.get("/quarantine?reason=bad"), 422, "invalid-input")
    assert "reason" in doc["detail"] and "'bad'" in doc["detail"]


def test_areas_change_on_the_year_before_matches_the_stored_incidents(env):
    t = env.store.query_incidents().to_pandas()
    # police.uk categories only: the safeguarding cases' source has no 2023 months, and a
    # month one source of the categories lacks is left out (the coverage rule)
    police = sorted(set(t.loc[t["source"].str.startswith("police-uk"), "category"]))
    t = t[t["category"].isin(police)]
    jan = t[(t["occurred_at"] >= "2023-01-01") & (t["occurred_at"] < "2023-02-01")]
    prev = t[(t["occurred_at"] >= "2022-01-01") & (t["occurred_at"] < "2022-02-01")]
    assert len(jan) and len(prev)
    cats = ",".join(police)
    doc = env.get(f"/areas?kind=ward&from=2023-01&to=2023-01&categories={cats}").json()
    now, before = jan["ward_code"].value_counts(), prev["ward_code"].value_counts()
    changed = 0
    for f in doc["features"]:
        p = f["properties"]
        c, b = int(now.get(f["id"], 0)), int(before.get(f["id"], 0))
        assert p["count"] == c and p["previous_year_count"] == b, f["id"]
        assert p["change_pct"] == (round(100 * (c - b) / b, 1) if b else None)
        changed += c > 0
    assert changed
    none = env.get(f"/areas?kind=ward&from=2022-01&to=2022-03&categories={cats}").json()
    assert all(f["properties"]["previous_year_count"] is None for f in none["features"])
    assert "previous year" in none["period"]["previous_note"]
    mixed = env.get("/areas?kind=ward&from=2023-01&to=2023-01").json()
    assert mixed["period"]["months"] == [] and "2023-01" in mixed["period"]["skipped"]
    assert all(f["properties"]["change_pct"] is None for f in none["features"])
    assert pd.notna(doc["borough"]["count"])
