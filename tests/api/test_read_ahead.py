"""Walks through the incidents make their next page ahead (api/ogc/read_ahead.py): the
pages are those of the store, each page is taken only by the same query, CRS and policy,
only while fresh and while no write of incidents came between, never after its making
failed, one page at a time per store."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from api.disclosure import Disclosure
from api.ogc import read_ahead as ra
from geodata.stores import IncidentQuery

PAGE = 700
ITEMS = f"/ogc/collections/incidents/items?limit={PAGE}"


def next_href(doc: dict) -> str | None:
    nxt = [lk for lk in doc["links"] if lk["rel"] == "next" and "geo+json" in lk["type"]]
    return nxt[0]["href"] if nxt else None


def walk(env, role: str, url: str = ITEMS) -> tuple[list[dict], int]:
    """The incident features of a walk by next links, and its number of pages."""
    features, pages = [], 0
    while url:
        doc = env.get(url, role).json()
        features += doc["features"]
        pages += 1
        url = next_href(doc)
    return features, pages


def made_on(store, monkeypatch) -> list[tuple]:
    """Each read of ``store``'s incidents from now on: (made ahead, after_id, sensitive
    included, in British National Grid)."""
    reads: list[tuple] = []
    read = store.query_incidents

    def spied(query=None):
        q = query or IncidentQuery()
        ahead = threading.current_thread().name.startswith("hotspots-read-ahead")
        reads.append((ahead, q.after_id, q.include_sensitive, "x" in (q.columns or ())))
        return read(query)

    monkeypatch.setattr(store, "query_incidents", spied)
    return reads


def eventually(check, seconds: float = 10.0) -> bool:
    """Whether ``check()`` holds within ``seconds`` (a page made ahead runs on its own)."""
    until = time.monotonic() + seconds
    while not check():
        if time.monotonic() > until:
            return False
        time.sleep(0.005)
    return True


def stored_ids(env, policy: Disclosure) -> list[str]:
    """The ids of the incidents the policy's role is shown, in the order of the walk."""
    query = IncidentQuery(columns=["id"], include_sensitive=policy.include_sensitive)
    return sorted(env.store.query_incidents(query)["id"].to_pylist(), key=str.encode)


@pytest.mark.parametrize("role", ["analyst", "partner"])
def test_a_walk_makes_its_pages_ahead_and_they_are_the_stored_incidents(
    api_env, api_kit, role, monkeypatch
):
    monkeypatch.setattr(ra, "FRESH_S", 60.0)  # a slow machine is not a reason to differ
    store = api_env.store
    reads = made_on(store, monkeypatch)
    features, pages = walk(api_env, role)
    monkeypatch.undo()
    policy = Disclosure(role=role, secret=api_kit.secret)
    stored = stored_ids(api_env, policy)
    assert [f["id"] for f in features] == [policy.incident_id(i) for i in stored]
    assert role == "analyst" or len(stored) < api_env.table.num_rows  # sensitive left out
    assert pages >= 4
    # the first page and the first reached by a cursor are read by their requests; every
    # later page was made ahead, while the client read the one before
    assert [ahead for ahead, *_ in reads] == [False, False] + [True] * (pages - 2)


def test_a_page_made_ahead_goes_only_to_the_same_request(api_env, api_kit, monkeypatch):
    monkeypatch.setattr(ra, "FRESH_S", 60.0)
    reads = made_on(api_env.store, monkeypatch)
    first = api_env.get(ITEMS).json()
    second = api_env.get(next_href(first)).json()  # an analyst's walk: page 3 made ahead
    third, after = next_href(second), second["features"][-1]["id"]
    partner = api_env.get(third, "partner").json()  # the analyst's cursor, a partner's key
    bng = api_env.get(third + "&crs=http://www.opengis.net/def/crs/EPSG/0/27700").json()
    analyst = api_env.get(third).json()
    assert (True, after, True, False) in reads  # the analyst's page 3, made ahead
    assert (False, after, True, False) not in reads  # and taken by the analyst's request
    assert (False, after, False, False) in reads  # the partner's, made by their request
    assert (False, after, True, True) in reads  # and the one in BNG
    ids = stored_ids(api_env, Disclosure(role="analyst"))
    assert [f["id"] for f in analyst["features"]] == ids[2 * PAGE : 3 * PAGE]
    assert [f["id"] for f in bng["features"]] == ids[2 * PAGE : 3 * PAGE]
    shown = Disclosure(role="partner", secret=api_kit.secret)
    rest = [shown.incident_id(i) for i in stored_ids(api_env, shown) if i.encode() > after.encode()]
    assert [f["id"] for f in partner["features"]] == rest[:PAGE]
    assert all(abs(f["geometry"]["coordinates"][0]) < 2 for f in analyst["features"])
    assert all(f["geometry"]["coordinates"][0] > 1000 for f in bng["features"])


