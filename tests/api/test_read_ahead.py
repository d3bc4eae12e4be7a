"""Walks through the incidents make their next page ahead (api/ogc/read_ahead.py): the
pages are those of the store, each page is taken only by the same query, CRS and policy,
and only while fresh, never after its making failed, one page at a time per store."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from api.ogc import read_ahead as ra
from geodata.stores import IncidentQuery

PAGE = 700


def walk(env, role: str) -> tuple[list[str], int]:
    """The incident ids of a walk by next links, and its number of pages."""
    url, ids, pages = f"/ogc/collections/incidents/items?limit={PAGE}", [], 0
    while url:
        doc = env.request("GET", url, role).json()
        ids += [f["id"] for f in doc["features"]]
        pages += 1
        nxt = [lk for lk in doc["links"] if lk["rel"] == "next" and "geo+json" in lk["type"]]
        url = nxt[0]["href"] if nxt else None
    return ids, pages


@pytest.mark.parametrize("role", ["analyst", "partner"])
def test_a_walk_reads_its_pages_ahead_and_returns_the_stored_incidents(api_env, role, monkeypatch):
    store, threads = api_env.store, []
    read = store.query_incidents

    def spied(query=None):
        threads.append(threading.current_thread().name)
        return read(query)

    monkeypatch.setattr(store, "query_incidents", spied)
    ids, pages = walk(api_env, role)
    monkeypatch.undo()
    want = store.query_incidents(IncidentQuery(columns=["id"], include_sensitive=role == "analyst"))
    stored = sorted(want["id"].to_pylist(), key=str.encode)
    if role == "analyst":
        assert ids == stored  # in id order, each once
    else:  # shown by reference: as many, each once, none of the sensitive ones
        assert len(ids) == len(set(ids)) == len(stored) < api_env.table.num_rows
    assert pages >= 4
    # the first page and the first reached by a cursor are read by their requests; every
    # later page was read ahead, while the client read the one before
    ahead = [name == "hotspots-read-ahead" for name in threads]
    assert ahead == [False, False] + [True] * (pages - 2)


class Maker:
    """Pages made from a query: a list naming its ``after_id`` and sensitivity; ``gate``
    holds the making until set; ``fail`` makes it raise."""

    def __init__(self) -> None:
        self.gate, self.fail, self.made = threading.Event(), False, 0
        self.gate.set()

    def __call__(self, query: IncidentQuery) -> list:
        self.made += 1
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("the database went away")
        return [query.after_id, query.include_sensitive]

    def start(self, ahead: ra.ReadAhead, query: IncidentQuery, *context) -> bool:
        return ahead.start(ra.page_key(query, *context), lambda: self(query))


def test_each_page_takes_only_what_was_made_for_its_own_key():
    make, ahead = Maker(), ra.ReadAhead()
    analyst = IncidentQuery(columns=["id", "lon"], limit=1001, after_id="b#9")
    partner = replace(analyst, include_sensitive=False)
    assert make.start(ahead, analyst, "CRS84", "analyst")
    assert ahead.take(ra.page_key(partner, "CRS84", "analyst")) is None  # not a partner's
    assert ahead.take(ra.page_key(analyst, "CRS84", "partner")) is None  # nor their policy's
    assert ahead.take(ra.page_key(analyst, "EPSG:27700", "analyst")) is None
    assert ahead.take(ra.page_key(replace(analyst, columns=["id"]), "CRS84", "analyst")) is None
    rebuilt = replace(analyst, columns=("id", "lon"))  # the same query, made again
    assert ahead.take(ra.page_key(rebuilt, "CRS84", "analyst")) == ["b#9", True]
    assert ahead.take(ra.page_key(analyst, "CRS84", "analyst")) is None  # taken: gone
    assert make.start(ahead, partner) and ahead.take(ra.page_key(partner)) == ["b#9", False]
    assert make.made == 2


def test_pages_are_used_only_while_fresh(monkeypatch):
    make, ahead = Maker(), ra.ReadAhead()
    query = IncidentQuery(limit=11, after_id="a")
    assert make.start(ahead, query)
    monkeypatch.setattr(ra, "FRESH_S", -1.0)  # as if the client came back too late
    assert ahead.take(ra.page_key(query)) is None
    monkeypatch.setattr(ra, "FRESH_S", 60.0)
    assert ahead.take(ra.page_key(query)) is None  # dropped, not kept for later


def test_a_failed_making_gives_nothing_and_the_request_makes_it_again():
    make, ahead = Maker(), ra.ReadAhead()
    make.fail = True
    query = IncidentQuery(limit=11, after_id="a")
    assert make.start(ahead, query)
    assert ahead.take(ra.page_key(query)) is None
    make.fail = False
    assert make.start(ahead, query)  # the failed one no longer runs
    assert ahead.take(ra.page_key(query)) == ["a", True]


def test_one_page_made_ahead_at_a_time_and_a_request_waits_for_its_own():
    make, ahead = Maker(), ra.ReadAhead()
    make.gate.clear()
    first, second = IncidentQuery(after_id="a"), IncidentQuery(after_id="b")
    assert make.start(ahead, first)
    assert not make.start(ahead, second) and not make.start(ahead, first)  # one runs
    got: list = []
    taker = threading.Thread(target=lambda: got.append(ahead.take(ra.page_key(first))))
    taker.start()
    taker.join(0.2)
    assert taker.is_alive()  # waiting for the page it asked for
    make.gate.set()
    taker.join(10)
    assert got == [["a", True]] and make.made == 1
    assert make.start(ahead, second) and ahead.take(ra.page_key(second)) == ["b", True]


def test_pages_kept_are_bounded_and_each_store_has_its_own():
    make, ahead = Maker(), ra.ReadAhead()
    queries = [IncidentQuery(after_id=str(i)) for i in range(ra.KEPT + 3)]
    for q in queries:  # walks left after one page each
        assert make.start(ahead, q)
        ahead._pages[ra.page_key(q)].done.wait(10)
    assert [ahead.take(ra.page_key(q)) for q in queries[:3]] == [None] * 3  # oldest dropped
    assert [ahead.take(ra.page_key(q)) for q in queries[3:]] == [
        [q.after_id, True] for q in queries[3:]
    ]
    one, other = Maker(), Maker()  # any objects standing for two stores
    assert ra.read_ahead(one) is ra.read_ahead(one) is not ra.read_ahead(other)
    assert make.start(ra.read_ahead(one), queries[0])
    assert ra.read_ahead(other).take(ra.page_key(queries[0])) is None


def test_queries_with_polygons_and_lists_have_keys():
    import shapely

    box = shapely.box(0, 0, 10, 10)
    q = IncidentQuery(within=box, categories=["asb"], columns=["id"])
    assert ra.page_key(q) == ra.page_key(replace(q, within=shapely.box(0, 0, 10, 10)))
    assert ra.page_key(q) != ra.page_key(replace(q, within=shapely.box(0, 0, 10, 11)))
    assert ra.page_key(q) == ra.page_key(replace(q, categories=("asb",)))
    assert ra.page_key(replace(q, condition=("x = {}", ([1],)))) is None  # unhashable
    assert ra.page_key(q, {"a": 1}) is None
