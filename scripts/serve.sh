#!/usr/bin/env bash
# Start, stop or check the action server and the Rasa server in the background.
#   scripts/serve.sh start|stop|status   (start-actions: the action server alone;
#   shell: rasa shell in this terminal, for make shell)
# Every setting, its default and its meaning: b12/settings.py (`python -m b12.settings`).
# The endpoints file is written to $RUN_DIR/endpoints.yml from the environment
# (extensions/endpoints.py): SQLite at TRACKER_DB, or PostgreSQL when DB_HOST is set, and a Redis
# lock store when REDIS_HOST is set. ENABLE_API=1 opens Rasa's HTTP API and then needs
# RASA_API_TOKEN. The action server always listens on 127.0.0.1; Rasa on RASA_INTERFACE (127.0.0.1
# by default: behind a proxy; 0.0.0.0 only inside a container, docs/deployment.md).
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
    LOG_LEVEL_LIBRARIES RASA_TELEMETRY_ENABLED ENABLE_API SERVE_WEB RASA_START_TIMEOUT SANIC_REQUEST_MAX_SIZE SHELL_PORT
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

write_endpoints() { # file: the endpoints file from the environment, and a private SQLite folder
  "$VENV/bin/python" -m extensions.endpoints endpoints >"$1"
  if [ -z "${DB_HOST:-}" ]; then # SQLite: conversations are private data, keep them owner-only
    # a folder it creates is private; an existing one (TRACKER_DB=/tmp/x.db) is left as it is
    db_dir=$(dirname "$TRACKER_DB"); [ -d "$db_dir" ] || { mkdir -p "$db_dir" && chmod 700 "$db_dir"; }
  fi
}

start() {
  [ -f "$MODEL" ] || { echo "No trained model at $MODEL: run 'make train' first." >&2; exit 1; }
  launch_actions
  if up "http://127.0.0.1:$RASA_PORT/"; then
    echo "Rasa server already answers on :$RASA_PORT"
  else
    local endpoints="$RUN_DIR/endpoints.yml" api=()
    write_endpoints "$endpoints"
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
    # scripts/web_server.py: web/ on 127.0.0.1 with a Content-Security-Policy and nosniff; the
    # widget calls WEB_ASSISTANT_URL (default http://localhost:$RASA_PORT)
    "$VENV/bin/python" scripts/web_server.py --port "$WEB_PORT" >"$RUN_DIR/web.log" 2>&1 &
    echo $! >"$RUN_DIR/web.pid"
    wait_for "http://127.0.0.1:$WEB_PORT/" web "$RUN_DIR/web.pid" 10
  fi
  echo "Demo page with the chat widget: http://localhost:$WEB_PORT/"
}

shell() { # make shell: rasa shell here, on 127.0.0.1:SHELL_PORT; what it starts stops with it
  [ -f "$MODEL" ] || { echo "No trained model at $MODEL: run 'make train' first." >&2; exit 1; }
  local endpoints="$RUN_DIR/shell-endpoints.yml"
  shell_actions="" shell_child="" shell_watch="" # globals: the EXIT trap runs after this function returns
  # on any end (exit, the terminal closed, Ctrl-C, kill): stop rasa shell and the action server it started
  finish() {
    trap - EXIT HUP INT TERM
    local pid
    for pid in $shell_child $shell_watch $shell_actions; do kill "$pid" 2>/dev/null || true; done
    for pid in $shell_child $shell_watch $shell_actions; do
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    done
    rm -f "$RUN_DIR/shell-actions.pid"
  }
  trap finish EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  write_endpoints "$endpoints"
  if ! up "http://127.0.0.1:$ACTIONS_PORT/health"; then # make run's action server, if it runs, is kept
    "$VENV/bin/python" scripts/action_server.py --port "$ACTIONS_PORT" >"$RUN_DIR/shell-actions.log" 2>&1 &
    shell_actions=$!
    echo "$shell_actions" >"$RUN_DIR/shell-actions.pid"
  fi
  [ -z "$shell_actions" ] || wait_for "http://127.0.0.1:$ACTIONS_PORT/health" shell-actions "$RUN_DIR/shell-actions.pid" 60
  # in the background with this terminal's input (fd 3), so that a signal reaches the trap at once
  exec 3<&0
  "$VENV/bin/rasa" shell --model "$MODEL" --endpoints "$endpoints" --interface 127.0.0.1 --port "$SHELL_PORT" <&3 &
  shell_child=$!
  if [ -t 3 ]; then
    # A closed terminal hangs up: rasa shell's input ends but its server would run on, and when make
    # leads the session (`ssh host make shell`, a terminal running it directly) make alone gets SIGHUP
    # and waits for us. So once the terminal is gone (/dev/tty no longer opens), end as on SIGHUP.
    (while sleep 1; do true 2>/dev/null </dev/tty || { kill -HUP $$; exit 0; }; done) &
    shell_watch=$!
  fi
  wait "$shell_child"
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
  shell) load_all && shell ;;
  stop) load RUN_DIR && stop ;;
  status) load RASA_PORT ACTIONS_PORT && status ;;
  *) echo "usage: $0 start|start-actions|shell|stop|status" >&2; exit 2 ;;
esac
