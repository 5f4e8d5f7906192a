#!/usr/bin/env bash
# Start, stop or check the action server and the Rasa server in the background.
#   scripts/serve.sh start|stop|status   (start-actions: the action server alone; stop-one NAME;
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
  # `|| exit`: load_all runs as `load_all && start`, where bash's set -e does not stop a failure
  "$VENV/bin/python" -m b12.settings check || exit 2
  # the knowledge file as the action server loads it: refused (a changed source, a bad review),
  # nothing starts, and the loader's message says which file and what changed
  "$VENV/bin/python" -m b12.knowledge check || exit 2
  load RASA_PORT ACTIONS_PORT MODEL RUN_DIR WEB_PORT CORS_ORIGINS RASA_INTERFACE TRACKER_DB LOG_LEVEL \
    LOG_LEVEL_LIBRARIES RASA_TELEMETRY_ENABLED ENABLE_API SERVE_WEB RASA_START_TIMEOUT SANIC_REQUEST_MAX_SIZE SHELL_PORT \
    RASA_STARTSECS RESTART_RETRIES
  export LOG_LEVEL LOG_LEVEL_LIBRARIES RASA_TELEMETRY_ENABLED ACTIONS_PORT TRACKER_DB
  mkdir -p "$RUN_DIR"
}

up() { curl -fs -m 2 "$1" >/dev/null 2>&1; }

# Supervision (supervisord, from the `supervisor` package): the servers run as its programs, so
# a server that dies is started again at once. One supervisord per RUN_DIR, configured by
# $RUN_DIR/supervisord.conf (written here), reached through the unix socket $RUN_DIR/supervisor.sock
# (mode 0700, no TCP), its own log and pid in $RUN_DIR; each server logs to $RUN_DIR/<name>.log
# and writes $RUN_DIR/<name>.pid each time it is started. A server that exits while it starts
# (before startsecs) is retried RESTART_RETRIES times, 1 s, 2 s, 3 s apart, then left FATAL
# (`serve.sh status` shows it; `serve.sh start` tries again). docs/deployment.md.
CONF() { echo "$RUN_DIR/supervisord.conf"; }
supervise() { "$VENV/bin/supervisorctl" -c "$(CONF)" "$@"; }
supervised() { [ -f "$(CONF)" ] && supervise pid >/dev/null 2>&1; } # its supervisord answers
state() { supervised && supervise status "$1" 2>/dev/null | awk '{print $2}'; } # RUNNING, FATAL...
running() { case "$(state "$1")" in RUNNING | STARTING | BACKOFF) return 0 ;; *) return 1 ;; esac; }

start_now() { # name...: ask supervisord to start them (without waiting for its startsecs)
  "$VENV/bin/python" - "$RUN_DIR/supervisor.sock" "$@" <<'EOF'
import sys
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

rpc = xmlrpc.client.ServerProxy("http://localhost", transport=SupervisorTransport(None, None, "unix://" + sys.argv[1]))
for name in sys.argv[2:]:
    try:
        rpc.supervisor.startProcess(name, False)
    except xmlrpc.client.Fault as fault:
        sys.exit(f"The {name} could not be started: {fault.faultString}")
EOF
}

