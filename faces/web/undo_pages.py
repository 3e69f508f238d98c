"""A run's Undo: a confirmation page that shows what the undo would do, as the signed-in
person (the gates checked for them), and its Confirm, which runs the undo as them and goes
to the undo's own run page. The undo runs in the web process (contract_sync.undo), not as
a deployment run: it writes only the contracts one run wrote."""

from __future__ import annotations

import hashlib
import json
import uuid

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contract_sync.columns import display
from contract_sync.errors import UserError
from contract_sync.model import Origin
from contract_sync.stages.undo import changed_since_lines
from contract_sync.store import identity
from contract_sync.store.identity import Event, Person
from contract_sync.store.undo_log import UnknownRun
from contract_sync.undo import UndoResult, undo
from contract_sync.vocabulary import Outcome, Trigger, WebEvent, in_words, what_to_do
from contract_sync_faces.web.guard import Refused, client
from contract_sync_faces.web.site import Field, Site, common, page, site_of

router = APIRouter()


@router.get("/companies/{company}/runs/{run_id}/undo")
def confirm_undo(request: Request, company: int, run_id: uuid.UUID) -> Response:
    site = site_of(request)

    def build(person: Person, companies: dict[int, str]) -> Response:
        found = _preview(site, company, str(run_id), person.login)
        return _confirmation(person, companies, company, str(run_id), found)

    return site.company_page(request, company, build)


@router.post("/companies/{company}/runs/{run_id}/undo")
def undo_run(
    request: Request, company: int, run_id: uuid.UUID, csrf_token: Field = "", seen: Field = ""
) -> Response:
    """A confirmed Undo: the form checked, the undo planned again for this person; run when
    it would still do what the confirmation page showed (`seen`), else that page again."""
    site, run_id = site_of(request), str(run_id)
    try:
        person = site.guard.check_form(request, site.guard.person(request), csrf_token)
        companies = site.companies_of(person, company)
        found = _preview(site, company, run_id, person.login)
    except Refused as refusal:
        return site.refusal_page(request, refusal, company)
    if seen != _effect_key(found):
        status = 409 if seen else 200
        return _confirmation(person, companies, company, run_id, found, status, changed=bool(seen))
    try:
        done = undo(
            site.settings, run_id, person.login, origin=Origin(Trigger.undo), erp_company=company
        )
    except UserError as error:
        return site.refusal_page(request, Refused(409, str(error), person.login), company)
    detail = f"undo of run {run_id}: run {done.run_id}"
    identity.record(
        site.store, Event(WebEvent.run_started, person.login, client(request), detail, company)
    )
    return RedirectResponse(f"/companies/{company}/runs/{done.run_id}", status_code=303)


def _preview(site: Site, company: int, run_id: str, login: str) -> UndoResult:
    """What the undo would do for this person, nothing written; a run of no company of this
    page, or with nothing to undo, is refused in words."""
    try:
        return undo(site.settings, run_id, login, dry_run=True, erp_company=company)
    except UnknownRun as error:
        raise Refused(404, str(error), login) from None
    except UserError as error:
        raise Refused(409, str(error), login) from None


def _confirmation(
    person: Person,
    companies: dict[int, str],
    company: int,
    run_id: str,
    found: UndoResult,
    status: int = 200,
    changed: bool = False,
) -> Response:
    rows = _rows(found.audit)
    return page(
        "undo.html.j2",
        status,
        **common(person, companies, company),
        run_id=run_id,
        rows=rows,
        to_undo=sum(row["put_back"] for row in rows),
        since=changed_since_lines(found.changed_since),
        seen=_effect_key(found),
        changed=changed,
    )


def _rows(audit: pd.DataFrame) -> list[dict]:
    """Each contract the run wrote: what the undo does to it, in words."""
    rows = []
    for row in audit.sort_values("contract_no").itertuples(index=False):
        undone = row.outcome == Outcome.undone
        nothing = row.outcome == Outcome.up_to_date
        does = "put back" if undone else "nothing to undo" if nothing else "left as it is"
        rows.append(
            {
                "contract_no": row.contract_no,
                "put_back": undone,
                "does": does,
                "why": "" if undone or nothing else in_words(row.reasons),
                "to_do": "" if undone or nothing else what_to_do(row.reasons),
                "item_changes": f"+{row.items_added} ~{row.items_changed} -{row.items_removed}",
                "amount_before": display(row.amount_before, "amount"),
                "amount_after": display(row.amount_after, "amount"),
            }
        )
    return rows


def _effect_key(found: UndoResult) -> str:
    """A digest of what the undo would do: a Confirm is run only when it is still what its
    page showed."""
    shown = found.audit[
        ["contract_no", "outcome", "reasons", "amount_before", "amount_after", "version_before"]
    ].astype("string")
    text = json.dumps(
        [shown.fillna("").to_numpy().tolist(), changed_since_lines(found.changed_since)]
    )
    return hashlib.sha256(text.encode()).hexdigest()
