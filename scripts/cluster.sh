#!/usr/bin/env bash
# A local scale-out of the assistant, all on 127.0.0.1:
#   nginx :5500 -> two Rasa processes :5501 :5502 -> one action server :5551
#   shared state: PostgreSQL :5433 (Rasa's SQLTrackerStore), Redis :6380 (Rasa's RedisLockStore)
#
#   scripts/cluster.sh start|stop|status
#
# Installs the Debian packages postgresql, redis-server and nginx when missing (apt-get, as root
# or through sudo). Everything it runs lives under $RUN_DIR (.run): pg/ (database files), redis/,
# nginx/, cluster/ (Rasa and action server logs and pid files, secrets.env). The Rasa processes and
# the action server run under scripts/serve.sh, each RUN_DIR with its own supervisord, so one that
# dies is started again (docs/deployment.md); PostgreSQL, Redis and nginx are not supervised here
# (`start` again starts what is missing). Data survives
# `stop`/`start`; `rm -rf $RUN_DIR/pg` forgets every conversation.
# The database and Redis passwords are generated on first start into $RUN_DIR/cluster/secrets.env
# (mode 600, git-ignored), unless DB_PASSWORD / REDIS_PASSWORD are already set. They reach Rasa
# only through its environment (${DB_PASSWORD} in the endpoints file).
# Settings (b12/settings.py, group "cluster"): RUN_DIR, NGINX_PORT, RASA_PORTS,
#      CLUSTER_ACTIONS_PORT, PG_PORT, CLUSTER_REDIS_PORT, and what scripts/serve.sh reads.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
values=$("$VENV/bin/python" -m b12.settings shell RUN_DIR NGINX_PORT RASA_PORTS CLUSTER_ACTIONS_PORT PG_PORT CLUSTER_START_TIMEOUT \
  CLUSTER_REDIS_PORT)
eval "$values"
mkdir -p "$RUN_DIR"
# Its own name: the Makefile exports ACTIONS_PORT (5055) for `make run`, which must not move or
# be mistaken for the cluster's action server.
ACTIONS_PORT=$CLUSTER_ACTIONS_PORT
REDIS_PORT=$CLUSTER_REDIS_PORT
C=$RUN_DIR/cluster PG=$RUN_DIR/pg RD=$RUN_DIR/redis NG=$RUN_DIR/nginx

log() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }
alive() { # pidfile: the process exists and is not a zombie waiting to be reaped
  local pid
  [ -f "$1" ] && pid=$(cat "$1") && kill -0 "$pid" 2>/dev/null &&
    [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
}

pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  command -v pg_ctl >/dev/null && dirname "$(command -v pg_ctl)"
}

