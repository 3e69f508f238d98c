"""The run API: one re-import or first-import run from start to finish, orchestrator-free.

start (store state, run record) -> evaluate (extract, hash, validate, load items, compare,
gate) -> plan -> apply -> finish. The flows, the CLI, the benchmark and the tests all run
through here; `Hooks` lets each caller run the stages its own way: a Prefect flow as
tasks, the benchmark under a stopwatch, a test with a look at the plan before it is applied.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from contract_sync.erp.frames import ErpFrames
from contract_sync.erp.read import read_contract_numbers, read_erp
from contract_sync.errors import UserError
from contract_sync.hashing import contract_hashes
from contract_sync.settings import Settings
from contract_sync.stages.apply import apply
from contract_sync.stages.compare import Comparison, compare, unchanged_contracts
from contract_sync.stages.gate import evaluate_gates, evaluate_import_gates
from contract_sync.stages.plan import Plan, plan_first_import, plan_reimport
from contract_sync.stages.ready import ready_list
from contract_sync.stages.scope import UnknownProject, in_project
from contract_sync.stages.validate import Validation, validate
from contract_sync.store.db import check_reachable, make_engine, require_current_schema
from contract_sync.store.liveness import alive
from contract_sync.store.state import StoreState, load_state, with_items
from contract_sync.store.validation_cache import ValidationCache
from contract_sync.store.writes import finish_run, start_run
from contract_sync.vocabulary import ConflictPolicy, RunStatus, Trigger


def _call(_name: str, function: Callable[..., Any], /, **arguments: Any) -> Any:
    return function(**arguments)


@dataclass(frozen=True)
class Hooks:
    """How a caller takes part in a run; every field has a do-nothing default."""

    # Runs one stage: (stage name, the core's function, its keyword arguments) -> result.
    run_stage: Callable[..., Any] = _call
    # Wraps each stage, e.g. a stopwatch: timer("compare") is a context manager.
    timer: Callable[[str], AbstractContextManager] = lambda _stage: nullcontext()
    # Called as contracts are written: progress(done, total).
    progress: Callable[[int, int], None] | None = None
    # Sees the plan before it is applied.
    planned: Callable[[Plan], None] | None = None

    def stage(self, name: str, function: Callable[..., Any], /, **arguments: Any) -> Any:
        with self.timer(name):
            return self.run_stage(name, function, **arguments)


@dataclass(frozen=True)
class Request:
    """What a run is asked to do. Contract numbers are taken in any padding and kept in
    their normal form (contract_sync.columns.normal_code)."""

    company: int
    actor: str
    contracts: list[str] | None = None  # ERP contract numbers; every contract when None
    project: str | None = None  # only the contracts of this store project
    dry_run: bool = False
    policy: ConflictPolicy = ConflictPolicy.erp_wins
    full_refresh: bool = False  # compare also the contracts unchanged since their last import

    def __post_init__(self) -> None:
        if self.contracts is not None:
            normal = list(dict.fromkeys(str(c).strip(" ") for c in self.contracts))
            object.__setattr__(self, "contracts", normal)


@dataclass(frozen=True)
class Origin:
    """Where a run comes from, for its run record."""

    trigger: Trigger = Trigger.cli
    deployment: str | None = None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Evaluation:
    state: StoreState  # with the items of the compared contracts
    erp: ErpFrames  # every contract in scope
    hashes: pd.Series
    unchanged: pd.Series  # same content hash as at the last import: not compared
    validation: Validation
    comparison: Comparison | None  # None for a first import
    decisions: pd.DataFrame  # contract_no, reasons, eligible


@dataclass(frozen=True)
class RunResult:
    run_id: str
    audit: pd.DataFrame  # one row per contract in scope, as recorded
    evaluation: Evaluation


def open_store(settings: Settings) -> sa.Engine:
    """The store's engine, refusing a schema that is not the current one."""
    store = make_engine(settings.store_database_url, must_exist=True)
    check_reachable(store, "project store")
    require_current_schema(store)
    return store


@contextmanager
def _store(settings: Settings) -> Iterator[sa.Engine]:
    store = open_store(settings)
    try:
        yield store
    finally:
        store.dispose()


def _extract(settings: Settings, request: Request, hooks: Hooks) -> ErpFrames:
    return hooks.stage(
        "extract",
        read_erp,
        settings=settings,
        company=request.company,
        contract_nos=request.contracts,
    )


