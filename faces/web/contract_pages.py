"""The ERP main contracts ready to be imported, a contract's preview, and the Re-Import and
Import clicks that start runs as the signed-in person."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contract_sync.errors import UserError
from contract_sync.model import Evaluation
from contract_sync.resolve import resolve
from contract_sync.run import ready_with_evaluation
from contract_sync.settings import Settings
from contract_sync.store import identity
from contract_sync.store.identity import Event, Person, RunAsked
from contract_sync.vocabulary import WebEvent
from contract_sync_faces.web import views, words
from contract_sync_faces.web.guard import Refused, client
from contract_sync_faces.web.prefect_api import PrefectUnavailable
from contract_sync_faces.web.site import Field, Site, common, page, site_of

router = APIRouter()


@router.get("/companies/{company}/contracts")
def contracts(request: Request, company: int, project: str = "") -> Response:
    site = site_of(request)

    def build(person: Person, companies: dict[int, str]) -> Response:
        asked = resolve(site.settings, company=company, actor=person.login)
        table, found = ready_with_evaluation(site.settings, asked)
        rights = views.rights_of(found)
        rows = views.ready_rows(table, rights)
        projects = sorted({p for row in rows for p in row["projects"]})
        if project:  # a contract held by several projects is in each one's list
            rows = [row for row in rows if project in row["projects"]]
        return page(
            "contracts.html.j2",
            **common(person, companies, company),
            rows=rows,
            said_once=views.said_once(rows, rights),
            project=project,
            projects=projects,
        )

    return site.company_page(request, company, build)


@router.get("/companies/{company}/contract")
def contract(request: Request, company: int, no: str) -> Response:
    site = site_of(request)

    def build(person: Person, companies: dict[int, str]) -> Response:
        row, found = _one(site.settings, company, person.login, no)
        return page(
            "contract.html.j2",
            **common(person, companies, company),
            row=views.ready_rows(pd.DataFrame([row]), views.rights_of(found))[0],
            effect=views.effect(row, found, views.kind_of(row)),
        )

    return site.company_page(request, company, build)


@router.get("/companies/{company}/reimport")
def confirm_reimport(request: Request, company: int, no: str) -> Response:
    return _confirm_page(site_of(request), request, company, no, "reimport")


@router.get("/companies/{company}/import")
def confirm_import(request: Request, company: int, no: str) -> Response:
    return _confirm_page(site_of(request), request, company, no, "import")


@router.post("/companies/{company}/reimport")
def reimport(
    request: Request, company: int, no: Field, csrf_token: Field = "", seen: Field = ""
) -> Response:
    return _start_run(site_of(request), request, company, no, csrf_token, "reimport", seen)


@router.post("/companies/{company}/import")
def first_import(
    request: Request, company: int, no: Field, csrf_token: Field = "", seen: Field = ""
) -> Response:
    return _start_run(site_of(request), request, company, no, csrf_token, "import", seen)


def _confirm_page(site: Site, request: Request, company: int, no: str, kind: str) -> Response:
    """What a Re-Import (Import) would do, before it is started: the gates checked for this
    person as at the click, and a Confirm button that posts the click."""

    def build(person: Person, companies: dict[int, str]) -> Response:
        row, found = _allowed(site.settings, company, person.login, no, kind)
        return _confirmation(person, companies, company, kind, row, found)

    return site.company_page(request, company, build)


def _confirmation(
    person: Person,
    companies: dict[int, str],
    company: int,
    kind: str,
    row: dict,
    found: Evaluation,
    status: int = 200,
    changed: bool = False,
) -> Response:
    effect = views.effect(row, found, kind)
    return page(
        "confirm.html.j2",
        status,
        **common(person, companies, company),
        kind=kind,
        kind_name=words.KIND_NAMES[kind],
        row=views.ready_rows(pd.DataFrame([row]), views.rights_of(found))[0],
        effect=effect,
        seen=views.effect_key(effect, kind, company, row),
        changed=changed,
    )


def _start_run(
    site: Site, request: Request, company: int, no: str, csrf_token: str, kind: str, seen: str
) -> Response:
    """A confirmed click: the form checked, the gates checked again for this person, a run
    request recorded, and the deployment's run started for it with requested_by = this
    person. When what it would do is no longer what the confirmation page showed (`seen`),
    that page is shown again instead, with what it would do now; a click that saw none (a
    page from before the confirmation, a form made by hand) is shown it first."""
    try:
        person = site.guard.check_form(request, site.guard.person(request), csrf_token)
        companies = site.companies_of(person, company)
        row, found = _allowed(site.settings, company, person.login, no, kind)
    except Refused as refusal:
        return site.refusal_page(request, refusal, company)
    if not seen:
        return _confirmation(person, companies, company, kind, row, found)
    if seen != views.effect_key(views.effect(row, found, kind), kind, company, row):
        return _confirmation(person, companies, company, kind, row, found, 409, changed=True)
    asked = RunAsked(person.login, company, kind, row["contract_no"])
    request_id = identity.request_run(site.store, asked)
    deployment, parameters = deployment_run(asked, request_id)
    try:
        flow_run_id = site.prefect.start(deployment, parameters, idempotency_key=request_id)
    except PrefectUnavailable as error:
        return site.refusal_page(request, Refused(503, str(error), person.login), company)
    identity.attach_flow_run(site.store, request_id, flow_run_id)
    detail = f"{kind} {row['contract_no']}: flow run {flow_run_id}, request {request_id}"
    event = Event(WebEvent.run_started, person.login, client(request), detail, company)
    identity.record(site.store, event)
    return RedirectResponse(f"/companies/{company}/runs/{flow_run_id}", status_code=303)


def deployment_run(asked: RunAsked, request_id: str) -> tuple[str, dict[str, Any]]:
    """The deployment a click starts ("flow/deployment") and its run's parameters, bound to
    the flow's signature. The flows are imported here, at the click: they import Prefect."""
    from contract_sync_flows.first_import import BY_HAND as IMPORT
    from contract_sync_flows.reimport import BY_HAND as REIMPORT

    given = {"company": asked.erp_company, "requested_by": asked.login, "request_id": request_id}
    if asked.kind == "import":
        return IMPORT.name, IMPORT.parameters(contract=asked.contract_no, **given)
    return REIMPORT.name, REIMPORT.parameters(contracts=[asked.contract_no], **given)


def _allowed(
    settings: Settings, company: int, login: str, no: str, kind: str
) -> tuple[dict, Evaluation]:
    """The contract's row and evaluation when the gates let this person re-import (import)
    it; refused with the reasons in words otherwise (their codes in the audit log)."""
    try:
        row, found = _one(settings, company, login, no)
    except UserError as error:
        raise Refused(404, str(error), login) from None
    first = kind == "import"
    if not row["import_available" if first else "reimport_available"]:
        why = views.refusal(row, views.rights_of(found), kind)
        message = words.refusal_text(kind, row["contract_no"], why)
        detail = f"{kind} of {row['contract_no']} refused: {why['reasons']}"
        raise Refused(409, message, login, detail=detail)
    return row, found


def _one(settings: Settings, company: int, login: str, no: str) -> tuple[dict, Evaluation]:
    """One contract's row of the ready list for this user, and its evaluation."""
    request = resolve(settings, company=company, actor=login, contracts=[no])
    table, found = ready_with_evaluation(settings, request)
    if table.empty:
        raise UserError(
            f"contract {request.contracts[0]!r} is not in the ERP for company {company}"
        )
    return table.iloc[0].to_dict(), found
