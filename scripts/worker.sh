#!/usr/bin/env bash
# One worker of the contract-sync work pool, in the foreground (scripts/serve.sh starts one
# beside its server). On another machine: a copy of this folder (`make install`), then
#   PREFECT_API_URL (and PREFECT_API_AUTH_STRING): the shared Prefect server;
#   CONTRACT_SYNC_STORE_URL, CONTRACT_SYNC_ERP_URL, ...: the same settings as every worker
#     (a PostgreSQL store: SQLite is one machine's file);
#   CONTRACT_SYNC_WORKER_NAME: its name in the UI (default: the host's name; give each
#     worker of one machine a name of its own);
#   CONTRACT_SYNC_WORKER_LIMIT: how many runs it takes at once (default: no limit; 2 at
#     least where it is the only worker: the scheduled sync waits in one for the others).
# The flow runs it starts run the flows of this folder with these settings.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
: "${PREFECT_API_URL:?must name the Prefect server that the worker takes its runs from}"
export CONTRACT_SYNC_PROJECT_DIR=$project
args=(--pool contract-sync --name "${CONTRACT_SYNC_WORKER_NAME:-$(hostname)}")
if [ -n "${CONTRACT_SYNC_WORKER_LIMIT:-}" ]; then
  args+=(--limit "$CONTRACT_SYNC_WORKER_LIMIT")
fi
exec "$project/.venv/bin/prefect" worker start "${args[@]}"
