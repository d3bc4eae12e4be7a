"""A PostGIS connection pool that fails fast while the server is down and comes back
at the first request after it answers again.

psycopg's pool, left to itself, makes every caller wait its full ``timeout`` for a
connection while the server is down, and reconnects in the background with a growing
back-off, so the first requests after the server returns may still wait and fail.
:class:`GuardedPool` wraps it with a circuit breaker:

- a caller that gets no connection within ``timeout_s`` (about a second) while the
  pool's attempts to connect fail, or whose connection breaks, *trips* the breaker
  (when every connection is merely busy, callers wait up to :data:`BUSY_WAIT_S`);
- while tripped, callers fail at once (:class:`psycopg_pool.PoolTimeout`), except
  one at a time, which tries a direct connection (bounded by libpq's
  ``connect_timeout``; a server that is down refuses it at once);
- when that probe connects, the pool is replaced by a fresh one, so the same request
  goes on with a good connection.

Connections are checked when handed out (:func:`check_idle`), so a connection broken by
a restart of the server is never given to a caller. They are in autocommit mode: a read is
one statement and one round trip, with no ``BEGIN``/``COMMIT`` around it; writes of more
than one statement run in ``conn.transaction()``.
"""

from __future__ import annotations

import math
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

#: how long a caller waits for a connection while all are busy (the server answering)
BUSY_WAIT_S = 10.0


def check_idle(conn: psycopg.Connection) -> None:
    """The check of a connection the pool hands out, without a round trip when it is idle
    and its socket has nothing to read: the server has not written to it since the last
    answer. A server that stopped, restarted or ended the session leaves the socket
    readable (its last message, or the end of the stream), and then, as for a connection
    in any other state, psycopg's own check sends an empty query, which raises for a broken
    connection so that the pool replaces it. (That check was a round trip on every request:
    a quarter of a single OGC item's time at 50 clients.)"""
    if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
        poll = select.poll()
        poll.register(conn.pgconn.socket, select.POLLIN)
        if not poll.poll(0):
            return
    ConnectionPool.check_connection(conn)


#: Linux's option to acknowledge received segments at once (None elsewhere)
QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def quick_acks(conn: psycopg.Connection) -> bool:
    """Acknowledge the reply now being received on ``conn`` segment by segment, if it
    comes over TCP on Linux; whether it was asked. Call it after sending the query.

    A connection that sends a query soon after an answer is taken by Linux for an
    interactive one, which delays its ACKs by up to 40 ms hoping to carry them on data.
    A page of a COPY (about 240 kB for 1,000 incidents) is more than the server's send
    buffer holds unacknowledged, so the server then waits for those ACKs: 5-9 of GDAL's
    100 pages of a 100k read stalled about 50 ms each after about 135 kB over loopback.
    ``TCP_QUICKACK`` leaves that mode until the next query is sent, and the stalls go (a
    Unix socket has none to begin with)."""
    if QUICKACK is None or conn.closed:
        return False
    try:
        sock = socket.socket(fileno=conn.pgconn.socket)  # borrowed: detached, never closed
    except OSError:  # a hint: never the reason a read fails
        return False
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        return True
    except OSError:
        return False
    finally:
        sock.detach()


class GuardedPool:
    """``connection()`` as psycopg's pool, with the circuit breaker described above."""

    def __init__(self, url: str, *, min_size: int, max_size: int, timeout_s: float) -> None:
        self.url = url
        self.min_size, self.max_size, self.timeout_s = min_size, max_size, timeout_s
        #: libpq takes whole seconds
        self.connect_timeout = max(1, math.ceil(timeout_s))
        self._down = False
        self._errors_seen = 0
        self._probing = threading.Lock()
        self.pool = self._new_pool()
        try:
            self.pool.open(wait=True, timeout=timeout_s)
        except PoolTimeout:
            self.pool.close()
            raise

    def _new_pool(self) -> ConnectionPool:
        return ConnectionPool(
            self.url,
            min_size=self.min_size,
            max_size=self.max_size,
            open=False,
            timeout=self.timeout_s,
            check=check_idle,
            kwargs={"connect_timeout": self.connect_timeout, "autocommit": True},
            name="hotspots",
        )

    @property
    def down(self) -> bool:
        """Whether the last attempt found the server not answering."""
        return self._down

    def _trip(self) -> None:
        self._down = True

    def _recover(self) -> None:
        """While down: fail at once, or (one caller at a time) probe and rebuild."""
        if not self._probing.acquire(blocking=False):
            raise PoolTimeout("the database server is not answering (being probed)")
        try:
            if not self._down:
                return
            psycopg.connect(self.url, connect_timeout=self.connect_timeout).close()
            old, self.pool = self.pool, self._new_pool()
            self.pool.open(wait=False)
            self._down = False
            old.close(timeout=0)
        finally:
            self._probing.release()

    def _connect_errors_grew(self) -> bool:
        errors = self.pool.get_stats().get("connections_errors", 0)
        grew, self._errors_seen = errors > self._errors_seen, errors
        return grew

    def _getconn(self) -> tuple[ConnectionPool, psycopg.Connection]:
        busy_until = time.monotonic() + BUSY_WAIT_S
        while True:
            pool = self.pool
            try:
                return pool, pool.getconn(timeout=self.timeout_s)
            except PoolTimeout:
                if self._down or self._connect_errors_grew() or time.monotonic() >= busy_until:
                    self._trip()
                    raise

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection (autocommit: wrap writes in ``conn.transaction()``);
        ``PoolTimeout`` or ``OperationalError`` when the server is not answering (at once
        while the breaker is tripped)."""
        if self._down:
            self._recover()
        pool, conn = self._getconn()
        try:
            with conn:
                yield conn
        except psycopg.OperationalError:
            if conn.broken or conn.closed:
                self._trip()
            raise
        finally:
            pool.putconn(conn)

    def close(self) -> None:
        self.pool.close()
