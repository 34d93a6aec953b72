#!/usr/bin/env bash
# Finds or starts the PostgreSQL server that quartier-server's tests make their databases on, and prints
#     export QUARTIER_TEST_POSTGRES=postgres://…
# for the caller to eval:
#     eval "$(bash scripts/postgres.sh)"
#
# Idempotent, and quick when PostgreSQL is installed (seconds):
# 1. QUARTIER_TEST_POSTGRES already set and answering: printed back as it is.
# 2. The server this script started earlier still answers at the URL it printed: reused.
# 3. Otherwise PostgreSQL's programs are found (/usr/lib/postgresql/*/bin, then PATH), Debian's
#    `postgresql` package installed if there are none (apt-get update once, then apt-get install), and a
#    cluster of our own is made (once) under $QUARTIER_POSTGRES_DIR and started on a free loopback port,
#    with a Unix socket in that folder, and a role for the tests (LOGIN CREATEDB, password auth).
#
# Run as root (CI), PostgreSQL runs as the `postgres` user, which owns the folder (default
# /var/tmp/quartier-postgres, kept between runs); run as another user, as that user (default
# ${XDG_CACHE_HOME:-~/.cache}/quartier-postgres). The cluster is a disposable test server: fsync is off.
# It is left running for the next run; this script never stops or changes a server it did not start.
# Stop ours with: pg_ctl -D "$QUARTIER_POSTGRES_DIR/data" stop (as the user it runs as).
# Everything but the export line goes to stderr.
set -euo pipefail

ROLE=quartier_test
PASSWORD=quartier_test
FIRST_PORT=54329

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
fail() {
    say "$*"
    exit 1
}

if [ "$(id -u)" = 0 ]; then
    BASE="${QUARTIER_POSTGRES_DIR:-/var/tmp/quartier-postgres}"
    OWNER=postgres
else
    BASE="${QUARTIER_POSTGRES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quartier-postgres}"
    OWNER="$(id -un)"
fi
DATA="$BASE/data"
SOCKET="$BASE/socket"
PORT_FILE="$BASE/port"

url_for() { printf 'postgres://%s:%s@127.0.0.1:%s/postgres' "$ROLE" "$PASSWORD" "$1"; }
answers() { command -v psql >/dev/null 2>&1 && PGCONNECT_TIMEOUT=5 psql "$1" -XAtqc 'SELECT 1' >/dev/null 2>&1; }
export_line() { printf 'export QUARTIER_TEST_POSTGRES=%q\n' "$1"; }

# 1. A server the caller gave.
if [ -n "${QUARTIER_TEST_POSTGRES:-}" ]; then
    if answers "$QUARTIER_TEST_POSTGRES"; then
        say "using the server of QUARTIER_TEST_POSTGRES"
        export_line "$QUARTIER_TEST_POSTGRES"
        exit 0
    fi
    say "QUARTIER_TEST_POSTGRES is set but does not answer: starting a server of our own"
fi

# 2. Ours, still running.
if [ -f "$PORT_FILE" ] && answers "$(url_for "$(cat "$PORT_FILE")")"; then
    say "reusing the server on 127.0.0.1:$(cat "$PORT_FILE") ($DATA)"
    export_line "$(url_for "$(cat "$PORT_FILE")")"
    exit 0
fi

# 3. PostgreSQL's programs: the newest Debian version, then whatever PATH has.
find_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        printf '%s\n' "$dir"
    elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}
BIN="$(find_bin)"
if [ -z "$BIN" ] || ! command -v psql >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || fail "PostgreSQL is not installed; install Debian's postgresql package (as root: apt-get install postgresql), then run this again"
    command -v apt-get >/dev/null 2>&1 || fail "PostgreSQL is not installed and this is not a Debian system; install PostgreSQL (initdb, pg_ctl, psql), then run this again"
    say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(find_bin)"
    [ -n "$BIN" ] || fail "the postgresql package is installed but initdb and pg_ctl were not found"
fi

# Runs a PostgreSQL program as the user that owns the cluster (never as root: initdb refuses it).
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u "$OWNER" -- "$@")
        else
            (cd / && su "$OWNER" -s /bin/sh -c "$(printf '%q ' "$@")")
        fi
    else
        "$@"
    fi
}
if [ "$(id -u)" = 0 ] && ! id "$OWNER" >/dev/null 2>&1; then
    fail "there is no '$OWNER' user to run PostgreSQL as; installing Debian's postgresql package makes it"
fi

mkdir -p "$BASE"
if [ "$(id -u)" = 0 ]; then chown "$OWNER": "$BASE"; fi
chmod 700 "$BASE"
# One run at a time past this point.
exec 9>"$BASE/.lock"
flock 9

# The cluster, made once.
if [ ! -f "$DATA/PG_VERSION" ]; then
    say "making a cluster in $DATA ($("$BIN/postgres" --version))"
    rm -rf "$DATA"
    as_owner mkdir -p "$DATA" "$SOCKET"
    as_owner "$BIN/initdb" -D "$DATA" -U "$OWNER" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >"$BASE/initdb.log" 2>&1 ||
        fail "initdb failed; see $BASE/initdb.log"
    as_owner sh -c "cat >> '$DATA/postgresql.conf'" <<EOF
# quartier: a disposable test server on loopback (scripts/postgres.sh).
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKET'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
include_if_exists = 'quartier-port.conf'
EOF
fi
as_owner mkdir -p "$SOCKET"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Whether our cluster's postmaster runs: the process its pid file names is a postgres. (A pid file left
# by a server killed with its session may name a process that reused the number.)
running() {
    local pid
    pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = postgres ] && [ -f "$PORT_FILE" ]
}

ready() { as_owner psql -h "$SOCKET" -p "$1" -U "$OWNER" -d postgres -XAtqc 'SELECT 1' >/dev/null 2>&1; }

# Ours may be running but not ready (starting, recovering from a crash): wait for it a little.
if running; then
    PORT="$(cat "$PORT_FILE")"
    for _ in $(seq 1 40); do
        ready "$PORT" || ! running && break
        sleep 0.25
    done
fi
if running; then
    say "our server runs on 127.0.0.1:$PORT; making the tests' role again"
else
    rm -f "$DATA/postmaster.pid"
    PORT="$(cat "$PORT_FILE" 2>/dev/null || echo "$FIRST_PORT")"
    while ! port_free "$PORT"; do
        PORT=$((PORT + 1))
        [ "$PORT" -lt $((FIRST_PORT + 200)) ] || fail "no free port from $FIRST_PORT on 127.0.0.1"
    done
    printf "port = %s\n" "$PORT" | as_owner sh -c "cat > '$DATA/quartier-port.conf'"
    say "starting PostgreSQL on 127.0.0.1:$PORT (log: $BASE/server.log)"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 start >&2 ||
        fail "PostgreSQL did not start; see $BASE/server.log"
    printf '%s\n' "$PORT" >"$PORT_FILE"
fi
ready "$PORT" || fail "PostgreSQL runs but is not ready on 127.0.0.1:$PORT; see $BASE/server.log"

# The tests' role: may log in with a password and create (and so drop) its databases.
as_owner psql -h "$SOCKET" -p "$PORT" -U "$OWNER" -d postgres -XAtq -v ON_ERROR_STOP=1 >/dev/null <<EOF
SELECT 'CREATE ROLE $ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') \gexec
ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
EOF

URL="$(url_for "$PORT")"
answers "$URL" || fail "PostgreSQL started but does not answer at 127.0.0.1:$PORT; see $BASE/server.log"
say "PostgreSQL answers on 127.0.0.1:$PORT"
export_line "$URL"
