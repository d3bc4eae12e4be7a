"""Incident reads answered from memory on a DuckDB file (geodata.stores.point_cache).

Two store objects of one file: ``held`` opened as the server opens it (reads from
memory) and ``plain`` reading by SQL. Every query must give both the same table and
count; writes (imports, batch deletes, from either object) must be seen at once; a
copy begun before a write is never used after it; nothing is held above the bound, nor
by a store opened without one.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodata.ingest import import_records
from geodata.model import INCIDENT_SCHEMA
from geodata.readers.police import read_police
from geodata.settings import StoreSettings
from geodata.stores import DuckDBStore, IncidentQuery, open_store, point_cache
from geodata.stores.point_cache import HELD, PointCache

N = 400
SOURCES = ["police-uk/kent-police", "council/flytipping", "kfrs/fires"]
CATEGORIES = ["burglary", "anti-social-behaviour", "violent-crime", "fly-tipping", None]
#: ids of several scripts and lengths, to test byte order as SQL sorts them
NAMES = ["a", "b", "Z", "é", "Ω", "ab", "a-b", "a#", "日本"]


def _incidents(seed: int = 7) -> pa.Table:
    """``N`` incidents round Gravesend with NULLs where the schema allows them."""
    rng = np.random.default_rng(seed)
    month = rng.integers(1, 4, N)
    src = rng.integers(0, len(SOURCES), N)
    batch = [f"{SOURCES[s]}/2024-{m:02d}" for s, m in zip(src, month, strict=True)]
    ids = [f"{b}#{NAMES[i % len(NAMES)]}{i}" for i, b in enumerate(batch)]
    at = [datetime(2024, int(m), 1) + timedelta(hours=int(h))
          for m, h in zip(month, rng.integers(0, 700, N), strict=True)]  # fmt: skip
    at[3] = None
    lon = rng.uniform(0.30, 0.42, N).round(5)
    lat = rng.uniform(51.40, 51.47, N).round(5)
    lon[5] = lat[6] = np.nan
    lon[7], lat[7] = 0.35, 51.43  # on the edges of boxes drawn from the grid below
    sensitive = [bool(v) for v in rng.random(N) < 0.2]
    sensitive[8] = None
    cats = [CATEGORIES[c] for c in rng.integers(0, len(CATEGORIES), N)]
    return pa.table(
        {
            "id": ids,
            "batch_id": batch,
            "source": [SOURCES[s] for s in src],
            "source_ref": [None] * N,
            "category": cats,
            "category_raw": cats,
            "occurred_at": pa.array(at, pa.timestamp("us")),
            "occurred_precision": ["month"] * (N // 2) + ["minute"] * (N - N // 2),
            "lon": lon,
            "lat": lat,
            "x": 563_000 + (lon - 0.30) * 70_000,
            "y": 170_000 + (lat - 51.40) * 111_000,
            "location": [f"On or near Street {i % 23}" for i in range(N)],
            "lsoa_code": [None if i % 11 == 0 else f"E0102{i % 40:04d}" for i in range(N)],
            "ward_code": [f"E0500{i % 9:04d}" for i in range(N)],
            "sensitive": sensitive,
            "flags": [""] * N,
            "attributes": ["{}"] * N,
            "source_row": np.arange(N, dtype=np.int64) + 2,
        },
        schema=INCIDENT_SCHEMA,
    )


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """``(held, plain)``: two store objects of one file holding :func:`_incidents`."""
    path = tmp_path_factory.mktemp("points") / "p.duckdb"
    plain = DuckDBStore(path)
    plain.con.register("_i", _incidents())
    plain.con.execute("INSERT INTO incidents SELECT * FROM _i")  # before anything is held
    plain.con.unregister("_i")
    held = DuckDBStore(path, memory_rows=10_000)
    yield held, plain
    held.close()
    plain.close()


TABLE = _incidents()
IDS = sorted(TABLE["id"].to_pylist())
GRID_LON = [0.29, 0.32, 0.35, 0.38, 0.43]
GRID_LAT = [51.39, 51.42, 51.43, 51.45, 51.48]


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, NaN equal to NaN (a stored NaN coordinate is read back as one)."""
    return a.schema == b.schema and a.to_pandas().equals(b.to_pandas())