def test_a_batch_deleted_during_a_walk_is_not_served_from_a_page_made_before(
    make_api_env, tmp_path, monkeypatch
):
    monkeypatch.setattr(ra, "FRESH_S", 60.0)
    with make_api_env(tmp_path) as env:
        reads = made_on(env.store, monkeypatch)
        first = env.get(ITEMS).json()
        second = env.get(next_href(first)).json()  # page 3 made ahead
        last = second["features"][-1]
        after, doomed = last["id"], last["properties"]["batch_id"]
        assert eventually(lambda: (True, after, True, False) in reads)
        rows = sorted(zip(env.table["id"].to_pylist(), env.table["batch_id"].to_pylist()))
        rows.sort(key=lambda r: r[0].encode())
        upcoming = [batch for i, batch in rows if i.encode() > after.encode()][:PAGE]
        assert doomed in upcoming  # page 3 as made ahead held some of the batch
        assert env.store.delete_batch(doomed)
        third = env.get(next_href(second)).json()
        assert (False, after, True, False) in reads  # made again by the request
        assert third["features"]
        assert not [f for f in third["features"] if f["properties"]["batch_id"] == doomed]


class Store:
    """A store for the unit tests: ``writes`` is its incident_writes() (None: writing)."""

    def __init__(self) -> None:
        self.writes: int | None = 0

    def incident_writes(self) -> int | None:
        return self.writes


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


@pytest.fixture
def kit(monkeypatch):
    monkeypatch.setattr(ra, "FRESH_S", 60.0)
    store = Store()
    ahead = ra.ReadAhead(store)
    yield Maker(), ahead, store
    ahead.close()


def test_each_page_takes_only_what_was_made_for_its_own_key(kit):
    make, ahead, _ = kit
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


def test_pages_are_used_only_while_fresh(kit, monkeypatch):
    make, ahead, _ = kit
    query = IncidentQuery(limit=11, after_id="a")
    assert make.start(ahead, query)
    ahead._pages[ra.page_key(query)].done.wait(10)
    monkeypatch.setattr(ra, "FRESH_S", -1.0)  # as if the client came back too late
    assert make.start(ahead, query)  # the stale page of that key made way for a new one
    ahead._pages[ra.page_key(query)].done.wait(10)
    assert ahead.take(ra.page_key(query)) is None
    monkeypatch.setattr(ra, "FRESH_S", 60.0)
    assert ahead.take(ra.page_key(query)) is None  # dropped, not kept for later
    assert make.made == 2


def test_a_write_since_the_making_began_or_running_voids_the_page(kit):
    make, ahead, store = kit
    query = IncidentQuery(limit=11, after_id="a")
    assert make.start(ahead, query)
    store.writes = 1  # an import or a deleted batch, done
    assert ahead.take(ra.page_key(query)) is None
    assert make.start(ahead, query)
    store.writes = None  # one running now
    assert ahead.take(ra.page_key(query)) is None
    assert not make.start(ahead, query)  # nor is one made while a write runs
    store.writes = 2
    assert make.start(ahead, query) and ahead.take(ra.page_key(query)) == ["a", True]


def test_a_failed_making_gives_nothing_and_the_request_makes_it_again(kit):
    make, ahead, _ = kit
    make.fail = True
    query = IncidentQuery(limit=11, after_id="a")
    assert make.start(ahead, query)
    assert ahead.take(ra.page_key(query)) is None
    make.fail = False
    assert make.start(ahead, query)  # the failed one no longer runs
    assert ahead.take(ra.page_key(query)) == ["a", True]


def test_one_page_made_ahead_at_a_time_and_a_request_waits_for_its_own(kit):
    make, ahead, _ = kit
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


def test_after_close_nothing_is_made_and_nothing_waits(kit):
    make, ahead, _ = kit
    query = IncidentQuery(after_id="a")
    assert make.start(ahead, query)
    ahead.close()  # waits for the page being made
    assert make.made == 1 and ahead.take(ra.page_key(query)) is None
    assert not make.start(ahead, query)  # the worker is gone: refused at once
    assert ahead.take(ra.page_key(query)) is None and make.made == 1
    assert not ahead._running


def test_pages_kept_are_bounded_and_each_store_has_its_own(kit):
    make, ahead, _ = kit
    queries = [IncidentQuery(after_id=str(i)) for i in range(ra.KEPT + 3)]
    for q in queries:  # walks left after one page each
        assert make.start(ahead, q)
        ahead._pages[ra.page_key(q)].done.wait(10)
    assert [ahead.take(ra.page_key(q)) for q in queries[:3]] == [None] * 3  # oldest dropped
    assert [ahead.take(ra.page_key(q)) for q in queries[3:]] == [
        [q.after_id, True] for q in queries[3:]
    ]
    one, other = Store(), Store()
    assert ra.read_ahead(one) is ra.read_ahead(one) is not ra.read_ahead(other)
    assert make.start(ra.read_ahead(one), queries[0])
    assert ra.read_ahead(other).take(ra.page_key(queries[0])) is None
    closing = ra.read_ahead(one)
    ra.close_read_ahead(one)
    assert ra.read_ahead(one) is not closing  # a later walk starts anew
    for store in (one, other):
        ra.close_read_ahead(store)


def test_queries_with_polygons_and_lists_have_keys():
    import shapely

    box = shapely.box(0, 0, 10, 10)
    q = IncidentQuery(within=box, categories=["asb"], columns=["id"])
    assert ra.page_key(q) == ra.page_key(replace(q, within=shapely.box(0, 0, 10, 10)))
    assert ra.page_key(q) != ra.page_key(replace(q, within=shapely.box(0, 0, 10, 11)))
    assert ra.page_key(q) == ra.page_key(replace(q, categories=("asb",)))
    assert ra.page_key(replace(q, condition=("x = {}", ([1],)))) is None  # unhashable
    assert ra.page_key(q, {"a": 1}) is None
