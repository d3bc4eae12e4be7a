"""The DuckDB store's id-ordered read without a wide sort (geodata.stores.duck_reads)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from geodata.stores import duck_reads, query
from geodata.stores.duck_reads import select_rows
from geodata.stores.query import IncidentQuery

COLUMNS = ["id", "category", "x", "occurred_at"]


@pytest.fixture
def con(tmp_path, monkeypatch):
    """Incidents inserted out of id order, with holes in the rowids (a deleted batch);
    every read takes the column-by-column path."""
    monkeypatch.setattr(duck_reads, "WIDE_SORT_ROWS", 0)
    c = duckdb.connect(str(tmp_path / "reads.duckdb"))
    c.execute("CREATE TABLE incidents (id VARCHAR, category VARCHAR, x DOUBLE, y DOUBLE, "
              "occurred_at TIMESTAMP, sensitive BOOLEAN)")  # fmt: skip
    rng = np.random.default_rng(3)
    rows = [
        (f"src/2024-0{m}#{i}", [None, "a", "b"][rng.integers(3)], float(rng.random()), 1.0,
         f"2024-0{m}-01", i % 10 == 7)
        for m in (3, 1, 2) for i in range(40)
    ]  # fmt: skip
    c.executemany("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?)", rows)
    c.execute("DELETE FROM incidents WHERE id LIKE 'src/2024-01#%'")
    c.execute("INSERT INTO incidents SELECT replace(id, '03#', '01#'), category, x, y, "
              "occurred_at, sensitive FROM incidents WHERE id LIKE 'src/2024-03#%'")  # fmt: skip
    yield c
    c.close()


def wide_sort(c, cond: str = "") -> pa.Table:
    return (
        c.sql(f"SELECT {', '.join(COLUMNS)} FROM incidents {cond} ORDER BY id").arrow().read_all()
    )


@pytest.mark.parametrize(
    ("query", "cond"),
    [
        (IncidentQuery(), ""),
        (IncidentQuery(categories=["a"]), "WHERE category = 'a'"),
        (IncidentQuery(include_sensitive=False), "WHERE NOT sensitive"),
    ],
)
def test_the_read_is_in_id_order_as_a_wide_sort_gives(con, query, cond) -> None:
    got = select_rows(con, query, COLUMNS, None)
    want = wide_sort(con, cond)
    assert got.num_rows == want.num_rows > 30
    assert got.equals(want)
    # id order is byte order ("#10" before "#2"), not the order the rows went in
    assert got.column("id").to_pylist() != [
        r[0] for r in con.sql("SELECT id FROM incidents").fetchall()
    ]


def test_texts_as_dictionaries_hold_the_same_values(con, monkeypatch) -> None:
    """Few distinct texts come as a dictionary (texts sorted); many (ids) as texts."""
    monkeypatch.setattr(query, "DICTIONARY_MAX", 2)
    monkeypatch.setattr(duck_reads, "DICTIONARY_MAX", 2)
    con.execute("UPDATE incidents SET category = 'it''s' WHERE category = 'a'")  # a quote
    want = wide_sort(con)
    assert want.column("category").null_count > 0
    for q in (IncidentQuery(), IncidentQuery(limit=4, offset=2)):
        got = select_rows(con, q, COLUMNS, None, dictionary=True)
        category = got.schema.field("category").type
        assert pa.types.is_dictionary(category), q
        assert got.column("category").chunk(0).dictionary.to_pylist() == ["b", "it's"]
        assert (
            got.column("category").null_count
            == want.column("category").slice(*((2, 4) if q.limit else (0,))).null_count
        )  # missing texts stay missing
        assert got.schema.field("id").type == pa.string()  # 80 distinct: texts
        assert got.cast(want.schema).equals(want.slice(2, 4) if q.limit else want), q
    con.execute("UPDATE incidents SET category = 'c' WHERE id LIKE 'src/2024-03#1%'")
    got = select_rows(con, IncidentQuery(), COLUMNS, None, dictionary=True)
    assert got.schema.field("category").type == pa.string()  # three texts now: as they are
    assert got.equals(wide_sort(con))


def test_rows_imported_during_the_read_are_not_mixed_in(con, monkeypatch) -> None:
    """Another cursor writes between the read's queries: the read keeps one snapshot,
    so its columns stay aligned (the row of every value is the row of its id)."""
    before = wide_sort(con)
    writer = con.cursor()
    real = duck_reads.ordered
    calls = []

    def ordered(col, order):
        if not calls:  # after the ids were read: a batch goes and another comes
            writer.execute("DELETE FROM incidents WHERE id LIKE 'src/2024-02#%'")
            writer.execute("INSERT INTO incidents VALUES ('a#0', 'b', 9.0, 9.0, "
                           "'2024-05-01', false)")  # fmt: skip
        calls.append(1)
        return real(col, order)

    monkeypatch.setattr(duck_reads, "ordered", ordered)
    got = select_rows(con, IncidentQuery(), COLUMNS, None)
    assert len(calls) == len(COLUMNS)
    assert got.equals(before)
    assert wide_sort(con).num_rows == before.num_rows - 40 + 1  # the writes did land


def test_a_read_inside_the_callers_transaction_uses_it(con) -> None:
    con.begin()
    con.execute("INSERT INTO incidents VALUES ('0#0', 'a', 0.5, 1.0, '2024-05-01', false)")
    got = select_rows(con, IncidentQuery(), COLUMNS, None)
    assert got.column("id")[0].as_py() == "0#0"  # its own uncommitted row, first in order
    con.rollback()
    assert select_rows(con, IncidentQuery(), COLUMNS, None).equals(wide_sort(con))


def test_paged_reads_keep_the_top_n(con) -> None:
    got = select_rows(con, IncidentQuery(limit=5, offset=3), COLUMNS, None)
    assert got.equals(wide_sort(con).slice(3, 5))
