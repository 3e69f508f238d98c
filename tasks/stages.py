"""One thin Prefect task per stage of the run API: names, retries and cache policy here,
the logic in the core (contract_sync.run and contract_sync.stages)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from contract_sync.hashing import hashes_and_counts
from contract_sync.items_ahead import load_items
from contract_sync.project_store import read_store, read_store_items
from contract_sync.scan import next_group
from contract_sync.stages.apply import apply
from contract_sync.stages.compare import compare
from contract_sync.stages.gate import evaluate_gates, evaluate_import_gates
from contract_sync.stages.plan import plan_first_import, plan_reimport
from contract_sync.stages.validate import validate
from contract_sync.store.state import load_state


def _task(function: Any, name: str) -> Any:
    # Frames, engines and settings are no cache keys: every run reads its own state.
    return task(function, name=name, cache_policy=NO_CACHE)


read_store_task = _task(read_store, "read remote store")
read_store_items_task = _task(read_store_items, "read remote items")
load_state_task = _task(load_state, "load store state")
# The ERP read a piece of contracts at a time (erp/groups.read_piece_items), from a stream:
# opening it is retried inside read_erp_groups; this task must never be retried nor
# submitted (a stream is read once, in order), and the scan checks that every contract in
# scope was read.
extract_task = _task(next_group, "extract")
hash_task = _task(hashes_and_counts, "hash")
validate_task = _task(validate, "validate")
load_items_task = _task(load_items, "load store items")
compare_task = _task(compare, "compare")
gate_task = _task(evaluate_gates, "gate")
import_gate_task = _task(evaluate_import_gates, "gate first import")
plan_task = _task(plan_reimport, "plan")
import_plan_task = _task(plan_first_import, "plan first import")
apply_task = _task(apply, "apply")

# The task that runs each core stage function inside a flow.
TASKS = {
    t.fn: t
    for t in (
        read_store_task,
        read_store_items_task,
        load_state_task,
        extract_task,
        hash_task,
        validate_task,
        load_items_task,
        compare_task,
        gate_task,
        import_gate_task,
        plan_task,
        import_plan_task,
        apply_task,
    )
}
