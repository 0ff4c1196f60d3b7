#!/usr/bin/env bash
# Start or stop Chirp's services as background processes on this machine (what `make up` and `make down` use).
#
#   services/run.sh start|stop|status [identity|graph|post|timeline|notification|search|trends|edge]...   (default: all, in that order)
#
# A service with a projection runs as two processes, as in k8s/: its API (`<service>-api`, `--role api`) and its
# worker (`<service>-worker`, `--role worker`, gRPC health on CHIRP_<SERVICE>_WORKER_ADDR), so that reads never wait
# behind a fan-out. Naming the service names both; either can be named alone. Search runs as one process (role
# all): tantivy's index has one writer.
#
# Logs go to $CHIRP_DATA_DIR/logs/<process>.log and pid files to $CHIRP_DATA_DIR/pids/<process>.pid, beside
# Kafka's and Cassandra's. Each process reads its configuration from CHIRP_* environment variables
# (docs/configuration.md). In production each is its own deployment instead (k8s/).
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DATA_DIR=${CHIRP_DATA_DIR:-$REPO_DIR/.data}
PYTHON=${CHIRP_PYTHON:-$REPO_DIR/.venv/bin/python}
SERVICES=(identity graph post timeline notification search trends edge)
SPLIT=(graph timeline notification trends)  # the services run as an API process and a worker process
# One machine, one operator: people may sign up, and first-party command-line apps may use the OAuth password grant
# (both off by default, and in the production overlay).
export CHIRP_REGISTRATIONS_OPEN=${CHIRP_REGISTRATIONS_OPEN:-true}
export CHIRP_OAUTH_PASSWORD_GRANT=${CHIRP_OAUTH_PASSWORD_GRANT:-true}
# The search service's index (tantivy) lives beside the rest of the data.
export CHIRP_SEARCH_INDEX_DIR=${CHIRP_SEARCH_INDEX_DIR:-$DATA_DIR/search}
# Search on OpenSearch (make up SEARCH=opensearch): the node infra/infra.sh runs, unless the environment names another.
if [[ ${CHIRP_SEARCH_BACKEND:-tantivy} == opensearch ]]; then
  export CHIRP_OPENSEARCH_URL=${CHIRP_OPENSEARCH_URL:-http://127.0.0.1:${CHIRP_OPENSEARCH_PORT:-9200}}
fi

say() { printf 'services: %s\n' "$*"; }

pid_of() {
  local file=$DATA_DIR/pids/$1.pid
  [[ -f $file ]] && kill -0 "$(cat "$file")" 2>/dev/null && cat "$file"
}

start() {
  [[ -x $PYTHON ]] || { say "no Python environment at $PYTHON: run 'make install' first" >&2; exit 1; }
  mkdir -p "$DATA_DIR/logs" "$DATA_DIR/pids"
  local name pid
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      say "$name already running (pid $pid)"
      continue
    fi
    # timeline-api -> services.timeline --role api; identity -> services.identity
    local module=${name%-api} role=()
    module=${module%-worker}
    [[ $name == "$module" ]] || role=(--role "${name#"$module"-}")
    (cd "$REPO_DIR" && exec setsid nohup "$PYTHON" -m "services.$module" "${role[@]}" >>"$DATA_DIR/logs/$name.log" 2>&1 </dev/null) &
    echo $! >"$DATA_DIR/pids/$name.pid"
    say "$name started (pid $!, log $DATA_DIR/logs/$name.log)"
  done
}

stop() {
  # SIGTERM to all at once, then wait for each: each stops in its own time, together in the time of the slowest.
  local name pid stopping=() waited
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      stopping+=("$name:$pid")
    else
      rm -f "$DATA_DIR/pids/$name.pid"
    fi
  done
  for entry in "${stopping[@]}"; do
    name=${entry%%:*}
    pid=${entry#*:}
    for waited in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop within 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DATA_DIR/pids/$name.pid"
    say "$name stopped"
  done
}

status() {
  local name pid rc=0
  for name in "$@"; do
    if pid=$(pid_of "$name"); then say "$name running (pid $pid)"; else say "$name not running"; rc=1; fi
  done
  return $rc
}

command=${1:-}
shift || true
# The processes the names given (by default every service) stand for, in start order.
processes=()
for name in "${@:-${SERVICES[@]}}"; do
  if [[ " ${SPLIT[*]} " == *" $name "* ]]; then
    processes+=("$name-api" "$name-worker")
    # stop: also a process of the service as one (role all) that an earlier version started
    [[ $command != stop ]] || processes+=("$name")
  elif [[ " ${SERVICES[*]} " == *" $name "* || " ${SPLIT[*]/%/-api} ${SPLIT[*]/%/-worker} " == *" $name "* ]]; then
    processes+=("$name")
  else
    echo "services/run.sh: no service or process '$name' (services: ${SERVICES[*]}; or <service>-api, <service>-worker of: ${SPLIT[*]})" >&2
    exit 2
  fi
done
case $command in
  start | stop | status) "$command" "${processes[@]}" ;;
  *) echo "usage: services/run.sh start|stop|status [${SERVICES[*]}]..." >&2; exit 2 ;;
esac
