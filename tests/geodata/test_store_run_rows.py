"""Run features as rows (``geodata.stores.run_rows``), on both stores.

A view of 200 square hotspots on a grid is written; the store's selections are
checked against the same selection made in Python on the features (the API's
CQL2 evaluator :func:`api.ogc.filters.matches` and shapely), and a spy on the
store's transactions shows that bbox and filter reach the database query: it
hands back the selected rows, not the view.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
from functools import partial

import pytest
import shapely
from shapely.geometry import box, mapping, shape

from api.ogc.crs import CRS84
from api.ogc.filters import matches
from api.ogc.filters import parse as parse_filter
from geodata.model import RunRecord
from geodata.stores import Store
from geodata.stores.run_rows import RunFeatureQuery

RUN, VIEW = "run-rows-test", "rules-1/analyst"
T0 = datetime(2024, 5, 1, 12, 30)
X0, Y0, STEP = 0.30, 51.40, 0.002  # the grid's corner (CRS84) and cell size
PROPS = {"count": "integer", "score": "number", "cell": "string", "mixed": "string",
         "flag": "boolean", "label": "string"}  # fmt: skip
MIXED = ["a", "b", 5, 2.5, True, None, {"k": 1}, [1], "A", "é"]


def features() -> list[dict]:
    """200 squares (20 × 10) with properties of every JSON type, some missing or null,
    one feature without geometry."""
    out = []
    for i in range(200):
        col, row = i % 20, i // 20
        geom = box(
            X0 + col * STEP, Y0 + row * STEP, X0 + (col + 0.9) * STEP, Y0 + (row + 0.9) * STEP
        )
        props = {
            "count": i,
            "score": i / 200 if i % 7 else i // 7,  # floats, and some ints
            "cell": f"c-{i % 13}",
            "mixed": MIXED[i % len(MIXED)],
            "flag": [True, False, 1, 0, None][i % 5],
            "label": None if i % 11 == 0 else ("a_c" if i % 3 == 0 else f"x{i}%y"),
        }
        if i % 17 == 0:
            del props["mixed"]
        shaped = None if i == 42 else mapping(geom)
        out.append(
            {"type": "Feature", "id": f"h{i % 150}", "geometry": shaped, "properties": props}
        )
    return json.loads(json.dumps(out))  # as stored: lists, not tuples


@pytest.fixture
def rows(store: Store):
    store.save_run(RunRecord(RUN, "dbscan", {}, {}, {"features": []}, T0))
    store.run_rows.save_view(RUN, VIEW, features(), {"properties": {}})
    return store


def ids(found) -> list[str]:
    return [f["id"] for _, f in found]


def python_select(feats, within=None, filt=None) -> list[dict]:
    out = []
    for f in feats:
        if within is not None and not (f["geometry"] and shape(f["geometry"]).intersects(within)):
            continue
        if filt is not None and not matches(filt, f):
            continue
        out.append(f)
    return out


def test_a_view_reads_back_its_features_in_order_with_count_and_bounds(rows):
    feats = features()
    view = rows.run_rows.view(RUN, VIEW)
    assert view.n_features == 200 and view.meta == {"properties": {}}
    geoms = [shape(f["geometry"]) for f in feats if f["geometry"]]
    assert view.bbox == [float(v) for v in shapely.total_bounds(geoms)]
    got = rows.run_rows.page(RunFeatureQuery(RUN, VIEW))
    assert [f for _, f in got] == feats and [s for s, _ in got] == list(range(200))
    assert rows.run_rows.view(RUN, "rules-1/public") is None  # another view: not made
    assert rows.run_rows.page(RunFeatureQuery(RUN, "rules-1/public")) == []
    # the first feature of an id, as the listing has it
    assert rows.run_rows.feature(RUN, VIEW, "h10") == feats[10]
    assert rows.run_rows.feature(RUN, VIEW, "nope") is None


def test_keyset_pages_visit_every_feature_once(rows):
    seen, after = [], None
    while True:
        page = rows.run_rows.page(RunFeatureQuery(RUN, VIEW, after=after, limit=37))
        seen += [s for s, _ in page]
        if len(page) < 37:
            break
        after = page[-1][0]
    assert seen == list(range(200))
    page = rows.run_rows.page(RunFeatureQuery(RUN, VIEW, offset=190, limit=37))
    assert [s for s, _ in page] == list(range(190, 200))


def test_saving_a_view_again_keeps_the_first(rows):
    again = rows.run_rows.save_view(RUN, VIEW, features()[:3], {"properties": {"x": 1}})
    assert again.n_features == 3  # what the caller asked to write ...
    assert rows.run_rows.view(RUN, VIEW).n_features == 200  # ... but the first one stays
    assert rows.run_rows.count(RunFeatureQuery(RUN, VIEW)) == 200


def test_an_empty_view_is_stored_as_complete(store: Store):
    store.save_run(RunRecord(RUN, "dbscan", {}, {}, {"features": []}, T0))
    store.run_rows.save_view(RUN, "rules-1/public", [], {"properties": {}})
    view = store.run_rows.view(RUN, "rules-1/public")
    assert view.n_features == 0 and view.bbox is None
    assert store.run_rows.page(RunFeatureQuery(RUN, "rules-1/public")) == []


FILTERS = [
    "count > 20", "count >= 20 AND score < 0.5", "NOT (count > 20)", "score = 1",
    "score > 0.25 OR count < 3", "cell = 'c-7'", "cell <> 'c-7'", "cell < 'c-3'",
    "mixed = 'a'", "mixed <> 'a'", "mixed > 'a'", "NOT (mixed > 'a')", "mixed IS NULL",
    "NOT (mixed IS NULL)", "mixed IN ('a', 'A', 'é')", "NOT (mixed IN ('a', 'b'))",
    "count IN (1, 5, 9)", "NOT (count IN (1, 5, 9))", "count BETWEEN 5 AND 15",
    "NOT (count BETWEEN 5 AND 15)", "mixed BETWEEN 'a' AND 'b'", "flag = true",
    "flag <> true", "NOT (flag = false)", "label LIKE 'a%'", "label LIKE 'x1_\\%%'",
    "label LIKE '%\\%y'", "NOT (label LIKE 'x%')", "count = 1 OR mixed = 'a'",
    "S_INTERSECTS(geometry, POLYGON((0.301 51.401, 0.309 51.401, 0.309 51.405, 0.301 51.401)))",
    "NOT S_INTERSECTS(geometry, POLYGON((0.3 51.4, 0.33 51.4, 0.33 51.41, 0.3 51.4)))",
    "count > 150 OR S_INTERSECTS(geometry, POINT(0.3055 51.4015))",
    "NOT (count < 100 AND S_INTERSECTS(geometry, POINT(0.3055 51.4015)))",
]  # fmt: skip


@pytest.mark.parametrize("text", FILTERS)
def test_filters_in_sql_select_what_the_python_evaluator_selects(rows, text):
    filt = parse_filter(text, None, CRS84, PROPS)
    want = python_select(features(), filt=filt)
    q = RunFeatureQuery(RUN, VIEW, condition=filt.tree, refine=partial(matches, filt))
    assert ids(rows.run_rows.page(q)) == [f["id"] for f in want]
    assert rows.run_rows.count(q) == len(want)
    paged = rows.run_rows.page(RunFeatureQuery(**{**q.__dict__, "offset": 2, "limit": 5}))
    assert ids(paged) == [f["id"] for f in want][2:7]


@pytest.mark.parametrize(
    "bbox",
    [(0.3005, 51.4005, 0.3041, 51.4041), (0.3, 51.4, 0.35, 51.43), (0.2, 51.3, 0.25, 51.35)],
)
def test_bbox_in_sql_selects_what_shapely_selects(rows, bbox):
    within = box(*bbox)
    want = python_select(features(), within=within)
    q = RunFeatureQuery(RUN, VIEW, within=within, limit=1000)
    assert ids(rows.run_rows.page(q)) == [f["id"] for f in want]
    assert rows.run_rows.count(q) == len(want)


@contextmanager
def spying(store: Store, monkeypatch):
    """Record (sql, values, rows handed back) of every statement the store runs."""
    log: list[list] = []
    real = store._service

    class Result:
        def __init__(self, inner, entry):
            self.inner, self.entry = inner, entry

        def fetchall(self):
            got = self.inner.fetchall()
            self.entry[2] += len(got)
            return got

        def fetchmany(self, n):
            got = self.inner.fetchmany(n)
            self.entry[2] += len(got)
            return got

    class Cursor:
        def __init__(self, inner):
            self.inner = inner

        def execute(self, sql, values=None):
            entry = [sql, list(values or []), 0]
            log.append(entry)
            return Result(self.inner.execute(sql, values), entry)

    @contextmanager
    def service(action, *a):
        with real(action, *a) as cur:
            yield Cursor(cur)

    monkeypatch.setattr(store, "_service", service)
    yield log


def test_the_database_query_gets_the_bbox_and_filter_and_hands_back_only_matches(
    rows, store_kind, monkeypatch
):
    within = box(0.3005, 51.4005, 0.3035, 51.4035)  # 4 of the 200 squares
    with spying(rows, monkeypatch) as log:
        got = rows.run_rows.page(RunFeatureQuery(RUN, VIEW, within=within, limit=100))
    assert ids(got) == ["h0", "h1", "h20", "h21"]
    (sql, values, handed), *_ = log
    assert "run_features" in sql and handed <= 4  # not the 200 of the view
    if store_kind == "postgis":
        assert "ST_Intersects(geom" in sql and shapely.to_wkb(within) in values
    else:
        assert "max_x >=" in sql and {0.3005, 51.4035} <= set(values)
    filt = parse_filter("count > 190", None, CRS84, PROPS)
    with spying(rows, monkeypatch) as log:
        got = rows.run_rows.page(RunFeatureQuery(RUN, VIEW, condition=filt.tree, limit=100))
        n = rows.run_rows.count(RunFeatureQuery(RUN, VIEW, condition=filt.tree))
    assert len(got) == n == 9
    assert [e[2] for e in log] == [9, 1]  # the rows, then count(*)'s one row
    assert all(190.0 in e[1] for e in log)


def test_deleting_a_run_deletes_its_views(store: Store):
    store.save_run(RunRecord(RUN, "dbscan", {}, {}, {"features": []}, T0))
    store.run_rows.save_view(RUN, VIEW, features(), {"properties": {}})
    assert store.delete_run(RUN)
    assert store.run_rows.view(RUN, VIEW) is None
    assert store.run_rows.count(RunFeatureQuery(RUN, VIEW)) == 0


def test_run_headers_leave_out_the_result(store: Store):
    record = RunRecord(RUN, "gistar", {"a": 1}, {"b": [1]}, {"features": [1]}, T0)
    store.save_run(record)
    assert store.run_rows.header(RUN) == RunRecord(RUN, "gistar", {"a": 1}, {"b": [1]}, {}, T0)
    assert store.run_rows.latest_header("gistar").run_id == RUN
    assert store.run_rows.header("nope") is None and store.run_rows.latest_header("kde") is None


def test_concurrent_first_reads_write_one_view(store: Store):
    """Requests racing to make the same view all get it; it is written once."""
    from concurrent.futures import ThreadPoolExecutor

    store.save_run(RunRecord(RUN, "dbscan", {}, {}, {"features": []}, T0))
    with ThreadPoolExecutor(6) as pool:
        made = list(
            pool.map(
                lambda _: store.run_rows.save_view(RUN, VIEW, features(), {"properties": {}}),
                range(6),
            )
        )
    assert all(v.n_features == 200 for v in made)
    assert store.run_rows.count(RunFeatureQuery(RUN, VIEW)) == 200
    assert [s for s, _ in store.run_rows.page(RunFeatureQuery(RUN, VIEW))] == list(range(200))
