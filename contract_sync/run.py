"""The run API: one re-import or first-import run from start to finish, orchestrator-free.

start (store state, run record) -> scan (extract, hash, validate: the whole ERP, a group
of contracts at a time) -> per group of changed contracts: evaluate (load items, compare,
gate) -> plan -> apply -> finish. The flows, the CLI, the benchmark and the tests all run
through here; `Hooks` lets each caller run the stages its own way: a Prefect flow as
tasks, the benchmark under a stopwatch, a test with a look at each plan before it is applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from dataclasses import asdict, replace

import pandas as pd
import sqlalchemy as sa

from contract_sync.erp.groups import ErpGroups
from contract_sync.erp.read import erp_groups_opened_ahead, read_erp_groups
from contract_sync.errors import UserError
from contract_sync.evaluation import evaluations
from contract_sync.hooks import Hooks
from contract_sync.model import Evaluation, Origin, Request, RunResult, Scan, StoreState
from contract_sync.pace import Pace
from contract_sync.project_store import SQL_STORE, ProjectStore, project_store, read_store
from contract_sync.reports.validation import with_report
from contract_sync.resolve import UnknownContract, require_known
from contract_sync.scan import scan
from contract_sync.settings import Settings
from contract_sync.stages import suite_worker
from contract_sync.stages.apply import apply
from contract_sync.stages.gate import evaluate_import_gates
from contract_sync.stages.plan import plan_first_import, plan_reimport
from contract_sync.stages.ready import ready_list
from contract_sync.stages.scope import UnknownProject
from contract_sync.store.db import open_store
from contract_sync.store.identity import Event, record
from contract_sync.store.liveness import alive
from contract_sync.store.state import load_state
from contract_sync.store.writes import finish_run, start_run
from contract_sync.vocabulary import RunStatus, Trigger, WebEvent


@contextmanager
def _store(settings: Settings) -> Iterator[sa.Engine]:
    store = open_store(settings)
    try:
        yield store
    finally:
        store.dispose()


class UnknownUser(UserError, LookupError):
    """A login the store does not know, asked for a view (a run records it as a refusal)."""


def _load_state(
    store: sa.Engine,
    request: Request,
    hooks: Hooks,
    target: ProjectStore = SQL_STORE,
    first_import: bool = False,
) -> StoreState:
    """The store's state for the request (read from the target store first when that is
    not the ledger's own tables; for a first import without the contracts' lists: each
    contract is looked for where it is written)."""
    if target.remote:
        hooks.stage(
            "read remote store",
            read_store,
            store=target,
            ledger=store,
            erp_company=request.company,
            contracts=not first_import,
        )
    return hooks.stage(
        "load state",
        load_state,
        engine=store,
        erp_company=request.company,
        actor=request.actor,
        contract_nos=request.contracts,
    )


def preview(settings: Settings, request: Request, hooks: Hooks = Hooks()) -> Evaluation:
    """A read-only evaluation of every contract in scope at once (no run record, no
    validation report): lists and previews. A request naming a contract the ERP lacks is
    refused (resolve.UnknownContract)."""
    require_known(settings, request)
    with (
        _store(settings) as store,
        project_store(settings) as target,
        Pace.for_preview() as pace,
        _erp_read(settings, request, pace, target) as erp,
    ):
        state = _load_state(store, request, hooks, target)
        found = scan(settings, state, request, pace, erp, hooks=hooks)
        [evaluation] = evaluations(store, found, request, hooks=hooks, target=target)
        return evaluation


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
        raise UnknownUser(
            f"{request.actor!r} is not a user of the project store: act as one of its logins "
            "(the directory file lists them)"
        )
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
    return _run(settings, request, origin or Origin(), hooks, first_import=False)


def first_import(
    settings: Settings,
    request: Request,
    *,
    origin: Origin | None = None,
    hooks: Hooks = Hooks(),
) -> RunResult:
    """A first import of the requested contracts into their synced jobs' projects."""
    return _run(settings, request, origin or Origin(), hooks, first_import=True)


def _run(
    settings: Settings,
    request: Request,
    origin: Origin,
    hooks: Hooks,
    *,
    first_import: bool,
) -> RunResult:
    """The one run sequence: start, scan, then plan and apply group by group, finish
    (failed on any error). A request naming a contract the ERP lacks is refused before the
    run starts, the refusal recorded (web_events), not a failed run. The run holds its
    life lock throughout: killed, it is found abandoned. Nothing is written before the
    whole ERP in scope is read and validated; the changed contracts' frames wait in memory
    up to a group's items, in files beyond."""
    _known_or_refused(settings, request, origin)
    with (
        Pace.for_run(settings, waited_on=_waited_on(request, origin)) as pace,
        _store(settings) as store,
        project_store(settings) as target,
        alive(store, origin.run_id),
        _erp_read(settings, request, pace, target) as erp,
    ):
        state = _load_state(store, request, hooks, target, first_import)
        start_run(store, run_record(origin, state.company_id, request))
        try:  # the ERP read's error, if any, is raised in the scan: the run is recorded failed
            found = scan(
                settings,
                state,
                request,
                pace,
                erp,
                first_import=first_import,
                run_id=origin.run_id,
                hooks=hooks,
            )
            found = _with_report(settings, found, origin.run_id)
            audit, repeated = _plan_and_apply(
                store, target, found, request, origin, hooks, first_import
            )
        except BaseException:
            finish_run(store, origin.run_id, RunStatus.failed)
            raise
        finish_run(store, origin.run_id, RunStatus.completed, repeated)
    return RunResult(origin.run_id, audit, found)


