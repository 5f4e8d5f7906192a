#!/usr/bin/env bash
# Start, stop or check the action server and the Rasa server in the background.
#   scripts/serve.sh start|stop|status
# Env: RASA_PORT (5005), ACTIONS_PORT (5055), MODEL (models/current.tar.gz), RUN_DIR (.run),
#      CORS_ORIGINS (space-separated origins allowed to call the REST channel from a browser;
#      default: the demo page's own origin, http://localhost:$WEB_PORT and http://127.0.0.1:$WEB_PORT),
#      WEB_PORT (8000: the demo page with the chat widget, served from web/ when it exists)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
MODEL=${MODEL:-models/current.tar.gz}
RUN_DIR=${RUN_DIR:-.run}
WEB_PORT=${WEB_PORT:-8000}
CORS_ORIGINS=${CORS_ORIGINS:-http://localhost:$WEB_PORT http://127.0.0.1:$WEB_PORT}
export TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 PYTHONWARNINGS=ignore
mkdir -p "$RUN_DIR"

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

start() {
  [ -f "$MODEL" ] || { echo "No trained model at $MODEL: run 'make train' first." >&2; exit 1; }
  if up "http://127.0.0.1:$ACTIONS_PORT/health"; then
    echo "Action server already answers on :$ACTIONS_PORT"
  else
    "$VENV/bin/python" -m rasa_sdk --actions actions --port "$ACTIONS_PORT" >"$RUN_DIR/actions.log" 2>&1 &
    echo $! >"$RUN_DIR/actions.pid"
  fi
  if up "http://127.0.0.1:$RASA_PORT/"; then
    echo "Rasa server already answers on :$RASA_PORT"
  else
    local endpoints=endpoints.yml
    if [ "$ACTIONS_PORT" != 5055 ]; then
      endpoints="$RUN_DIR/endpoints.yml"
      sed "s#127.0.0.1:5055#127.0.0.1:$ACTIONS_PORT#" endpoints.yml >"$endpoints"
    fi
    # shellcheck disable=SC2086  # one argument per origin
    "$VENV/bin/rasa" run --model "$MODEL" --endpoints "$endpoints" --cors $CORS_ORIGINS --credentials credentials.yml --port "$RASA_PORT" \
      >"$RUN_DIR/rasa.log" 2>&1 &
    echo $! >"$RUN_DIR/rasa.pid"
  fi
  [ -f "$RUN_DIR/actions.pid" ] && wait_for "http://127.0.0.1:$ACTIONS_PORT/health" actions "$RUN_DIR/actions.pid" 60
  [ -f "$RUN_DIR/rasa.pid" ] && wait_for "http://127.0.0.1:$RASA_PORT/" rasa "$RUN_DIR/rasa.pid" 120
  echo "The assistant is up: REST channel at http://localhost:$RASA_PORT/webhooks/rest/webhook"
}

stop() {
  local name pid
  for name in rasa actions; do
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
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