def _validation_inputs(settings: Settings, docs_dir: Path | None, run_id: str | None) -> dict:
    path = settings.validation_cache_path
    return {
        "suites_dir": settings.expectations_dir,
        "docs_dir": docs_dir,
        "cache": None if path is None else ValidationCache(path),
        "run_id": run_id,
    }


def evaluate(
    settings: Settings,
    store: sa.Engine,
    state: StoreState,
    request: Request,
    *,
    docs_dir: Path | None = None,
    run_id: str | None = None,
    hooks: Hooks = Hooks(),
) -> Evaluation:
    """Every stage of a re-import up to the gates' decisions; nothing is written."""
    erp = _extract(settings, request, hooks)
    if request.project is not None:
        erp = in_project(erp, state, request.project)
    hashes = hooks.stage("hash", contract_hashes, contracts=erp.contracts, items=erp.items)
    unchanged = unchanged_contracts(state, erp.contracts, hashes)
    if request.full_refresh:
        unchanged = pd.Series(False, index=erp.contracts.index)
    changed = erp.only(~unchanged)
    validation = hooks.stage(
        "validate", validate, erp=changed, **_validation_inputs(settings, docs_dir, run_id)
    )
    state = hooks.stage(
        "load items",
        with_items,
        engine=store,
        state=state,
        contract_ids=state.contract_ids(changed.contracts["contract_no"]),
    )
    comparison = hooks.stage(
        "compare", compare, state=state, erp_contracts=changed.contracts, erp_items=changed.items
    )
    decisions = hooks.stage(
        "gate",
        evaluate_gates,
        state=state,
        erp_contracts=erp.contracts,
        invalid_contracts=validation.invalid_contracts,
        comparison=comparison,
        policy=request.policy,
        unchanged=unchanged,
    )
    return Evaluation(state, erp, hashes, unchanged, validation, comparison, decisions)


def evaluate_first_import(
    settings: Settings,
    state: StoreState,
    request: Request,
    *,
    docs_dir: Path | None = None,
    run_id: str | None = None,
    hooks: Hooks = Hooks(),
) -> Evaluation:
    """The stages of a first import up to its gates: extract, hash, validate, gate."""
    erp = _extract(settings, request, hooks)
    require_known(settings, request, erp.contracts)
    hashes = hooks.stage("hash", contract_hashes, contracts=erp.contracts, items=erp.items)
    validation = hooks.stage(
        "validate", validate, erp=erp, **_validation_inputs(settings, docs_dir, run_id)
    )
    decisions = hooks.stage(
        "gate",
        evaluate_import_gates,
        state=state,
        erp_contracts=erp.contracts,
        invalid_contracts=validation.invalid_contracts,
    )
    unchanged = pd.Series(False, index=erp.contracts.index)
    return Evaluation(state, erp, hashes, unchanged, validation, None, decisions)


class UnknownUser(UserError, LookupError):
    """A login the store does not know, asked for a view (a run records it as a refusal)."""


class UnknownContract(UserError, LookupError):
    """A contract asked for by number that the ERP does not hold."""


def require_known(settings: Settings, request: Request, erp_contracts: pd.DataFrame) -> None:
    """Every contract the request names is in the ERP; else the error lists the nearest
    numbers the ERP holds for each one that is not."""
    missing = sorted(set(request.contracts or []) - set(erp_contracts["contract_no"]))
    if not missing:
        return
    known = read_contract_numbers(settings, request.company)
    lines = []
    for number in missing:
        nearest = difflib.get_close_matches(number, known, n=3, cutoff=0.5)
        hint = f" (nearest: {', '.join(nearest)})" if nearest else ""
        lines.append(f"{number!r}{hint}")
    raise UnknownContract(f"not in the ERP for company {request.company}: {'; '.join(lines)}")


def preview(settings: Settings, request: Request, hooks: Hooks = Hooks()) -> Evaluation:
    """A read-only evaluation (no run record, no validation report): lists and previews."""
    with _store(settings) as store:
        state = hooks.stage(
            "load state",
            load_state,
            engine=store,
            erp_company=request.company,
            actor=request.actor,
            contract_nos=request.contracts,
        )
        return evaluate(settings, store, state, request, hooks=hooks)