@st.composite
def queries(draw) -> IncidentQuery:
    lonlat = draw(st.booleans())

    def span(grid):
        a, b = sorted(draw(st.lists(st.sampled_from(grid), min_size=2, max_size=2)))
        return a, b

    bbox = None
    if draw(st.booleans()):
        (x0, x1), (y0, y1) = span(GRID_LON), span(GRID_LAT)
        if not lonlat:
            x0, x1 = (563_000 + (v - 0.30) * 70_000 for v in (x0, x1))
            y0, y1 = (170_000 + (v - 51.40) * 111_000 for v in (y0, y1))
        bbox = (x0, y0, x1, y1)
    optional = lambda s: st.none() | s  # noqa: E731
    some = lambda values: st.lists(st.sampled_from(values), max_size=3)  # noqa: E731
    days = st.integers(0, 100).map(lambda d: datetime(2024, 1, 1) + timedelta(days=d))
    text = st.sampled_from(IDS) | st.text(alphabet="ab#/é-Ω0123456789", max_size=8)
    return IncidentQuery(
        bbox=bbox,
        bbox_lonlat=lonlat,
        categories=draw(optional(some([c for c in CATEGORIES if c] + ["unknown"]))),
        start=draw(optional(days)),
        end=draw(optional(days)),
        sources=draw(optional(some([*SOURCES, ""]))),
        batch_ids=draw(optional(some([*sorted(set(TABLE["batch_id"].to_pylist())), "x/y"]))),
        include_sensitive=draw(st.booleans()),
        columns=draw(optional(st.lists(st.sampled_from(HELD), min_size=1, max_size=5))),
        limit=draw(optional(st.integers(0, 120))),
        offset=draw(st.integers(0, 50)),
        after_id=draw(optional(text)),
        ids=draw(optional(st.lists(text, max_size=4))),
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=queries())
def test_memory_answers_as_sql_does(pair, q: IncidentQuery) -> None:
    held, plain = pair
    if q.columns is None:  # every column: some are not held, so SQL answers
        q = IncidentQuery(**{**q.__dict__, "columns": list(HELD)})
    cache = PointCache.of_file(held.path)
    assert cache.select(held.con, q, list(q.columns), 10_000) is not None  # from memory
    assert same(held.query_incidents(q), plain.query_incidents(q))
    assert held.count_incidents(q) == plain.count_incidents(q)


def test_the_sample_holds_what_the_property_needs(pair) -> None:
    held, _ = pair
    assert held.count_incidents() == N
    assert held.count_incidents(IncidentQuery(bbox=(0.35, 51.43, 0.35, 51.43), bbox_lonlat=True))
    hidden = held.query_incidents(IncidentQuery(include_sensitive=False, columns=["id"]))
    assert TABLE["id"][8].as_py() not in hidden["id"].to_pylist()  # NULL sensitive: not shown
    assert TABLE["id"][3].as_py() not in held.query_incidents(
        IncidentQuery(start=datetime(2000, 1, 1), columns=["id"])
    )["id"].to_pylist()  # fmt: skip


def test_bad_queries_fail_alike(pair) -> None:
    held, plain = pair
    bad = IncidentQuery(bbox=(1.0, 0.0, 0.0, 1.0), columns=["id"])
    for store in (held, plain):
        with pytest.raises(ValueError, match="bbox must be"):
            store.query_incidents(bad)


def test_what_memory_does_not_answer_goes_to_sql(pair) -> None:
    held, plain = pair
    cache = PointCache.of_file(held.path)
    for q, columns in [
        (IncidentQuery(condition=("category = {}", ("burglary",))), ["id"]),
        (IncidentQuery(dictionary=True), ["category"]),
        (IncidentQuery(), ["flags"]),  # not held
        (IncidentQuery(bbox=(float("nan"), 0, 1, 1)), ["id"]),
        (IncidentQuery(start=datetime(2024, 1, 1).astimezone()), ["id"]),  # aware
    ]:
        assert cache.select(held.con, q, columns, 10_000) is None
        q = IncidentQuery(**{**q.__dict__, "columns": columns})
        assert same(held.query_incidents(q), plain.query_incidents(q))
    odd = IncidentQuery(after_id=7, columns=["id"])  # type: ignore[arg-type]
    assert cache.select(held.con, odd, ["id"], 10_000) is None
    for store in (held, plain):  # SQL refuses to compare text with a number, in both
        with pytest.raises(duckdb.BinderException):
            store.query_incidents(odd)


def _police(tmp_path: Path, police_csv, month: str, n: int) -> Path:
    rows = [police_csv.row(f"c{month}{i}", month, lon=0.37 + i * 1e-4) for i in range(n)]
    return police_csv.write(tmp_path / f"{month}-kent-street.csv", rows)


