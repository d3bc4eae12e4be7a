#!/usr/bin/env bash
# Throwaway PostGIS cluster for the test suite.
#
#   scripts/pg-test-cluster.sh start   # install PostGIS if needed, start, print URL
#   scripts/pg-test-cluster.sh url     # print URL of the running cluster
#   scripts/pg-test-cluster.sh stop    # stop it and delete its files
#
# The cluster lives in /tmp/hotspots-pg-$PORT (owned by postgres when run as
# root), listens on 127.0.0.1 only, trusts local connections and runs with
# fsync=off. Its socket directory is inside the data dir, so it never clashes
# with a system cluster. The postgres user never needs to read this repo.
#
# Environment:
#   HOTSPOTS_PG_PORT  first port to try (default 55432; next free one is used)
#   PG_BIN            PostgreSQL bin dir (default /usr/lib/postgresql/15/bin)
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
BASE_PORT="${HOTSPOTS_PG_PORT:-55432}"
DB_NAME=hotspots_test
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# One state file per checkout, so two clones do not stop each other's cluster.
REPO_KEY="$(cd "$HERE/.." && pwd | cksum | cut -d' ' -f1)"
STATE_FILE="/tmp/hotspots-pg-state-$REPO_KEY"

log() { echo "pg-test-cluster: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a server-side command as postgres when we are root (PostgreSQL refuses
# root), from /tmp so the postgres user never needs access to our cwd.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd /tmp && runuser -u postgres -- "$@")
    else
        (cd /tmp && "$@")
    fi
}

port_free() {
    # Succeeds when 127.0.0.1:$1 can be bound, i.e. nothing listens there.
    python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
PY
}

url_for() { echo "postgresql://postgres@127.0.0.1:$1/$DB_NAME"; }

# Loads PORT and DIR from the state file; fails when there is none.
load_state() {
    [ -f "$STATE_FILE" ] || return 1
    # shellcheck disable=SC1090
    . "$STATE_FILE"
    [ -n "${PORT:-}" ] && [ -n "${DIR:-}" ]
}

running() {
    [ -f "$DIR/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

stop_cluster() {
    if load_state; then
        if running; then
            log "stopping cluster on port $PORT"
            as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
                || as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 \
                || log "warning: could not stop postgres in $DIR"
        fi
        case "$DIR" in /tmp/hotspots-pg-*) rm -rf "$DIR" ;; esac
    fi
    rm -f "$STATE_FILE"
}

start_cluster() {
    # Idempotent: reuse a healthy cluster of this checkout.
    if load_state && running; then
        url_for "$PORT"
        return 0
    fi
    stop_cluster   # clear any stale state

    # Install PostgreSQL/PostGIS when missing (a no-op otherwise); stdout must stay the URL.
    bash "$HERE/install-postgis.sh" >&2
    [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL binaries in $PG_BIN (set PG_BIN)"
    id postgres >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ] || die "user 'postgres' does not exist"

    # First free port from BASE_PORT on.
    PORT=""
    for p in $(seq "$BASE_PORT" $((BASE_PORT + 100))); do
        if port_free "$p"; then PORT=$p; break; fi
    done
    [ -n "$PORT" ] || die "no free port in $BASE_PORT..$((BASE_PORT + 100))"

    DIR="/tmp/hotspots-pg-$PORT"
    if [ -d "$DIR" ]; then   # leftover of a crashed run: kill it and start over
        as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$DIR"
    fi
    mkdir -m 700 "$DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
    printf 'PORT=%s\nDIR=%s\n' "$PORT" "$DIR" >"$STATE_FILE"

    log "initdb in $DIR/data (port $PORT)"
    as_pg "$PG_BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
        >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }

    # Test-only settings: fast and unsafe.
    as_pg tee -a "$DIR/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/data'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
CONF

    if ! as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 start >/dev/null; then
        cat "$DIR/postgres.log" >&2 || true
        stop_cluster
        die "postgres did not start"
    fi

    local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
    "${psql[@]}" -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null \
        || { stop_cluster; die "could not create database $DB_NAME"; }
    # Prove PostGIS really works before any test relies on it.
    if ! "${psql[@]}" -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null \
        || ! "${psql[@]}" -d "$DB_NAME" -tAc "SELECT postgis_full_version()" >/dev/null; then
        stop_cluster
        die "CREATE EXTENSION postgis failed: is postgresql-15-postgis-3 installed for $PG_BIN?"
    fi
    log "ready: $(url_for "$PORT")"
    url_for "$PORT"
}

case "${1:-}" in
    start) start_cluster ;;
    stop) stop_cluster ;;
    url)
        if ! { load_state && running; }; then die "no running cluster (run: $0 start)"; fi
        url_for "$PORT"
        ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
