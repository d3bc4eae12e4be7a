"""API keys remembered by the process that checks them, forgotten whenever a key changes.

Every request with a key looked the key up in the store: on PostGIS a round trip and a
hop to a worker thread, about a sixth of a single OGC item's time at 50 clients. A
:class:`KeyCache` keeps the records found (unknown keys are never kept, so guessing
fills nothing) and forgets all of them whenever any key is added, revoked or deleted:

- a change made through the same store object (or, for a DuckDB file, any store object
  of that file in this process) clears it before the call returns, so ``DELETE
  /keys/{id}`` and ``hotspots keys revoke`` (which, while the service runs on a DuckDB
  file, runs inside the service: :mod:`geodata.stores.sharing`) apply at once. No other
  process can write a DuckDB file the service holds;
- on PostGIS, other processes (more server workers, the CLI, ``psql``) change the table
  too: a trigger (migration ``0006``) sends ``NOTIFY hotspots_api_keys`` with each change
  and :class:`KeyListener` clears the cache when it arrives (milliseconds after the
  commit). Nothing is kept unless the listener is connected and the trigger exists;
  while its connection is down every request reads the store.

Records are also kept at most :data:`MAX_AGE_S`, whatever happens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

from ..model import ApiKeyRecord
from .per_file import PerFile

log = logging.getLogger("hotspots.store")

#: seconds a record is kept at most, notified or not
MAX_AGE_S = 30.0
#: records kept at most (all are forgotten when full)
MAX_KEYS = 1_000
CHANNEL = "hotspots_api_keys"


class KeyCache(PerFile):
    """Records of known keys by hash; see the module's description."""

    def __init__(self, enabled: bool = True) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, tuple[float, ApiKeyRecord]] = {}
        self._generation = 0  # bumped by clear(): a lookup begun before may not keep its record
        self._enabled = enabled

    def get(
        self, key_hash: str, lookup: Callable[[str], ApiKeyRecord | None]
    ) -> ApiKeyRecord | None:
        """The record of ``key_hash``, from here when kept, else from ``lookup``."""
        now = time.monotonic()
        with self._lock:
            kept = self._records.get(key_hash)
            generation = self._generation
        if kept is not None and now - kept[0] < MAX_AGE_S:
            return kept[1]
        record = lookup(key_hash)
        with self._lock:
            if record is not None and self._enabled and generation == self._generation:
                if len(self._records) >= MAX_KEYS:
                    self._records.clear()
                self._records[key_hash] = (now, record)
        return record

    def peek(self, key_hash: str) -> ApiKeyRecord | None:
        """The record of ``key_hash`` if kept (never waits for the store)."""
        with self._lock:
            kept = self._records.get(key_hash)
        return kept[1] if kept is not None and time.monotonic() - kept[0] < MAX_AGE_S else None

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._records.clear()

    def enable(self, on: bool) -> None:
        """Keep records (``on``) or keep none, forgetting those kept either way."""
        with self._lock:
            self._enabled = on
            self._generation += 1
            self._records.clear()


class KeyListener:
    """A thread with a PostGIS connection of its own that clears ``cache`` on each
    ``NOTIFY hotspots_api_keys``; the cache keeps nothing while it is not listening."""

    RETRY_S = 2.0

    def __init__(self, url: str, cache: KeyCache, connect_timeout: int = 1) -> None:
        self.url, self.cache, self.connect_timeout = url, cache, connect_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hotspots-key-listener", daemon=True)
        self.cache.enable(False)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # whatever stopped it, keep nothing until it listens
                log.warning("API key cache off until the database answers again: %s", exc)
            self.cache.enable(False)
            self._stop.wait(self.RETRY_S)

    def _listen(self) -> None:
        with psycopg.connect(
            self.url, autocommit=True, connect_timeout=self.connect_timeout
        ) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            notified = conn.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'api_keys_changed' "
                "AND tgrelid = to_regclass('api_keys')"
            ).fetchone()[0]
            if not notified:  # a schema without the trigger: changes would go unseen
                log.warning("API keys are not cached: the api_keys trigger is missing")
                self._stop.set()
                return
            self.cache.enable(True)
            while not self._stop.is_set():  # notices sent between two waits queue up
                for _ in conn.notifies(timeout=0.5):
                    self.cache.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
