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
from contract_sync.store.identity import Person
from contract_sync.vocabulary import RunStatus
from contract_sync_faces.web import views
from contract_sync_faces.web.guard import Refused
from contract_sync_faces.web.prefect_api import FlowRunState, PrefectUnavailable
from contract_sync_faces.web.site import common, page, site_of

router = APIRouter()


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
        return page(
            "run.html.j2",
            **common(person, companies, company),
            run_id=run_id,
            state=state,
            recorded=recorded,
            link=site.prefect.link(run_id),
            rows=views.audit_rows(report.rows),
            changes=views.changes_by_row(report.changes),
            refresh=_still_running(state, recorded),
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
            rows=views.audit_rows(report.rows),
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
            rows=views.audit_rows(report.rows.tail(100).iloc[::-1]),
            events=identity.company_events(site.store, company) if admin else None,
        )

    return site.company_page(request, company, build)


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