def _erp_read(
    settings: Settings, request: Request, pace: Pace, target: ProjectStore
) -> AbstractContextManager[AbstractContextManager[ErpGroups]]:
    """The request's ERP read: opened while the run loads the SQL store's state; for a
    remote store (its state read through many requests) opened when the scan asks, never
    held open on the ERP meanwhile."""
    arguments = settings, request.company, request.contracts, pace.group_items
    if target.remote:
        return nullcontext(read_erp_groups(*arguments))
    return erp_groups_opened_ahead(*arguments)


def _waited_on(request: Request, origin: Origin) -> bool:
    """A person at the command line named the contracts of this run and waits for them:
    fewer than a thousand (an `import --all` names every importable contract; a helper of a
    large one would hold a copy of a whole group)."""
    named = request.contracts or []
    return origin.trigger == Trigger.cli and 0 < len(named) < suite_worker.MIN_CONTRACTS


def _known_or_refused(settings: Settings, request: Request, origin: Origin) -> None:
    """require_known, a refusal recorded with its line (who asked, from where, what)."""
    try:
        require_known(settings, request)
    except UnknownContract as refused:
        detail = f"{origin.trigger} run {origin.run_id}: {refused}"
        event = Event(WebEvent.refused, request.actor, str(origin.trigger), detail, request.company)
        with _store(settings) as store:
            record(store, event)
        raise


def _with_report(settings: Settings, found: Scan, run_id: str) -> Scan:
    """The scan with the run's validation report on the contracts it validated, when
    reports are written (CONTRACT_SYNC_DATA_DOCS)."""
    checked = found.contracts.loc[~found.unchanged, "contract_no"]
    if not settings.data_docs or checked.empty:
        return found
    docs_dir = settings.reports_path / run_id
    report = with_report(found.validation, checked, docs_dir, run_id, settings.expectations_dir)
    return replace(found, validation=report)


def _plan_and_apply(
    store: sa.Engine,
    target: ProjectStore,
    found: Scan,
    request: Request,
    origin: Origin,
    hooks: Hooks,
    first_import: bool,
) -> tuple[pd.DataFrame, int]:
    """Each group evaluated, planned and applied in turn; the audit rows of all, and how
    many contracts were found as last recorded."""
    make_plan = plan_first_import if first_import else plan_reimport
    audits, repeated = [], 0
    progress = _Progress(hooks.progress, int((~found.unchanged).sum()))
    groups = evaluations(
        store, found, request, first_import=first_import, hooks=hooks, target=target
    )
    with closing(groups):  # closed on an error too: its read ahead ends with it
        for evaluation in groups:
            plan = hooks.stage("plan", make_plan, found=evaluation, dry_run=request.dry_run)
            if hooks.planned is not None:
                hooks.planned(plan)
            audit = hooks.stage(
                "apply",
                apply,
                engine=store,
                run_id=origin.run_id,
                plan=plan,
                progress=progress.of_group(evaluation),
                write_group=target.write_group,
            )
            audits.append(audit)
            repeated += int(plan.repeated.sum())
    progress.finish()
    audit = pd.concat(audits).sort_index(kind="stable") if len(audits) > 1 else audits[0]
    return audit, repeated


class _Progress:
    """Contracts written across groups. The total counts the changed contracts of the
    groups not planned yet as if each will be written: it only shrinks, to the exact
    number once the last group is planned."""

    def __init__(self, progress, changed: int) -> None:  # noqa: ANN001 - Hooks.progress
        self.progress, self.unplanned, self.written = progress, changed, 0
        self.reported = (0, 0)

    def of_group(self, evaluation: Evaluation):  # noqa: ANN201 - a progress callback
        if self.progress is None:
            return None
        self.unplanned -= int((~evaluation.unchanged).sum())
        before = self.written

        def report(done: int, total: int) -> None:
            self.written = before + done
            self.reported = (self.written, before + total + self.unplanned)
            self.progress(*self.reported)

        return report

    def finish(self) -> None:
        """The exact total, when the last groups had nothing to write."""
        exact = (self.written, self.written)
        if self.progress is not None and self.written and self.reported != exact:
            self.progress(*exact)


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
