"""The PostGIS pool's connections: autocommit reads, and the check made when one is
handed out (:func:`geodata.stores.pg_pool.check_idle`) — no round trip for a healthy idle
connection, a caught failure for one the server has ended."""

from __future__ import annotations

import socket

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from geodata.stores import IncidentQuery
from geodata.stores.pg_pool import QUICKACK, GuardedPool, check_idle, quick_acks


@pytest.mark.postgis
def test_a_healthy_idle_connection_is_checked_without_a_query(postgis_url, monkeypatch):
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute("SELECT 1")

        def round_trip(c):
            raise AssertionError("check_idle queried a healthy idle connection")

        monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(round_trip))
        check_idle(conn)  # no query: the patched check would raise


@pytest.mark.postgis
def test_a_connection_the_server_ended_fails_the_check(postgis_url):
    with (
        psycopg.connect(postgis_url, autocommit=True) as victim,
        psycopg.connect(postgis_url, autocommit=True) as admin,
    ):
        pid = victim.info.backend_pid
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
        with pytest.raises(psycopg.OperationalError):
            check_idle(victim)


@pytest.mark.postgis
def test_pool_connections_read_in_autocommit_and_write_in_transactions(postgis_url):
    pool = GuardedPool(postgis_url, min_size=1, max_size=1, timeout_s=2.0)
    try:
        with pool.connection() as conn:
            assert conn.autocommit
            conn.execute("SELECT 1")  # a read: no transaction left open
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            conn.execute("CREATE TEMP TABLE t (v int)")
            with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
                conn.execute("INSERT INTO t VALUES (1)")
                conn.execute("SELECT 1 / 0")
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0  # rolled back
        with pool.connection() as conn:  # the same connection, handed out again
            assert conn.autocommit
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    finally:
        pool.close()


def _quick_ack_mode(conn: psycopg.Connection) -> int | None:
    """The kernel's quick-ACK state of the connection's socket (None: not TCP)."""
    sock = socket.socket(fileno=conn.pgconn.socket)
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        return sock.getsockopt(socket.IPPROTO_TCP, QUICKACK)
    finally:
        sock.detach()


@pytest.mark.postgis
@pytest.mark.skipif(QUICKACK is None, reason="TCP_QUICKACK is Linux's")
def test_quick_acks_takes_a_tcp_connection_out_of_delayed_acks(postgis_url):
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        for _ in range(3):  # request and answer, as a pooled connection goes
            conn.execute("SELECT repeat('x', 200000)").fetchone()
        tcp = _quick_ack_mode(conn) is not None  # 0: taken for interactive, ACKs delayed
        assert quick_acks(conn) is tcp
        assert _quick_ack_mode(conn) == (1 if tcp else None)
        conn.execute("SELECT 1")
        assert conn.closed is False  # the socket was borrowed, not closed
    assert quick_acks(conn) is False  # a closed connection is left alone


@pytest.mark.postgis
@pytest.mark.skipif(QUICKACK is None, reason="TCP_QUICKACK is Linux's")
def test_incident_reads_leave_delayed_acks_on_tcp(store_factory, monkeypatch):
    """A read of incidents (a COPY) asks for quick ACKs once its query is sent."""
    import geodata.stores.postgis as postgis

    store = store_factory.new("postgis")
    asked: list[bool] = []

    def spied(conn):
        asked.append(conn.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE)
        return quick_acks(conn)

    monkeypatch.setattr(postgis, "quick_acks", spied)
    store.query_incidents(IncidentQuery(limit=1))
    assert asked == [True]  # once, while the COPY runs
    with store.pool.connection() as conn:  # no query is sent when it is handed out
        assert _quick_ack_mode(conn) in (None, 1)  # None: a Unix socket, nothing to ask
