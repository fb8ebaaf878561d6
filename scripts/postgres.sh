# Start a throw-away PostgreSQL server on 127.0.0.1 for the tests (sourced by test.sh).
PG_PORT=${PG_PORT:-54329}
PG_DIR=$(mktemp -d /tmp/parvis-pg.XXXXXX)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
chown postgres "$PG_DIR"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" --auth=trust --username=postgres \
  --encoding=UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c full_page_writes=off" \
  >/dev/null
stop_postgres() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap stop_postgres EXIT
export PARVIS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/parvis"