def company_ready_list(
    settings: Settings, request: Request, hooks: Hooks = Hooks()
) -> pd.DataFrame:
    """The "ERP Main Contracts Ready to be Imported" list as the request's actor sees it,
    for one project when the request names one; `import_reasons` says why a contract not
    imported yet cannot be imported by this user."""
    return ready_with_evaluation(settings, request, hooks)[0]


def ready_with_evaluation(
    settings: Settings, request: Request, hooks: Hooks = Hooks()
) -> tuple[pd.DataFrame, Evaluation]:
    """The ready list, and the evaluation it comes from (for a contract's line preview)."""
    found = preview(settings, replace(request, project=None), hooks)
    if not found.state.actor_known:
        raise UnknownUser(f"{request.actor!r} is not a user of the project store")
    if request.project is not None and request.project not in set(found.state.projects["project"]):
        raise UnknownProject(f"project {request.project} does not exist in the project store")
    importable = evaluate_import_gates(
        found.state, found.erp.contracts, found.validation.invalid_contracts
    )
    table = ready_list(
        found.erp.contracts, found.state, found.decisions, found.comparison, importable
    ).merge(
        importable.rename(columns={"reasons": "import_reasons"})[["contract_no", "import_reasons"]],
        on="contract_no",
        how="left",
    )
    if request.project is not None:
        table = table[table["project"] == request.project].reset_index(drop=True)
    return table, found


def reimport(
    settings: Settings,
    request: Request,
    *,
    origin: Origin | None = None,
    hooks: Hooks = Hooks(),
) -> RunResult:
    """A re-import run: every contract in scope evaluated, the eligible ones written."""

    def evaluate_this(
        store: sa.Engine, state: StoreState, docs_dir: Path | None, run_id: str
    ) -> Evaluation:
        return evaluate(
            settings, store, state, request, docs_dir=docs_dir, run_id=run_id, hooks=hooks
        )

    return _run(settings, request, origin or Origin(), hooks, evaluate_this, plan_reimport)


def first_import(
    settings: Settings,
    request: Request,
    *,
    origin: Origin | None = None,
    hooks: Hooks = Hooks(),
) -> RunResult:
    """A first import of the requested contracts into their synced jobs' projects."""

    def evaluate_this(
        store: sa.Engine, state: StoreState, docs_dir: Path | None, run_id: str
    ) -> Evaluation:
        return evaluate_first_import(
            settings, state, request, docs_dir=docs_dir, run_id=run_id, hooks=hooks
        )

    return _run(settings, request, origin or Origin(), hooks, evaluate_this, plan_first_import)


def _run(
    settings: Settings,
    request: Request,
    origin: Origin,
    hooks: Hooks,
    evaluate_run: Callable[[sa.Engine, StoreState, Path | None, str], Evaluation],
    make_plan: Callable[..., Plan],
) -> RunResult:
    """The one run sequence: start, evaluate, plan, apply, finish (failed on any error).
    The run holds its life lock throughout: killed, it is found abandoned."""
    with _store(settings) as store, alive(store, origin.run_id):
        state = hooks.stage(
            "load state",
            load_state,
            engine=store,
            erp_company=request.company,
            actor=request.actor,
            contract_nos=request.contracts,
        )
        start_run(store, run_record(origin, state.company_id, request))
        try:
            docs_dir = settings.reports_path / origin.run_id if settings.data_docs else None
            found = evaluate_run(store, state, docs_dir, origin.run_id)
            plan = hooks.stage("plan", make_plan, found=found, dry_run=request.dry_run)
            if hooks.planned is not None:
                hooks.planned(plan)
            audit = hooks.stage(
                "apply",
                apply,
                engine=store,
                run_id=origin.run_id,
                plan=plan,
                progress=hooks.progress,
            )
        except BaseException:
            finish_run(store, origin.run_id, RunStatus.failed)
            raise
        finish_run(store, origin.run_id, RunStatus.completed, int(plan.repeated.sum()))
    return RunResult(origin.run_id, audit, found)


def run_record(origin: Origin, company_id: int, request: Request) -> dict:
    """The sync_runs row of a run."""
    parameters = asdict(request)
    return {
        "id": origin.run_id,
        "company_id": company_id,
        "trigger": str(origin.trigger),
        "deployment": origin.deployment,
        "actor": parameters.pop("actor"),
        "parameters": {k: (str(v) if k == "policy" else v) for k, v in parameters.items()},
        "dry_run": request.dry_run,
    }
