#!/usr/bin/env bash
# Starts a local Prefect server on loopback, a process work pool with every deployment of
# prefect.yaml, and a worker; prints the UI address. scripts/stop.sh ends them.
# Environment: PREFECT_PORT (4200), CONTRACT_SYNC_REPORTS_PORT (PREFECT_PORT + 1),
# CONTRACT_SYNC_WEB_PORT (PREFECT_PORT + 2), PREFECT_HOME
# (.prefect), CONTRACT_SYNC_RUN_DIR (.prefect/run);
# the contract-sync settings (CONTRACT_SYNC_*) reach the flows through the worker.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
bin=$project/.venv/bin
port=${PREFECT_PORT:-4200}
run_dir=${CONTRACT_SYNC_RUN_DIR:-$project/.prefect/run}
export PREFECT_HOME=${PREFECT_HOME:-$project/.prefect}
export PREFECT_API_URL="http://127.0.0.1:$port/api"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_UI_API_URL="$PREFECT_API_URL"
export CONTRACT_SYNC_PROJECT_DIR=$project
eval "$("$bin/contract-sync" deploy-env)"
mkdir -p "$run_dir"

running() { [ -f "$run_dir/$1.pid" ] && kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null; }

# answering NAME URL SECONDS: wait until URL answers; fail if NAME's process stops first.
answering() {
  for _ in $(seq 1 "$3"); do
    "$bin/python" - "$2" <<'PY' && return 0
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except Exception:
    sys.exit(1)
PY
    running "$1" || { echo "$1 stopped; see $run_dir/$1.log"; exit 1; }
    sleep 1
  done
  echo "$1 does not answer at $2 after $3 s; see $run_dir/$1.log"
  exit 1
}

if running server; then
  echo "Prefect server already running (pid $(cat "$run_dir/server.pid"))"
else
  setsid "$bin/prefect" server start --host 127.0.0.1 --port "$port" \
    >"$run_dir/server.log" 2>&1 < /dev/null &
  echo $! >"$run_dir/server.pid"
fi
answering server "$PREFECT_API_URL/health" 180

"$bin/prefect" work-pool create contract-sync --type process --overwrite >/dev/null
"$bin/prefect" --no-prompt deploy --all >"$run_dir/deploy.log" 2>&1 \
  || { cat "$run_dir/deploy.log"; exit 1; }
# Each company's concurrency limit, and the automation that ends runs whose worker died.
"$bin/python" -m contract_sync_flows.server_setup

# The run reports (validation pages, audit reports), served over http on loopback so that
# the artifacts' links open in the browser; the flows learn the address from the worker.
reports_port=${CONTRACT_SYNC_REPORTS_PORT:-$((port + 1))}
reports_dir=$("$bin/python" -c 'from contract_sync.settings import get_settings as s; print(s().reports_path.resolve())')
mkdir -p "$reports_dir"
export CONTRACT_SYNC_REPORTS_URL="http://127.0.0.1:$reports_port"
if ! running reports; then
  setsid "$bin/python" -m http.server --bind 127.0.0.1 --directory "$reports_dir" "$reports_port" \
    >"$run_dir/reports.log" 2>&1 < /dev/null &
  echo $! >"$run_dir/reports.pid"
fi

# The web pages (sign-in, contracts ready to be imported, audit) on loopback.
web_port=${CONTRACT_SYNC_WEB_PORT:-$((port + 2))}
if ! running web; then
  setsid "$bin/contract-sync" web --port "$web_port" \
    >"$run_dir/web.log" 2>&1 < /dev/null &
  echo $! >"$run_dir/web.pid"
fi

if ! running worker; then
  CONTRACT_SYNC_WORKER_NAME=${CONTRACT_SYNC_WORKER_NAME:-contract-sync-local} \
    setsid scripts/worker.sh >"$run_dir/worker.log" 2>&1 < /dev/null &
  echo $! >"$run_dir/worker.pid"
fi
echo "Prefect UI: http://127.0.0.1:$port  (deployments: $("$bin/prefect" deployment ls 2>/dev/null | grep -c '/' || true))"
echo "Reports: $CONTRACT_SYNC_REPORTS_URL/ (validation pages of each run, audit reports)"
answering web "http://127.0.0.1:$web_port/sign-in" 60
echo "Web pages: http://127.0.0.1:$web_port/ (sign in as a store user: contract-sync users set-password LOGIN)"
echo "logs in $run_dir; stop with: make stop"
