"""Writes of incidents made through this process, counted, so that what was read before
one is not used after it (the embedded store's copy in memory, the OGC pages made ahead).

:class:`WriteMark` changes its :meth:`~WriteMark.value` as each write begins and as it
ends, and gives None while one runs; a store method that writes incidents is marked
with :func:`writes_incidents`. Writes by other processes are not counted: a DuckDB file
has none while the service holds it (every writer goes through the service); a PostGIS
database may (imports from the command line), and readers that hold on to what they read
bound how long they hold it."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class WriteMark:
    """The count of the writes of incidents made through this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the fields below (and a subclass's)
        self._version = 0  # bumped as each write begins and ends
        self._writers = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write of incidents: nothing read before it is used during or after it."""
        self._changed(+1)
        try:
            yield
        finally:
            self._changed(-1)

    def _changed(self, writers: int) -> None:
        with self._lock:
            self._writers += writers
            self._version += 1
            self._forget()

    def _forget(self) -> None:
        """Drop what is held of the incidents (a subclass's; called under the lock)."""

    def value(self) -> int | None:
        """A number that changes as each write begins and ends; None while one runs."""
        with self._lock:
            return None if self._writers else self._version


def writes_incidents(method: Callable[..., T]) -> Callable[..., T]:
    """A store method that writes incidents, run inside its store's ``_write_mark``."""

    @functools.wraps(method)
    def writing(store, *args, **kwargs) -> T:
        with store._write_mark.writing():
            return method(store, *args, **kwargs)

    return writing
