"""One object per DuckDB file in this process, shared by every store object of the file.

Every writer of a DuckDB file the service holds is in the service's process (no other
process can open it), so what a store object remembers of the file (API keys, incident
points) is kept once per file: a change made through any store object of the file
reaches the others at once."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import ClassVar, Self


class PerFile:
    """A base class: :meth:`of_file` gives the one instance of the file (a new one for
    ``":memory:"``, which no other store object shares); built with no arguments."""

    _by_path: ClassVar[weakref.WeakValueDictionary]
    _registry_lock: ClassVar[threading.Lock]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_path = weakref.WeakValueDictionary()  # each subclass its own
        cls._registry_lock = threading.Lock()

    @classmethod
    def of_file(cls, path: str) -> Self:
        """The instance shared by every store object of the DuckDB file ``path`` here."""
        if path == ":memory:":
            return cls()
        path = str(Path(path).resolve())
        with cls._registry_lock:
            found = cls._by_path.get(path)
            if found is None:
                found = cls._by_path[path] = cls()
            return found