install_packages() {
  local need=()
  [ -n "$(pg_bin)" ] || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ ${#need[@]} -eq 0 ] && return
  log "installing ${need[*]}"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
}

# PostgreSQL refuses to run as root: as root, run it as the `postgres` user (from the package).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

secrets() {
  mkdir -p "$C" && chmod 700 "$C"
  if [ ! -f "$C/secrets.env" ]; then
    (umask 077 && {
      echo "DB_PASSWORD=${DB_PASSWORD:-$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')}"
      echo "REDIS_PASSWORD=${REDIS_PASSWORD:-$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')}"
    } >"$C/secrets.env")
  fi
  set -a && . "$C/secrets.env" && set +a
}

start_postgres() {
  local bin
  bin=$(pg_bin)
  if [ ! -f "$PG/data/PG_VERSION" ]; then
    log "creating the database cluster in $PG"
    mkdir -p "$PG/data"
    chmod 755 "$PG" && chmod 700 "$PG/data"
    local pwfile="$PG/.pw"
    (umask 077 && printf '%s\n' "$DB_PASSWORD" >"$pwfile")
    [ "$(id -u)" = 0 ] && chown -R postgres: "$PG"
    as_pg "$bin/initdb" -D "$PG/data" -U rasa --pwfile="$pwfile" -E UTF8 --auth-host=scram-sha-256 \
      --auth-local=peer >"$PG/initdb.log" 2>&1 || { rm -f "$pwfile"; cat "$PG/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    cat >>"$PG/data/postgresql.conf" <<EOF
# scripts/cluster.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
# never log statement text (it would carry the users' messages)
log_min_error_statement = panic
log_statement = 'none'
EOF
  fi
  if as_pg "$bin/pg_ctl" -D "$PG/data" status >/dev/null 2>&1; then
    log "PostgreSQL already running on :$PG_PORT"
  else
    as_pg "$bin/pg_ctl" -D "$PG/data" -l "$PG/postgres.log" -w -t 60 start >/dev/null || {
      tail -20 "$PG/postgres.log" >&2
      die "PostgreSQL did not start"
    }
  fi
  PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U rasa -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'rasa'" | grep -q 1 ||
    PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U rasa -d postgres -qc "CREATE DATABASE rasa" >/dev/null
}

start_redis() {
  if alive "$RD/redis.pid"; then log "Redis already running on :$REDIS_PORT"; return; fi
  mkdir -p "$RD" && chmod 700 "$RD"
  (umask 077 && cat >"$RD/redis.conf" <<EOF
# scripts/cluster.sh: Rasa's lock store only (short-lived ticket locks), so no persistence.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize no
dir $RD
logfile $RD/redis.log
save ""
appendonly no
requirepass $REDIS_PASSWORD
EOF
  )
  redis-server "$RD/redis.conf" >/dev/null 2>&1 &
  echo $! >"$RD/redis.pid"
  local i
  for i in $(seq 40); do
    REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return
    alive "$RD/redis.pid" || break
    sleep 0.25
  done
  tail -20 "$RD/redis.log" >&2
  die "Redis did not start"
}

start_nginx() {
  if alive "$NG/nginx.pid"; then log "nginx already running on :$NGINX_PORT"; return; fi
  mkdir -p "$NG/tmp"
  local port servers=""
  for port in $RASA_PORTS; do
    servers+="    server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
  done
  cat >"$NG/nginx.conf" <<EOF
# scripts/cluster.sh
daemon off;
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 512; }
http {
  # No access log: it is not needed here, and request lines are all a log should never hold more of.
  access_log off;
  server_tokens off;
  client_body_temp_path $NG/tmp/body;
  proxy_temp_path $NG/tmp/proxy;
  fastcgi_temp_path $NG/tmp/fastcgi;
  uwsgi_temp_path $NG/tmp/uwsgi;
  scgi_temp_path $NG/tmp/scgi;
  # The REST channel accepts 256 KiB; bodies are kept in memory, never written to disk.
  client_max_body_size 256k;
  client_body_buffer_size 256k;
  proxy_max_temp_file_size 0;
  # Per client (address): 20 requests a second with bursts of 40, beyond that 429. The Rasa
  # processes also limit each conversation (RATE_LIMIT, counted in Redis).
  limit_req_zone \$binary_remote_addr zone=perclient:10m rate=20r/s;
  limit_req_status 429;

  upstream rasa {
$servers    keepalive 16;
  }

  server {
    listen 127.0.0.1:$NGINX_PORT;
    error_page 413 = @too_large;
    error_page 502 503 504 = @unavailable;
    error_page 429 = @too_many;
    location @too_many {
      default_type application/json;
      add_header Retry-After 1 always;
      return 429 '{"error": "rate_limited", "message": "You are sending messages very fast. Please wait a moment, then try again."}';
    }
    location @too_large {
      default_type application/json;
      return 413 '{"error": "body_too_large", "message": "The request body is larger than 262144 bytes."}';
    }
    location @unavailable {
      default_type application/json;
      return 503 '{"error": "unavailable", "message": "The assistant is not available right now. Please try again."}';
    }
    # Slack's events all come from a few of Slack's addresses: never limited here (the Rasa
    # processes still limit each conversation).
    location /webhooks/slack/ {
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_read_timeout 60s;
    }
    location / {
      limit_req zone=perclient burst=40 nodelay;
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      # One id per client request, the same on a retry: extensions/channels/rest.py answers a retried
      # message that the dead process had already stored from the tracker, not twice.
      proxy_set_header X-Request-ID \$request_id;
      # A Rasa process that refuses or drops the connection: try the other one, POST included.
      # Rasa stores a message's events in one transaction at the end of the turn, so a message
      # whose process died never half-exists, and X-Request-ID keeps a stored one from being
      # processed twice. Not retried on a read timeout (the first process may still be on it).
      proxy_next_upstream error non_idempotent;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 2s;
      proxy_read_timeout 90s;
    }
  }
}
EOF
  local nginx i pid
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  "$nginx" -t -q -e "$NG/error.log" -c "$NG/nginx.conf" -p "$NG" || die "bad nginx config"
  # daemon off: this is the master process; it writes its pid to $NG/nginx.pid itself.
  "$nginx" -e "$NG/error.log" -c "$NG/nginx.conf" -p "$NG" >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 40); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$NGINX_PORT/" && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  die "nginx did not answer on :$NGINX_PORT (see $NG/error.log)"
}