def test_writes_are_seen_at_once(tmp_path, police_csv) -> None:
    path = tmp_path / "w.duckdb"
    held = DuckDBStore(path, memory_rows=10_000)
    other = DuckDBStore(path)  # another object of the file in this process (a CLI command)
    try:
        near = IncidentQuery(bbox=(0.36, 51.43, 0.39, 51.45), bbox_lonlat=True, columns=["id"])
        assert held.count_incidents(near) == 0  # held: an empty copy
        import_records(held, read_police(_police(tmp_path, police_csv, "2024-01", 5)))
        assert held.count_incidents(near) == 5
        import_records(other, read_police(_police(tmp_path, police_csv, "2024-02", 3)))
        assert held.query_incidents(near).num_rows == 8
        assert other.delete_batch("police-uk/kent-police/2024-01")
        assert held.count_incidents(near) == 3
        assert held.delete_batch("police-uk/kent-police/2024-02")
        assert held.count_incidents(near) == 0
    finally:
        other.close()
        held.close()


def test_nothing_is_read_from_memory_while_a_write_runs(tmp_path, police_csv) -> None:
    path = tmp_path / "w.duckdb"
    held = DuckDBStore(path, memory_rows=10_000)
    try:
        import_records(held, read_police(_police(tmp_path, police_csv, "2024-01", 4)))
        assert held.count_incidents() == 4
        cache, seen = PointCache.of_file(held.path), []

        def read_elsewhere(done: int, total: int) -> None:
            def read() -> None:
                q = IncidentQuery(columns=["id"])
                seen.append((cache.select(held.con, q, ["id"], 10_000), held.count_incidents()))

            reader = threading.Thread(target=read)
            reader.start()
            reader.join()

        csv = _police(tmp_path, police_csv, "2024-02", 6)
        import_records(held, read_police(csv), progress=read_elsewhere)
        assert seen and all(got is None and n == 4 for got, n in seen)  # SQL: what is committed
        assert held.count_incidents() == 10
    finally:
        held.close()


def test_a_copy_begun_before_a_write_is_not_kept(tmp_path, police_csv, monkeypatch) -> None:
    path = tmp_path / "w.duckdb"
    held = DuckDBStore(path, memory_rows=10_000)
    try:
        import_records(held, read_police(_police(tmp_path, police_csv, "2024-01", 4)))
        cache, real, made = PointCache.of_file(held.path), point_cache._read, []

        def racing(con, most):
            copy = real(con, most)  # read before the write below
            if not made:
                import_records(held, read_police(_police(tmp_path, police_csv, "2024-02", 2)))
            made.append(copy)
            return copy

        monkeypatch.setattr(point_cache, "_read", racing)
        q = IncidentQuery(columns=["id"])
        assert cache.select(held.con, q, ["id"], 10_000) is None  # changed meanwhile: SQL
        assert held.count_incidents() == 6  # a new copy, made after the write
        assert len(made) == 2 and made[0].n == 4 and made[1].n == 6
    finally:
        held.close()


def test_nothing_is_held_above_the_bound_or_without_one(pair, monkeypatch) -> None:
    held, plain = pair
    reads = []
    monkeypatch.setattr(point_cache, "_read", lambda con, most: reads.append(most) or N)
    q = IncidentQuery(columns=["id"], limit=5)
    small = DuckDBStore(held.path, memory_rows=N - 1)
    try:
        cache = PointCache.of_file(held.path)
        cache._changed(0)  # forget the copy the other tests made
        assert cache.select(small.con, q, ["id"], N - 1) is None  # the table is larger
        assert same(small.query_incidents(q), plain.query_incidents(q))
        assert plain.query_incidents(q).num_rows == 5 and reads == [N - 1]
        assert cache.select(plain.con, q, ["id"], 0) is None and reads == [N - 1]
    finally:
        small.close()


def test_the_server_holds_points_and_commands_do_not(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOTSPOTS_POINT_CACHE_ROWS", "123")
    settings_ = StoreSettings(duckdb_path=tmp_path / "s.duckdb")
    served = open_store(settings_, via_service=False)
    command = open_store(settings_)
    try:
        assert (served._memory_rows, command._memory_rows) == (123, 0)
    finally:
        command.close()
        served.close()
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        StoreSettings(point_cache_rows=-1)
