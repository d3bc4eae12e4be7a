"""The PostGIS pool's connections: autocommit reads, and the check made when one is
handed out (:func:`geodata.stores.pg_pool.check_idle`) — no round trip for a healthy idle
connection, a caught failure for one the server has ended."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from geodata.stores.pg_pool import GuardedPool, check_idle


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