serve() { # RUN_DIR for serve.sh, command
  # TICKET_LOCK_LIFETIME (Rasa's default 60 s; 20 s here): the served ticket is renewed while its
  # turn runs (extensions/lock_store.py), so a turn may take longer than this; the lifetime only
  # bounds how long a killed Rasa process's lock holds up its conversation, and must stay under
  # REST_REPLY_TIMEOUT (30 s) so that the message retried elsewhere still gets its answer.
  # See docs/deployment.md.
  TICKET_LOCK_LIFETIME=${TICKET_LOCK_LIFETIME:-20} RUN_DIR=$1 ACTIONS_PORT=$ACTIONS_PORT DB_HOST=127.0.0.1 DB_PORT=$PG_PORT DB_NAME=rasa DB_USER=rasa \
    REDIS_HOST=127.0.0.1 REDIS_PORT=$REDIS_PORT RASA_INTERFACE=127.0.0.1 VENV=$VENV "$ROOT/scripts/serve.sh" "${@:2}"
}

start() {
  install_packages
  secrets
  start_postgres
  start_redis
  # Rasa's `events` table, created once here rather than by two Rasa processes racing.
  DB_HOST=127.0.0.1 DB_PORT=$PG_PORT DB_NAME=rasa DB_USER=rasa "$VENV/bin/python" -m extensions.endpoints init-db
  serve "$C/actions" start-actions >/dev/null
  local port pid pids=() failed=0
  for port in $RASA_PORTS; do # in parallel: each takes tens of seconds to load the model
    mkdir -p "$C/rasa-$port"
    RASA_PORT=$port RASA_START_TIMEOUT=$CLUSTER_START_TIMEOUT serve "$C/rasa-$port" start >/dev/null &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ $failed = 0 ] || die "a Rasa process did not start (logs: $C/rasa-*/rasa.log)"
  start_nginx
  log "up: http://127.0.0.1:$NGINX_PORT/webhooks/rest/webhook -> Rasa on $RASA_PORTS -> actions on $ACTIONS_PORT;" \
    "PostgreSQL :$PG_PORT, Redis :$REDIS_PORT"
}

stop_pid() { # pidfile
  alive "$1" || { rm -f "$1"; return 0; }
  local pid i
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

stop() {
  local d bin
  stop_pid "$NG/nginx.pid"
  for d in "$C"/rasa-*; do [ -d "$d" ] && serve "$d" stop >/dev/null; done
  [ -d "$C/actions" ] && serve "$C/actions" stop >/dev/null
  stop_pid "$RD/redis.pid"
  bin=$(pg_bin)
  if [ -n "$bin" ] && [ -f "$PG/data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$PG/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$PG/data" -m fast -w -t 30 stop >/dev/null
  fi
  log "stopped"
}

status() {
  local port bin
  curl -fs -m 2 "http://127.0.0.1:$NGINX_PORT/" >/dev/null && echo "nginx: up on :$NGINX_PORT" || echo "nginx: down"
  for port in $RASA_PORTS; do
    curl -fs -m 2 "http://127.0.0.1:$port/" >/dev/null && echo "rasa: up on :$port" || echo "rasa: down on :$port"
  done
  curl -fs -m 2 "http://127.0.0.1:$ACTIONS_PORT/health" >/dev/null && echo "actions: up on :$ACTIONS_PORT" || echo "actions: down"
  alive "$RD/redis.pid" && echo "redis: up on :$REDIS_PORT" || echo "redis: down"
  bin=$(pg_bin)
  [ -n "$bin" ] && [ -f "$PG/data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$PG/data" status >/dev/null 2>&1 &&
    echo "postgres: up on :$PG_PORT" || echo "postgres: down"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