q() { # the arguments as one supervisor command line (shell quoting; % doubled for its expansion)
  local a out=()
  for a in "$@"; do
    [[ $a != *$'\n'* ]] || { echo "A server argument holds a newline: $a" >&2; exit 1; }
    a=${a//%/%%}
    out+=("'${a//\'/\'\\\'\'}'")
  done
  printf '%s' "${out[*]}"
}

program() { # name startsecs command...: one [program:name]; the command writes its pid, then runs
  local name=$1 startsecs=$2
  shift 2
  cat <<EOF

[program:$name]
command=$(q /bin/bash -c 'echo $$ >"$0" && exec "$@"' "$RUN_DIR/$name.pid" "$@")
directory=$PWD
autostart=false
autorestart=true
startsecs=$startsecs
startretries=$RESTART_RETRIES
stopsignal=TERM
stopwaitsecs=5
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=$RUN_DIR/$name.log
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=3
EOF
}

write_config() { # file: supervisord's configuration for this RUN_DIR and these settings
  local sock="$RUN_DIR/supervisor.sock" cors api=()
  [ ${#sock} -le 100 ] || { echo "RUN_DIR is too long for supervisord's socket ($sock): use a shorter one." >&2; exit 1; }
  read -r -a cors <<<"$CORS_ORIGINS" # one argument per origin, never a file-name pattern
  [ "$ENABLE_API" = 1 ] && api=(--enable-api)
  {
    cat <<EOF
; written by scripts/serve.sh: do not edit (it is rewritten on each start)
[unix_http_server]
file=$sock
chmod=0700

[supervisord]
logfile=$RUN_DIR/supervisord.log
logfile_maxbytes=5MB
logfile_backups=2
pidfile=$RUN_DIR/supervisord.pid
directory=$PWD
childlogdir=$RUN_DIR
umask=077

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$sock
EOF
    # scripts/action_server.py: rasa_sdk bound to 127.0.0.1 only (`python -m rasa_sdk` binds 0.0.0.0)
    program actions 5 "$VENV/bin/python" scripts/action_server.py --port "$ACTIONS_PORT"
    # scripts/rasa_server.py is `rasa run` plus: the API token from RASA_API_TOKEN, the runtime
    # fixes (extensions/fixes.py) and log redaction (extensions/redaction.py).
    program rasa "$RASA_STARTSECS" "$VENV/bin/python" scripts/rasa_server.py run \
      --model "$MODEL" --endpoints "$RUN_DIR/endpoints.yml" --credentials credentials.yml --cors "${cors[@]}" \
      --interface "$RASA_INTERFACE" --port "$RASA_PORT" "${api[@]}"
    # Sanic's own limits and errors (Rasa process only): a 4 MiB body cap before the REST
    # channel's 256 KiB one, and JSON rather than HTML error pages (404, 405, 413).
    echo "environment=SANIC_REQUEST_MAX_SIZE=\"$SANIC_REQUEST_MAX_SIZE\",SANIC_FALLBACK_ERROR_FORMAT=\"json\""
    # scripts/web_server.py: web/ on 127.0.0.1 with a Content-Security-Policy and nosniff; the
    # widget calls WEB_ASSISTANT_URL (default http://localhost:$RASA_PORT)
    program web 2 "$VENV/bin/python" scripts/web_server.py --port "$WEB_PORT"
  } >"$1"
}

supervisor_up() { # supervisord for this RUN_DIR with this configuration, started if needed
  local new="$RUN_DIR/supervisord.conf.new" name busy=""
  write_config "$new"
  if supervised; then
    for name in actions rasa web; do running "$name" && busy+=" $name"; done
    if [ -n "$busy" ] && ! cmp -s "$new" "$(CONF)"; then
      rm -f "$new"
      echo "The servers in $RUN_DIR run with other settings (${busy# }): run 'scripts/serve.sh stop' first." >&2
      exit 1
    fi
    if [ -n "$busy" ]; then rm -f "$new"; return 0; fi
    stop_supervisor # nothing runs under it: start it afresh, with this start's environment
  fi
  mv "$new" "$(CONF)"
  "$VENV/bin/supervisord" -c "$(CONF)" || {
    echo "supervisord did not start; see $RUN_DIR/supervisord.log" >&2
    tail -n 20 "$RUN_DIR/supervisord.log" >&2 2>/dev/null
    exit 1
  }
}

launch() { # name port path what: start it under supervisord, unless it runs or something else answers
  if running "$1"; then
    return 0
  elif up "http://127.0.0.1:$2$3"; then
    echo "$4 already answers on :$2"
    return 1
  fi
  : >"$RUN_DIR/$1.log" # a fresh log for each start by hand (a restart by supervisord appends)
  start_now "$1" || exit 1
}

wait_for() { # url name seconds: until it answers; if it exits first, stop retrying and show its log
  local url=$1 name=$2 limit=$3 i pid
  pid=$(supervise pid "$name" 2>/dev/null || true)
  for ((i = 0; i < limit * 2; i++)); do
    up "$url" && return 0
    case "$(state "$name")" in
      STARTING | RUNNING) [ "$(supervise pid "$name" 2>/dev/null)" = "$pid" ] && { sleep 0.5; continue; } ;;
    esac
    supervise stop "$name" >/dev/null 2>&1 || true
    echo "The $name stopped while starting. Last log lines ($RUN_DIR/$name.log):" >&2
    tail -n 20 "$RUN_DIR/$name.log" >&2
    return 1
  done
  echo "The $name did not answer within ${limit}s; see $RUN_DIR/$name.log" >&2
  return 1
}

wait_for_process() { # url name pidfile seconds: the same wait, for a process that is not supervised (make shell)
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

start_actions() { # the action server alone (scripts/cluster.sh: one action server, several Rasa)
  supervisor_up
  if launch actions "$ACTIONS_PORT" /health "Action server"; then
    wait_for "http://127.0.0.1:$ACTIONS_PORT/health" actions 60
  fi
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
  if [ "$ENABLE_API" = 1 ] && [ -z "${RASA_API_TOKEN:-}" ]; then
    echo "ENABLE_API=1 needs RASA_API_TOKEN (the HTTP API is never open)." >&2
    exit 1
  fi
  supervisor_up
  local actions=0 rasa=0
  launch actions "$ACTIONS_PORT" /health "Action server" && actions=1
  running rasa || up "http://127.0.0.1:$RASA_PORT/" || write_endpoints "$RUN_DIR/endpoints.yml"
  launch rasa "$RASA_PORT" / "Rasa server" && rasa=1
  [ $actions = 0 ] || wait_for "http://127.0.0.1:$ACTIONS_PORT/health" actions 60
  [ $rasa = 0 ] || wait_for "http://127.0.0.1:$RASA_PORT/" rasa "$RASA_START_TIMEOUT"
  echo "The assistant is up: REST channel at http://localhost:$RASA_PORT/webhooks/rest/webhook"
  if [ "$SERVE_WEB" = 1 ]; then start_web; fi
}

start_web() { # the demo page with the chat widget (make run sets SERVE_WEB=1)
  if launch web "$WEB_PORT" / "The demo page"; then
    wait_for "http://127.0.0.1:$WEB_PORT/" web 10
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
  [ -z "$shell_actions" ] || wait_for_process "http://127.0.0.1:$ACTIONS_PORT/health" shell-actions "$RUN_DIR/shell-actions.pid" 60
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

stop_supervisor() { # stop every server under this RUN_DIR's supervisord, then supervisord itself
  local pid _
  supervised || return 0
  pid=$(supervise pid 2>/dev/null || true)
  supervise stop all >/dev/null 2>&1 || true
  supervise shutdown >/dev/null 2>&1 || true
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  local name pid
  stop_supervisor
  # what is left: a server whose supervisord was killed, or one from before supervision. Only a
  # process that is still this server is signalled (a pid file's number may have been reused).
  for name in web rasa actions; do
    [ -f "$RUN_DIR/$name.pid" ] || continue
    pid=$(cat "$RUN_DIR/$name.pid")
    if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "scripts/${name/actions/action}_server.py"; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
  echo "Stopped."
}

stop_one() { # name: stop one server (supervisord does not restart it until `serve.sh start`)
  case "${1:-}" in actions | rasa | web) ;; *) echo "usage: $0 stop-one actions|rasa|web" >&2; exit 2 ;; esac
  supervised || { echo "Nothing runs under supervisord in $RUN_DIR." >&2; exit 1; }
  supervise stop "$1"
}

status() {
  if supervised; then supervise status || true; else echo "supervisord: not running for $RUN_DIR"; fi
  up "http://127.0.0.1:$ACTIONS_PORT/health" && echo "actions: up on :$ACTIONS_PORT" || echo "actions: down"
  up "http://127.0.0.1:$RASA_PORT/" && echo "rasa: up on :$RASA_PORT" || echo "rasa: down"
}

case "${1:-}" in
  start) load_all && start ;;
  start-actions) load_all && start_actions ;;
  shell) load_all && shell ;;
  stop) load RUN_DIR && stop ;;
  stop-one) load RUN_DIR && stop_one "${2:-}" ;;
  status) load RUN_DIR RASA_PORT ACTIONS_PORT && status ;;
  *) echo "usage: $0 start|start-actions|shell|stop|stop-one NAME|status" >&2; exit 2 ;;
esac
