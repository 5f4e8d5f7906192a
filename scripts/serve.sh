#!/usr/bin/env bash
# Start, stop or check the action server and the Rasa server in the background.
#   scripts/serve.sh start|stop|status   (start-actions: the action server alone)
# Every setting, its default and its meaning: b12/settings.py (`python -m b12.settings`).
# The endpoints file is written to $RUN_DIR/endpoints.yml from the environment
# (extensions/endpoints.py): SQLite at TRACKER_DB, or PostgreSQL when DB_HOST is set, and a Redis
# lock store when REDIS_HOST is set. ENABLE_API=1 opens Rasa's HTTP API and then needs
# RASA_API_TOKEN. The action server always listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# load NAME...: the defaults and derived values (CORS_ORIGINS from WEB_PORT) from the one settings
# module. A value that cannot be read stops here, with a message naming the variable. `stop` and
# `status` read only what they need, so a typo elsewhere never keeps servers from stopping.
load() {
  local values
  values=$("$VENV/bin/python" -m b12.settings shell "$@")
  eval "$values"
}
export TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 PYTHONWARNINGS=ignore SQLALCHEMY_SILENCE_UBER_WARNING=1

load_all() {
  "$VENV/bin/python" -m b12.settings check
  load RASA_PORT ACTIONS_PORT MODEL RUN_DIR WEB_PORT CORS_ORIGINS RASA_INTERFACE TRACKER_DB LOG_LEVEL \
    LOG_LEVEL_LIBRARIES RASA_TELEMETRY_ENABLED ENABLE_API SERVE_WEB RASA_START_TIMEOUT SANIC_REQUEST_MAX_SIZE
  export LOG_LEVEL LOG_LEVEL_LIBRARIES RASA_TELEMETRY_ENABLED ACTIONS_PORT TRACKER_DB
  mkdir -p "$RUN_DIR"
}

up() { curl -fs -m 2 "$1" >/dev/null 2>&1; }

wait_for() { # url name pidfile seconds
  local url=$1 name=$2 pidfile=$3 limit=$4 i
  for ((i = 0; i < limit * 2; i++)); do
    up "$url" && return 0
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "The $name stopped while starting. Last log lines ($RUN_DIR/$name.log):" >&2
      tail -n 20 "$RUN_DIR/$name.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "The $name did not answer within ${limit}s; see $RUN_DIR/$name.log" >&2
  return 1
}

launch_actions() {
  if up "http://127.0.0.1:$ACTIONS_PORT/health"; then
    echo "Action server already answers on :$ACTIONS_PORT"
  else
    # scripts/action_server.py: rasa_sdk bound to 127.0.0.1 only (`python -m rasa_sdk` binds 0.0.0.0)
    "$VENV/bin/python" scripts/action_server.py --port "$ACTIONS_PORT" >"$RUN_DIR/actions.log" 2>&1 &
    echo $! >"$RUN_DIR/actions.pid"
  fi
}

start_actions() { # the action server alone (scripts/cluster.sh: one action server, several Rasa)
  launch_actions
  [ -f "$RUN_DIR/actions.pid" ] && wait_for "http://127.0.0.1:$ACTIONS_PORT/health" actions "$RUN_DIR/actions.pid" 60
  echo "The action server is up on 127.0.0.1:$ACTIONS_PORT"
}

start() {
  [ -f "$MODEL" ] || { echo "No trained model at $MODEL: run 'make train' first." >&2; exit 1; }
  launch_actions
  if up "http://127.0.0.1:$RASA_PORT/"; then
    echo "Rasa server already answers on :$RASA_PORT"
  else
    local endpoints="$RUN_DIR/endpoints.yml" api=()
    "$VENV/bin/python" -m extensions.endpoints endpoints >"$endpoints"
    if [ -z "${DB_HOST:-}" ]; then # SQLite: conversations are private data, keep them owner-only
      # a folder it creates is private; an existing one (TRACKER_DB=/tmp/x.db) is left as it is
      db_dir=$(dirname "$TRACKER_DB"); [ -d "$db_dir" ] || { mkdir -p "$db_dir" && chmod 700 "$db_dir"; }
    fi
    if [ "$ENABLE_API" = 1 ]; then
      [ -n "${RASA_API_TOKEN:-}" ] || { echo "ENABLE_API=1 needs RASA_API_TOKEN (the HTTP API is never open)." >&2; exit 1; }
      api=(--enable-api)
    fi
    # scripts/rasa_server.py is `rasa run` plus: the API token from RASA_API_TOKEN, the runtime
    # fixes (extensions/fixes.py) and log redaction (extensions/redaction.py).
    # Sanic's own limits and errors (Rasa process only): a 4 MiB body cap before the REST
    # channel's 256 KiB one, and JSON rather than HTML error pages (404, 405, 413).
    local cors
    read -r -a cors <<<"$CORS_ORIGINS" # one argument per origin, never a file-name pattern
    (umask 077 && export SANIC_REQUEST_MAX_SIZE SANIC_FALLBACK_ERROR_FORMAT=json && exec "$VENV/bin/python" scripts/rasa_server.py run \
      --model "$MODEL" --endpoints "$endpoints" --credentials credentials.yml --cors "${cors[@]}" \
      --interface "$RASA_INTERFACE" --port "$RASA_PORT" "${api[@]}" >"$RUN_DIR/rasa.log" 2>&1) &
    echo $! >"$RUN_DIR/rasa.pid"
  fi
  [ -f "$RUN_DIR/actions.pid" ] && wait_for "http://127.0.0.1:$ACTIONS_PORT/health" actions "$RUN_DIR/actions.pid" 60
  [ -f "$RUN_DIR/rasa.pid" ] && wait_for "http://127.0.0.1:$RASA_PORT/" rasa "$RUN_DIR/rasa.pid" "$RASA_START_TIMEOUT"
  echo "The assistant is up: REST channel at http://localhost:$RASA_PORT/webhooks/rest/webhook"
  if [ "$SERVE_WEB" = 1 ]; then start_web; fi
}

start_web() { # the demo page with the chat widget (make run sets SERVE_WEB=1)
  if up "http://127.0.0.1:$WEB_PORT/"; then
    echo "The demo page already answers on :$WEB_PORT"
  else
    "$VENV/bin/python" -m http.server --bind 127.0.0.1 "$WEB_PORT" --directory web >"$RUN_DIR/web.log" 2>&1 &
    echo $! >"$RUN_DIR/web.pid"
    local i
    for i in $(seq 40); do up "http://127.0.0.1:$WEB_PORT/" && break; sleep 0.25; done
  fi
  echo "Demo page with the chat widget: http://localhost:$WEB_PORT/"
}

stop() {
  local name pid
  for name in web rasa actions; do
    [ -f "$RUN_DIR/$name.pid" ] || continue
    pid=$(cat "$RUN_DIR/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$RUN_DIR/$name.pid"
  done
  echo "Stopped."
}

status() {
  up "http://127.0.0.1:$ACTIONS_PORT/health" && echo "actions: up on :$ACTIONS_PORT" || echo "actions: down"
  up "http://127.0.0.1:$RASA_PORT/" && echo "rasa: up on :$RASA_PORT" || echo "rasa: down"
}

case "${1:-}" in
  start) load_all && start ;;
  start-actions) load_all && start_actions ;;
  stop) load RUN_DIR && stop ;;
  status) load RASA_PORT ACTIONS_PORT && status ;;
  *) echo "usage: $0 start|start-actions|stop|status" >&2; exit 2 ;;
esac
