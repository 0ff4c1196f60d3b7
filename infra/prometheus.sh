#!/usr/bin/env bash
# A local Prometheus (Debian's prometheus package, which infra/require.sh installs) that scrapes every Chirp process
# of this machine and evaluates the production alerts: `make prometheus` / `make prometheus-stop`.
#
#   infra/prometheus.sh start|stop
#
# Its configuration comes from `chirp admin prometheus-config` (the processes' metrics ports, from the same settings
# the services read); data, log and pid file in $CHIRP_DATA_DIR/prometheus. PROMETHEUS_PORT (default 9090) is its
# web UI and API, on 127.0.0.1.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DIR=${CHIRP_DATA_DIR:-$REPO_DIR/.data}/prometheus
PORT=${PROMETHEUS_PORT:-9090}
say() { printf 'prometheus: %s\n' "$*"; }

running() { [[ -f $DIR/prometheus.pid ]] && kill -0 "$(cat "$DIR/prometheus.pid")" 2>/dev/null; }

case ${1:-} in
  start)
    if running; then say "already running: http://127.0.0.1:$PORT"; exit 0; fi
    command -v prometheus >/dev/null 2>&1 || bash "$REPO_DIR/infra/require.sh"
    "$REPO_DIR/.venv/bin/chirp" admin prometheus-config "$DIR" >/dev/null
    nohup prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PORT" >"$DIR/prometheus.log" 2>&1 &
    echo $! >"$DIR/prometheus.pid"
    for _ in $(seq 60); do
      if curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; then
        say "scraping $(grep -c '"process"' "$DIR/prometheus.yml") processes: http://127.0.0.1:$PORT (alerts: /alerts)"
        exit 0
      fi
      running || { tail -20 "$DIR/prometheus.log" >&2; say "exited at start (log above)"; exit 1; }
      sleep 1
    done
    say "not ready after 60 s: see $DIR/prometheus.log"; exit 1
    ;;
  stop)
    if running; then kill "$(cat "$DIR/prometheus.pid")"; say "stopped"; else say "not running"; fi
    rm -f "$DIR/prometheus.pid"
    ;;
  *) echo "usage: infra/prometheus.sh start|stop" >&2; exit 2 ;;
esac
