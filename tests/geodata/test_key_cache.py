"""API keys remembered by the checking process (:mod:`geodata.stores.key_cache`): kept
while nothing changes, forgotten when a key changes anywhere — in this store object,
another one of the same database, another process or ``psql``."""

from __future__ import annotations

import time
from datetime import datetime

import psycopg
import pytest

from api.security import new_api_key
from geodata.model import ApiKeyRecord
from geodata.stores.key_cache import MAX_KEYS, KeyCache


def record(name: str = "k", revoked: datetime | None = None) -> ApiKeyRecord:
    key_id, _, key_hash = new_api_key()
    return ApiKeyRecord(key_id, name, "analyst", key_hash, datetime(2024, 1, 1), revoked)


class Lookups:
    """A lookup that counts its calls and answers from ``known``."""

    def __init__(self, known: dict[str, ApiKeyRecord]) -> None:
        self.known, self.calls = known, 0

    def __call__(self, key_hash: str) -> ApiKeyRecord | None:
        self.calls += 1
        return self.known.get(key_hash)


def test_a_known_key_is_read_once_until_cleared():
    rec = record()
    cache, lookup = KeyCache(), Lookups({rec.key_hash: rec})
    assert cache.get(rec.key_hash, lookup) == rec
    assert cache.get(rec.key_hash, lookup) == rec
    assert lookup.calls == 1
    cache.clear()
    assert cache.get(rec.key_hash, lookup) == rec
    assert lookup.calls == 2


def test_unknown_keys_are_never_kept_and_the_cache_is_bounded():
    cache, lookup = KeyCache(), Lookups({})
    for _ in range(3):
        assert cache.get("guess", lookup) is None
    assert lookup.calls == 3
    recs = [record(str(i)) for i in range(MAX_KEYS + 1)]
    lookup = Lookups({r.key_hash: r for r in recs})
    for r in recs:
        cache.get(r.key_hash, lookup)
    assert len(cache._records) <= MAX_KEYS


def test_a_change_during_a_lookup_keeps_the_old_record_out():
    """A lookup that read the row before a revocation committed must not keep it."""
    old = record()
    cache = KeyCache()

    def racing(key_hash: str) -> ApiKeyRecord:
        cache.clear()  # the change's notice arrives while this lookup is under way
        return old

    assert cache.get(old.key_hash, racing) == old
    lookup = Lookups({old.key_hash: old})
    cache.get(old.key_hash, lookup)
    assert lookup.calls == 1  # read again: the raced record was not kept


def test_a_disabled_cache_keeps_nothing():
    rec = record()
    cache, lookup = KeyCache(enabled=False), Lookups({rec.key_hash: rec})
    cache.get(rec.key_hash, lookup)
    cache.get(rec.key_hash, lookup)
    assert lookup.calls == 2


def counting(store) -> Lookups:
    """Count the store's own reads of API keys."""
    reads = Lookups({})
    read = store._read_api_key

    def counted(key_hash: str):
        reads.calls += 1
        return read(key_hash)

    store._read_api_key = counted
    return reads


def wait_for(condition, seconds: float = 5.0) -> float:
    """Seconds until ``condition()`` held; fails after ``seconds``."""
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < seconds, "the condition never held"
        time.sleep(0.01)
    return time.monotonic() - t0


def test_duckdb_a_key_revoked_through_another_store_object_is_refused_at_once(store_factory):
    location = store_factory.location("duckdb")
    serving, other = store_factory.open("duckdb", location), store_factory.open("duckdb", location)
    rec = record()
    serving.add_api_key(rec)
    reads = counting(serving)
    assert serving.api_key_by_hash(rec.key_hash).revoked_at is None
    assert serving.api_key_by_hash(rec.key_hash).revoked_at is None
    assert reads.calls == 1  # kept
    assert other.revoke_api_key(rec.key_id, datetime(2024, 2, 1))
    assert serving.api_key_by_hash(rec.key_hash).revoked_at == datetime(2024, 2, 1)


@pytest.mark.postgis
def test_postgis_a_key_changed_by_another_process_or_psql_is_forgotten(store_factory):
    location = store_factory.location("postgis")
    serving, other = (
        store_factory.open("postgis", location),
        store_factory.open("postgis", location),
    )
    rec = record()
    serving.add_api_key(rec)
    reads = counting(serving)

    def kept() -> bool:
        before = reads.calls
        serving.api_key_by_hash(rec.key_hash)
        return reads.calls == before

    wait_for(kept)  # the listener is up: lookups no longer read the store

    # another store (another server worker, or the CLI) revokes it
    assert other.revoke_api_key(rec.key_id, datetime(2024, 2, 1))
    took = wait_for(lambda: serving.api_key_by_hash(rec.key_hash).revoked_at is not None, 2.0)
    assert took < 1.0, f"the revocation took {took:.2f} s to reach the serving process"

    # psql: any change to the table notifies, even one made by hand
    wait_for(kept)
    with psycopg.connect(location, autocommit=True) as conn:
        conn.execute("UPDATE api_keys SET name = 'renamed' WHERE key_id = %s", [rec.key_id])
    wait_for(lambda: serving.api_key_by_hash(rec.key_hash).name == "renamed", 2.0)


@pytest.mark.postgis
def test_postgis_without_the_trigger_nothing_is_kept(store_factory):
    location = store_factory.location("postgis")
    serving = store_factory.open("postgis", location)
    with psycopg.connect(location, autocommit=True) as conn:
        conn.execute("DROP TRIGGER api_keys_changed ON api_keys")
    rec = record()
    serving.add_api_key(rec)
    reads = counting(serving)
    for _ in range(20):
        serving.api_key_by_hash(rec.key_hash)
        time.sleep(0.02)
    assert reads.calls == 20
