"""A run's page (followed until it ends), a contract's history, and the company's audit."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from contract_sync.columns import normal_text
from contract_sync.reports.audit import load_report
from contract_sync.store import identity
from contract_sync.store import schema as s
from contract_sync.store.audit_log import AuditFilter, runs
from contract_sync.store.identity import Person, RunAsked
from contract_sync.vocabulary import APPLIED, UNDOABLE, Outcome, RunStatus, Trigger
from contract_sync_faces.web import views, words
from contract_sync_faces.web.guard import Refused
from contract_sync_faces.web.prefect_api import FlowRunState, PrefectUnavailable
from contract_sync_faces.web.site import common, page, site_of

router = APIRouter()
IMPORT_DEPLOYMENT = "import-contract"  # the deployment of a first import (flows/first_import)


@router.get("/companies/{company}/runs/{run_id}")
def run(request: Request, company: int, run_id: uuid.UUID) -> Response:
    site = site_of(request)
    run_id = str(run_id)

    def build(person: Person, companies: dict[int, str]) -> Response:
        recorded = _run_record(site.store, run_id)
        asked = identity.request_of_run(site.store, run_id)
        of = recorded.erp_company if recorded is not None else asked and asked.erp_company
        if of != company:  # a run of no company the store knows of is no page here
            raise Refused(404, f"no run {run_id} of company {company}", person.login)
        try:
            state = site.prefect.state(run_id)
        except PrefectUnavailable:
            state = None
        report = load_report(site.store, AuditFilter(run_id=run_id), include_unchanged=True)
        rows = views.audit_rows(report.rows, companies)
        kind, contracts = _what_was_run(asked, recorded, rows)
        refresh = _still_running(state, recorded)
        return page(
            "run.html.j2",
            **common(person, companies, company),
            run_id=run_id,
            heading=_heading(kind, contracts, recorded, companies[company]),
            byline=_byline(site.store, run_id, asked, recorded),
            now=_now(state, recorded, refresh, kind, rows),
            tone=_tone(refresh, recorded, rows),
            state=state,
            recorded=recorded,
            link=site.prefect.link(run_id),
            rows=rows,
            changes=views.changes_by_row(report.changes),
            refresh=refresh,
            undoable=_undoable(recorded, rows),
        )

    return site.company_page(request, company, build)


@router.get("/companies/{company}/history")
def history(request: Request, company: int, no: str) -> Response:
    site = site_of(request)

    def build(person: Person, companies: dict[int, str]) -> Response:
        number = normal_text(no)
        report = load_report(
            site.store, AuditFilter(contract=number, company=company), include_unchanged=True
        )
        return page(
            "history.html.j2",
            **common(person, companies, company),
            contract_no=number,
            rows=views.audit_rows(report.rows, companies),
            changes=views.changes_by_row(report.changes),
        )

    return site.company_page(request, company, build)


@router.get("/companies/{company}/audit")
def audit(request: Request, company: int) -> Response:
    site = site_of(request)

    def build(person: Person, companies: dict[int, str]) -> Response:
        report = load_report(site.store, AuditFilter(company=company))
        admin = identity.is_integrations_admin(site.store, person.user_id, company)
        return page(
            "audit.html.j2",
            **common(person, companies, company),
            summary=report.summary,
            blockers=views.blocker_rows(report.blockers),
            rows=views.audit_rows(report.rows.tail(100).iloc[::-1], companies),
            events=identity.company_events(site.store, company) if admin else None,
        )

    return site.company_page(request, company, build)


def _undoable(recorded: sa.Row | None, rows: list[dict]) -> bool:
    """Whether the run page offers its Undo: a run that ended, not a dry run, and wrote a
    contract an undo can put back."""
    ended = recorded is not None and recorded.status in (RunStatus.completed, RunStatus.failed)
    wrote = any(r["outcome_code"] in UNDOABLE for r in rows)
    return ended and not recorded.dry_run and wrote


def _what_was_run(
    asked: RunAsked | None, recorded: sa.Row | None, rows: list[dict]
) -> tuple[str, list[str] | None]:
    """(reimport or import, its contracts; None for every contract) of a run: as asked on
    these pages, else as its run record and outcomes say."""
    if asked is not None:
        return asked.kind, [asked.contract_no]
    if recorded is None:
        return "reimport", None
    if recorded.trigger == Trigger.undo:
        return Trigger.undo, sorted({r["contract_no"] for r in rows}) or None
    contracts = (recorded.parameters or {}).get("contracts")
    imports = bool(rows) and all(r["outcome_code"] == Outcome.imported for r in rows)
    deployment = recorded.deployment or ""
    return (
        "import" if imports or deployment.endswith(IMPORT_DEPLOYMENT) else "reimport"
    ), contracts


def _heading(
    kind: str, contracts: list[str] | None, recorded: sa.Row | None, company_name: str
) -> str:
    """'Re-import of 24001- (Granite Peak Builders)': what the run is, not its id."""
    if contracts is None:
        which = "every contract"
    elif len(contracts) <= 3:
        which = ", ".join(contracts)
    else:
        which = f"{len(contracts)} contracts"
    dry = "Dry run: " if recorded is not None and recorded.dry_run else ""
    return f"{dry}{words.KIND_NAMES[kind].capitalize()} of {which} ({company_name})"


def _byline(store: sa.Engine, run_id: str, asked: RunAsked | None, recorded: sa.Row | None) -> str:
    """Who asked for the run, how, and when."""
    if recorded is not None:
        how = words.TRIGGER_WORDS.get(recorded.trigger, recorded.trigger)
        started = f"{recorded.started_at:%Y-%m-%d %H:%M:%S} UTC"
        return f"Asked by {recorded.actor} ({how}), started {started}"
    if asked is None:
        return ""
    r = s.run_requests.c
    with store.connect() as connection:
        at = connection.execute(sa.select(r.requested_at).where(r.flow_run_id == run_id)).scalar()
    return f"Asked by {asked.login} on these pages" + (
        f" at {at:%Y-%m-%d %H:%M:%S} UTC" if at else ""
    )


def _now(
    state: FlowRunState | None, recorded: sa.Row | None, refresh: bool, kind: str, rows: list[dict]
) -> str:
    """What is happening now, or how the run ended, in a sentence or two."""
    again = " This page refreshes itself until the run ends."
    if state is None and refresh:
        return "The Prefect server does not answer, and the run has not ended yet." + again
    if state is not None and not state.final:
        if state.type == "RUNNING":
            done = (
                f" {state.progress:.0f} % of its contracts are written." if state.progress else ""
            )
            return f"Running.{done}" + again
        return (
            f"Waiting for a worker to pick the run up (Prefect says: {state.name}); on a busy "
            "machine this can take half a minute." + again
        )
    if state is not None and state.type != "COMPLETED":
        message = f": {state.message}" if state.message else "."
        return f"The run ended {state.name.lower()}{message}"
    status = recorded.status if recorded is not None else None
    if recorded is None:
        message = f" ({state.message})" if state is not None and state.message else ""
        return f"The run ended before it started{message}: nothing was written."
    return words.run_outcome(kind, rows, status)


def _tone(refresh: bool, recorded: sa.Row | None, rows: list[dict]) -> str:
    """The colour of the run's sentence: going on, done as asked, or not."""
    if refresh:
        return "note"
    done = (*APPLIED, Outcome.up_to_date, Outcome.would_reimport)
    ended = recorded is not None and recorded.status == RunStatus.completed
    return "done" if ended and rows and all(r["outcome_code"] in done for r in rows) else "alert"


def _still_running(state: FlowRunState | None, recorded: sa.Row | None) -> bool:
    """Whether the run page refreshes: until the flow run has ended (it publishes its
    artifacts after the run record's end); with Prefect not answering, while the run record
    says running."""
    if state is not None:
        return not state.final
    return recorded is None or recorded.status == RunStatus.running


def _run_record(store: sa.Engine, run_id: str) -> sa.Row | None:
    r = runs().subquery()
    with store.connect() as connection:
        return connection.execute(
            sa.select(r, s.companies.c.erp_company)
            .join(s.companies, s.companies.c.id == r.c.company_id)
            .where(r.c.id == run_id)
        ).one_or_none()
