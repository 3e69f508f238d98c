"""The web application: pages rendered on the server, no external assets.

Every page needs a signed-in store user; every form carries its session's CSRF token; a
Re-Import or Import click checks the gates for that user, then starts a run of the matching
deployment with `requested_by` set to them (never read from the request).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import jinja2
import pandas as pd
import sqlalchemy as sa
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contract_sync.errors import UserError
from contract_sync.reports.audit import load_report
from contract_sync.run import Evaluation, company_ready_list, open_store, ready_with_evaluation
from contract_sync.run import Request as RunRequest
from contract_sync.settings import Settings
from contract_sync.stages.ready import line_preview
from contract_sync.store import identity
from contract_sync.store import schema as s
from contract_sync.store.audit_log import AuditFilter, runs
from contract_sync.store.identity import Event, Person, RunAsked
from contract_sync.vocabulary import WebEvent, in_words
from contract_sync.web import views
from contract_sync.web.auth import sign_in
from contract_sync.web.guard import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Guard,
    Refused,
    client,
    same_site_path,
)
from contract_sync.web.prefect_api import (
    IMPORT,
    REIMPORT,
    FlowRunState,
    PrefectRuns,
    PrefectUnavailable,
)

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
Field = Annotated[str, Form()]


@lru_cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def create_app(settings: Settings, prefect: PrefectRuns) -> FastAPI:
    store = open_store(settings)
    guard = Guard(settings, store)
    app = FastAPI(title="contract-sync", docs_url=None, redoc_url=None, openapi_url=None)

    def page(template: str, status: int = 200, **values: object) -> HTMLResponse:
        html = _templates().get_template(template).render(**values)
        return HTMLResponse(html, status_code=status)

    def refusal_page(request: Request, refusal: Refused, company: int | None = None) -> Response:
        person = guard.person(request)
        guard.refused(request, refusal, company, signed_in=person is not None)
        return page(
            "message.html.j2",
            refusal.status,
            person=person,
            title="Refused",
            message=refusal.message,
            company=company,
        )

    def signed_in(request: Request) -> Person | Response:
        """The page's person; else the way to sign in (a proxy's user is signed in here)."""
        person = guard.person(request)
        if person is not None and guard.proxy_user(request) in (None, person.login):
            return person
        try:
            token = guard.proxy_session(request)
        except Refused as refusal:
            return refusal_page(request, refusal)
        if token is None:
            target = same_site_path(_here(request))
            return RedirectResponse(f"/sign-in?next={_quote(target)}", status_code=303)
        response = RedirectResponse(_here(request), status_code=303)
        guard.open_session(response, token)
        return response

    def of_company(person: Person, company: int) -> dict[int, str]:
        companies = identity.companies_of(store, person.user_id)
        if company not in companies:
            raise Refused(403, f"you have no rights in company {company}", person.login)
        return companies

    def company_page(
        request: Request, company: int, build: Callable[[Person, dict[int, str]], Response]
    ) -> Response:
        """A page of one company, for a signed-in person with rights in it."""
        person = signed_in(request)
        if isinstance(person, Response):
            return person
        try:
            companies = of_company(person, company)
            return build(person, companies)
        except Refused as refusal:
            return refusal_page(request, refusal, company)
        except UserError as error:
            return page(
                "message.html.j2",
                400,
                person=person,
                title="Cannot show this page",
                message=str(error),
                company=company,
            )

    def common(person: Person, companies: dict[int, str], company: int) -> dict:
        return {
            "person": person,
            "companies": companies,
            "company": company,
            "company_name": companies[company],
        }

    @app.exception_handler(sa.exc.OperationalError)
    def store_unavailable(request: Request, error: sa.exc.OperationalError) -> Response:
        log.error("store unavailable on %s %s: %s", request.method, request.url.path, error)
        message = "The project store is busy or cannot be reached: try again in a moment."
        return page(
            "message.html.j2", 503, person=None, title="Try again", message=message, company=None
        )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/sign-in")
    def sign_in_form(request: Request, next: str = "/") -> Response:  # noqa: A002
        if guard.person(request) is not None:
            return RedirectResponse(same_site_path(next), status_code=303)
        token = guard.sign_in_token(request)
        response = page(
            "sign_in.html.j2",
            person=None,
            next=same_site_path(next),
            message=None,
            csrf_token=token,
            login="",
        )
        guard.keep_sign_in_token(response, token)
        return response

    @app.post("/sign-in")
    def sign_in_submit(
        request: Request,
        login: Field = "",
        password: Field = "",
        csrf_token: Field = "",
        next: Field = "/",  # noqa: A002
    ) -> Response:
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        try:
            guard.check_origin(request, login or "(none given)")
            if not expected or csrf_token != expected:
                raise Refused(
                    403,
                    "the sign-in form's security token is missing or wrong",
                    login or "(none given)",
                )
        except Refused as refusal:
            return refusal_page(request, refusal)
        done = sign_in(store, login.strip(), password, client(request), guard.lifetime)
        if done.token is None:
            status = 429 if done.throttled else 401
            response = page(
                "sign_in.html.j2",
                status,
                person=None,
                next=same_site_path(next),
                message=done.refusal,
                csrf_token=expected,
                login=login,
            )
            return response
        if (old := request.cookies.get(SESSION_COOKIE)) and guard.person(request) is not None:
            event = Event(WebEvent.signed_out, login.strip(), client(request), "signed in again")
            identity.end_session(store, old, event)
        response = RedirectResponse(same_site_path(next), status_code=303)
        guard.open_session(response, done.token)
        return response

    @app.post("/sign-out")
    def sign_out(request: Request, csrf_token: Field = "") -> Response:
        try:
            person = guard.check_form(request, guard.person(request), csrf_token)
        except Refused as refusal:
            return refusal_page(request, refusal)
        event = Event(WebEvent.signed_out, person.login, client(request), "sign-out")
        identity.end_session(store, request.cookies[SESSION_COOKIE], event)
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/")
    def home(request: Request) -> Response:
        person = signed_in(request)
        if isinstance(person, Response):
            return person
        companies = identity.companies_of(store, person.user_id)
        if not companies:
            return refusal_page(
                request, Refused(403, "you have no rights in any company", person.login)
            )
        company = settings.company if settings.company in companies else next(iter(companies))
        return RedirectResponse(f"/companies/{company}/contracts", status_code=303)

    @app.get("/companies/{company}/contracts")
    def contracts(request: Request, company: int, project: str = "") -> Response:
        def build(person: Person, companies: dict[int, str]) -> Response:
            table = company_ready_list(settings, RunRequest(company, person.login))
            projects = sorted(table["project"].dropna().unique())
            if project:
                table = table[table["project"] == project]
            return page(
                "contracts.html.j2",
                **common(person, companies, company),
                rows=views.ready_rows(table),
                project=project,
                projects=projects,
            )

        return company_page(request, company, build)

    @app.get("/companies/{company}/contract")
    def contract(request: Request, company: int, no: str) -> Response:
        def build(person: Person, companies: dict[int, str]) -> Response:
            row, found = _one(settings, company, person.login, no)
            lines = line_preview(row["contract_no"], found.comparison, found.state)
            return page(
                "contract.html.j2",
                **common(person, companies, company),
                row=views.ready_rows(pd.DataFrame([row]))[0],
                lines=lines.to_dict("records"),
            )

        return company_page(request, company, build)

    def start_run(request: Request, company: int, no: str, csrf_token: str, kind: str) -> Response:
        try:
            person = guard.check_form(request, guard.person(request), csrf_token)
            of_company(person, company)
        except Refused as refusal:
            return refusal_page(request, refusal, company)
        try:
            row, _ = _one(settings, company, person.login, no)
        except UserError as error:
            return refusal_page(request, Refused(404, str(error), person.login), company)
        allowed = row["import_available" if kind == "import" else "reimport_available"]
        if not allowed:
            reasons = row["import_reasons" if kind == "import" else "reasons"]
            message = f"{kind} of {row['contract_no']} is not available: {in_words(reasons)}"
            return refusal_page(request, Refused(409, message, person.login), company)
        asked = RunAsked(person.login, company, kind, row["contract_no"])
        request_id = identity.request_run(store, asked)
        parameters = {"company": company, "requested_by": person.login, "request_id": request_id}
        if kind == "import":
            deployment, parameters["contract"] = IMPORT, row["contract_no"]
        else:
            deployment, parameters["contracts"] = REIMPORT, [row["contract_no"]]
        try:
            flow_run_id = prefect.start(deployment, parameters)
        except PrefectUnavailable as error:
            return refusal_page(request, Refused(503, str(error), person.login), company)
        identity.attach_flow_run(store, request_id, flow_run_id)
        detail = f"{kind} {row['contract_no']}: flow run {flow_run_id}, request {request_id}"
        identity.record(
            store, Event(WebEvent.run_started, person.login, client(request), detail, company)
        )
        return RedirectResponse(f"/companies/{company}/runs/{flow_run_id}", status_code=303)

    @app.post("/companies/{company}/reimport")
    def reimport(request: Request, company: int, no: Field, csrf_token: Field = "") -> Response:
        return start_run(request, company, no, csrf_token, "reimport")

    @app.post("/companies/{company}/import")
    def first_import(request: Request, company: int, no: Field, csrf_token: Field = "") -> Response:
        return start_run(request, company, no, csrf_token, "import")

    @app.get("/companies/{company}/runs/{run_id}")
    def run(request: Request, company: int, run_id: uuid.UUID) -> Response:
        def build(person: Person, companies: dict[int, str]) -> Response:
            recorded = _run_record(store, str(run_id))
            asked = identity.request_of_run(store, str(run_id))
            of = recorded.erp_company if recorded is not None else asked and asked.erp_company
            if of != company:  # a run of no company the store knows of is no page here
                raise Refused(404, f"no run {run_id} of company {company}", person.login)
            try:
                state = prefect.state(str(run_id))
            except PrefectUnavailable:
                state = None
            report = load_report(store, AuditFilter(run_id=str(run_id)), include_unchanged=True)
            return page(
                "run.html.j2",
                **common(person, companies, company),
                run_id=run_id,
                state=state,
                recorded=recorded,
                link=prefect.link(str(run_id)),
                rows=views.audit_rows(report.rows),
                changes=views.changes_by_row(report.changes),
                refresh=_still_running(state, recorded),
            )

        return company_page(request, company, build)

    @app.get("/companies/{company}/history")
    def history(request: Request, company: int, no: str) -> Response:
        def build(person: Person, companies: dict[int, str]) -> Response:
            number = no.strip(" ")
            report = load_report(
                store, AuditFilter(contract=number, company=company), include_unchanged=True
            )
            return page(
                "history.html.j2",
                **common(person, companies, company),
                contract_no=number,
                rows=views.audit_rows(report.rows),
                changes=views.changes_by_row(report.changes),
            )

        return company_page(request, company, build)

    @app.get("/companies/{company}/audit")
    def audit(request: Request, company: int) -> Response:
        def build(person: Person, companies: dict[int, str]) -> Response:
            report = load_report(store, AuditFilter(company=company))
            rows = report.rows.tail(100)
            admin = identity.is_integrations_admin(store, person.user_id, company)
            events = identity.company_events(store, company) if admin else None
            return page(
                "audit.html.j2",
                **common(person, companies, company),
                summary=report.summary,
                blockers=views.blocker_rows(report.blockers),
                rows=views.audit_rows(rows.iloc[::-1]),
                events=events,
            )

        return company_page(request, company, build)

    return app


def _quote(path: str) -> str:
    return quote(path, safe="")


def _here(request: Request) -> str:
    """This request's path and query, relative (never built from its Host header)."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _one(settings: Settings, company: int, login: str, no: str) -> tuple[dict, Evaluation]:
    """One contract's row of the ready list for this user, and its evaluation."""
    table, found = ready_with_evaluation(settings, RunRequest(company, login, contracts=[no]))
    if table.empty:
        raise UserError(f"contract {no.strip()!r} is not in the ERP for company {company}")
    return table.iloc[0].to_dict(), found


def _still_running(state: FlowRunState | None, recorded: sa.Row | None) -> bool:
    """Whether the run page refreshes: until the flow run has ended (it publishes its
    artifacts after the run record's end); with Prefect not answering, while the run record
    says running."""
    if state is not None:
        return not state.final
    return recorded is None or recorded.status == "running"


def _run_record(store: sa.Engine, run_id: str) -> sa.Row | None:
    r = runs().subquery()
    with store.connect() as connection:
        return connection.execute(
            sa.select(r, s.companies.c.erp_company)
            .join(s.companies, s.companies.c.id == r.c.company_id)
            .where(r.c.id == run_id)
        ).one_or_none()
