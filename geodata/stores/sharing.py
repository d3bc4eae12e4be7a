"""The embedded store while the service runs: other processes work through the service.

DuckDB lets one process open a file for writing. While ``hotspots serve`` holds the
store, every other command (an import, logging a day of action, revoking a key,
making a map) would fail with DuckDB's lock error. Instead, the service *shares* its
open store: :func:`share` listens on a Unix socket in a private folder (mode 0700)
and writes ``<store>.serve`` beside the file (mode 0600: the socket's address, an
authentication key and the service's process id). :func:`open_store
<geodata.stores.open_store>`, finding the file locked, reads it and returns a
:class:`RemoteStore`: the same :class:`~geodata.stores.base.Store` interface, each
call sent to the service's store and run there, in its own thread (DuckDB serialises
it with the service's own work), its result or exception sent back. The command's
own code path is unchanged.

The channel is :mod:`multiprocessing.connection` (HMAC challenge on connect with
the key, then pickled messages): only a process that can read the 0600 file — the
store's owner, who could open the file anyway — can connect. Nothing listens on a
network port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, StoreUnavailable
from .base import Store

log = logging.getLogger(__name__)

#: methods of the interface that stay on the calling side
LOCAL = frozenset({"close", "area_polygon", "remembered_api_key"})
#: attributes read from the service's store as they are
ATTRIBUTES = frozenset({"analysis_crs"})
#: the store interface's public methods, each run in the service's process
FORWARDED = frozenset(
    name
    for name, value in vars(Store).items()
    if callable(value) and not name.startswith("_") and name not in LOCAL
)


def serve_file(path: str | Path) -> Path:
    """Where a service sharing the DuckDB file ``path`` says how to reach it."""
    return Path(f"{path}.serve")


class Sharing:
    """A service's store, shared on a Unix socket until :meth:`close`."""

    def __init__(self, store: Store, path: str | Path) -> None:
        self.store = store
        self.file = serve_file(path)
        self._folder = tempfile.mkdtemp(prefix="hotspots-store-", dir=_short_tmp())  # 0700
        self.address = os.path.join(self._folder, "store.sock")
        key = secrets.token_bytes(32)
        self._listener = Listener(self.address, family="AF_UNIX", authkey=key)
        os.chmod(self.address, 0o600)
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"address": self.address, "key": key.hex(), "pid": os.getpid()}, f)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="store-sharing", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError, AuthenticationError):  # closed, or failed the challenge
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        with contextlib.suppress(EOFError, OSError), conn:
            while True:
                name, args, kwargs = conn.recv()
                try:
                    if name in ATTRIBUTES:
                        outcome = (True, getattr(self.store, name))
                    elif name in FORWARDED:
                        outcome = (True, getattr(self.store, name)(*args, **kwargs))
                    else:
                        raise AttributeError(f"the store has no shared method {name!r}")
                except Exception as exc:  # raised again in the caller's process
                    outcome = (False, _portable(exc))
                conn.send(outcome)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.file.read_text())["address"] == self.address:
                self.file.unlink()
        shutil.rmtree(self._folder, ignore_errors=True)


def _short_tmp() -> str:
    """The temporary folder, unless its path leaves too little of a Unix socket's 107
    bytes (a deep ``TMPDIR``): then ``/tmp``."""
    tmp = tempfile.gettempdir()
    return tmp if len(tmp) <= 64 else "/tmp"


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a StoreUnavailable carrying its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return StoreUnavailable(f"{type(exc).__name__}: {exc}")


def share(store: Store, path: str | Path) -> Sharing | None:
    """Share ``store`` (opened on the DuckDB file ``path``); ``None`` if it cannot be."""
    try:
        return Sharing(store, path)
    except OSError as exc:
        log.warning("other hotspots commands cannot reach this store while it runs: %s", exc)
        return None


class RemoteStore(Store):
    """A store opened by a running service, reached through its socket."""

    def __init__(self, conn: Connection, path: str, analysis_crs: str, pid: int) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path
        self.analysis_crs = analysis_crs
        self.service_pid = pid

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                self._conn.send((name, args, kwargs))
                ok, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise StoreUnavailable(
                    f"lost the running service (process {self.service_pid}) that holds "
                    f"{self.path}: {exc}"
                ) from exc
        if not ok:
            raise value
        return value

    def apply(self, batches: Iterable, progress=None) -> None:
        batches = list(batches)  # one call, one transaction in the service
        self._call("apply", batches)
        if progress is not None:
            total = sum(b.incidents.num_rows for b in batches)
            progress(total, total)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.close()


def _forwarder(name: str):
    def call(self: RemoteStore, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    call.__name__ = name
    call.__doc__ = getattr(Store, name).__doc__
    return call


for _name in FORWARDED - set(vars(RemoteStore)):
    setattr(RemoteStore, _name, _forwarder(_name))
RemoteStore.__abstractmethods__ = frozenset()


def connect(path: str | Path, analysis_crs: str | None = None) -> RemoteStore | None:
    """The store of a service sharing the DuckDB file ``path``; ``None`` when none is.
    ``analysis_crs``, when given, must be the service's (as for the file itself)."""
    try:
        info = json.loads(serve_file(path).read_text())
        conn = Client(info["address"], family="AF_UNIX", authkey=bytes.fromhex(info["key"]))
    except (OSError, ValueError, KeyError, EOFError, AuthenticationError):
        return None
    remote = RemoteStore(conn, str(path), "EPSG:27700", int(info.get("pid", 0)))
    remote.analysis_crs = remote._call("analysis_crs")
    if analysis_crs and analysis_crs != remote.analysis_crs:
        remote.close()
        raise ConfigurationError(
            f"the store {path} holds coordinates in {remote.analysis_crs} but the analysis CRS "
            f"is set to {analysis_crs}; set HOTSPOTS_ANALYSIS_CRS={remote.analysis_crs}"
        )
    return remote


__all__ = ["FORWARDED", "RemoteStore", "Sharing", "connect", "serve_file", "share"]
