#!/usr/bin/env bash
# Stops what scripts/serve.sh started (worker, web pages, reports, then server), by their
# process groups.
set -uo pipefail
cd "$(dirname "$0")/.."
run_dir=${CONTRACT_SYNC_RUN_DIR:-$PWD/.prefect/run}
for name in worker web reports server; do
  pid_file=$run_dir/$name.pid
  [ -f "$pid_file" ] || continue
  pid=$(cat "$pid_file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pid_file"
done
