"""The next page of a walk through the incidents, made while the client reads this one.

GDAL, QGIS and ArcGIS read a layer a page at a time: they ask for the next page only
once they have parsed the last, so the server idles while the client works and the
client idles while the server works. On PostGIS the read of a page of 1,000 incidents
(a COPY of about 240 kB, parsed into Arrow) is about half the server's time for it, and
making its features most of the rest. When a page reached by a cursor has more after it,
the next page's features are made on the store's read-ahead thread once this page is
sent (:meth:`ReadAhead.start`), and the request for that page takes them
(:meth:`ReadAhead.take`) instead of making them again.

What a page holds does not change: it is made by the same code from the same key (the
:class:`~geodata.stores.IncidentQuery` with its filters, sensitivity, columns and keyset,
the CRS and the role's disclosure policy), only a little earlier, as if the client had
asked sooner. A page is not used when the store's incidents were written through this
process since its making began (:meth:`~geodata.stores.base.Store.incident_writes`), nor
when made more than :data:`FRESH_S` before it is asked for (which bounds what a PostGIS
import from another process can leave unseen), nor when its making raised (the request
then makes it, and meets the error itself). One page is made ahead at a time per store,
so it never takes more than one connection or thread from requests under load, and
pages first reached without a cursor (a map's box, a first page) start none.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import TYPE_CHECKING

import shapely

if TYPE_CHECKING:
    from geodata.stores import IncidentQuery

log = logging.getLogger(__name__)
#: how long a page made ahead stays usable, from the start of its making (GDAL asks
#: for the next page some 20-40 ms after the last)
FRESH_S = 1.0
#: longest a request waits for its page still being made before making it itself
WAIT_S = 10.0
#: most pages kept made ahead for one store (walks by several clients at once)
KEPT = 8


class _Ahead:
    """One page being made ahead: its result (None if it raised) once ``done`` is set."""

    def __init__(self, mark: int) -> None:
        self.mark = mark  # the store's incident_writes() as its making began
        self.started = time.monotonic()
        self.done = threading.Event()
        self.result: object = None


class ReadAhead:
    """Pages made ahead of the walks through one store's incidents, on a thread of its own."""

    def __init__(self, store) -> None:
        self._store = weakref.ref(store)
        self._lock = threading.Lock()
        self._pages: dict[Hashable, _Ahead] = {}
        self._running = False
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="hotspots-read-ahead")

    def _mark(self) -> int | None:
        store = self._store()
        return None if store is None else store.incident_writes()

    def take(self, key: Hashable | None) -> object:
        """The page made ahead for ``key`` (waiting for it if still being made), or None."""
        with self._lock:
            ahead = self._pages.pop(key, None) if key is not None else None
        if ahead is None or time.monotonic() - ahead.started > FRESH_S:
            return None
        if not ahead.done.wait(WAIT_S) or ahead.mark != self._mark():
            return None
        return ahead.result

    def start(self, key: Hashable | None, make: Callable[[], object]) -> bool:
        """Run ``make`` for ``key`` on the read-ahead thread unless a page is being made
        ahead already or a write of incidents runs; whether it started."""
        mark = self._mark()
        now = time.monotonic()
        with self._lock:
            for old in [k for k, a in self._pages.items() if now - a.started > FRESH_S]:
                del self._pages[old]
            if key is None or mark is None or self._running or key in self._pages:
                return False
            while len(self._pages) >= KEPT:
                del self._pages[next(iter(self._pages))]
            ahead = self._pages[key] = _Ahead(mark)
            self._running = True
        try:
            self._worker.submit(self._make, make, ahead)
        except RuntimeError:  # shut down (the app is stopping), or no thread to be had
            with self._lock:
                self._pages.pop(key, None)
            self._made(ahead)
            return False
        return True

    def _make(self, make: Callable[[], object], ahead: _Ahead) -> None:
        try:
            ahead.result = make()
        except Exception:
            log.debug("a page made ahead failed", exc_info=True)
        finally:
            self._made(ahead)

    def _made(self, ahead: _Ahead) -> None:
        with self._lock:
            self._running = False
        ahead.done.set()

    def close(self) -> None:
        """Make no more pages, and wait (up to :data:`WAIT_S`) for one being made."""
        self._worker.shutdown(wait=False)  # one queued at most: it runs, then the thread ends
        with self._lock:
            pages, self._pages = list(self._pages.values()), {}
        until = time.monotonic() + WAIT_S
        for ahead in pages:
            ahead.done.wait(max(0.0, until - time.monotonic()))


_AHEAD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_AHEAD_LOCK = threading.Lock()


def read_ahead(store) -> ReadAhead:
    """The reads ahead of ``store`` (one object per store, gone with it)."""
    with _AHEAD_LOCK:
        ahead = _AHEAD.get(store)
        if ahead is None:
            ahead = _AHEAD[store] = ReadAhead(store)
        return ahead


def close_read_ahead(store) -> None:
    """Stop making pages ahead for ``store`` (before it closes); a later walk starts anew."""
    with _AHEAD_LOCK:
        ahead = _AHEAD.pop(store, None)
    if ahead is not None:
        ahead.close()


def page_key(query: IncidentQuery, *context: object) -> tuple | None:
    """Everything that decides a page: the fields of its ``query`` and its ``context``
    (CRS, disclosure policy), as a hashable key (None when some part cannot be)."""
    parts: list[object] = []
    for field in fields(query):
        value = getattr(query, field.name)
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, shapely.Geometry):
            value = shapely.to_wkb(value)
        parts.append((field.name, value))
    key = (tuple(parts), *context)
    try:
        hash(key)
    except TypeError:
        return None
    return key
