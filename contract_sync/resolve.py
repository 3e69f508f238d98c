"""One place that turns what a person or a schedule asks for into a run's Request: the
defaults (the configured company, the service user), codes in their normal form, the
contracts named known to the ERP, and whether a run started from a deployment may act as
the user it names (its signed request). The CLI, the web pages and the flows all ask here,
before any run record is written: a refused request leaves nothing behind."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from contract_sync.erp.read import read_contract_numbers
from contract_sync.errors import UserError
from contract_sync.model import Request
from contract_sync.settings import Settings
from contract_sync.store import identity
from contract_sync.store.db import open_store
from contract_sync.store.identity import Event, RunAsked
from contract_sync.vocabulary import ConflictPolicy, Trigger, WebEvent

NEAREST = 3


class UnknownContract(UserError, LookupError):
    """A contract asked for by number that the ERP does not hold."""


class RequestRefused(UserError, PermissionError):
    """A run that may not act as the user it names."""


def resolve(
    settings: Settings,
    *,
    company: int | None = None,
    actor: str | None = None,
    contracts: Iterable[str] | None = None,
    project: str | None = None,
    dry_run: bool = False,
    policy: ConflictPolicy = ConflictPolicy.erp_wins,
    full_refresh: bool = False,
) -> Request:
    """The request as a run takes it. A missing company (None or 0, the run form's "the
    configured one") is the configured company; a missing actor (None or empty) the
    service user; no contracts (None or empty) every contract; a blank project none."""
    listed = [str(c) for c in contracts or []]
    return Request(
        company=company or settings.company,
        actor=actor or settings.service_user,
        contracts=listed or None,
        project=(project or "").strip() or None,
        dry_run=dry_run,
        policy=ConflictPolicy(policy),
        full_refresh=full_refresh,
    )


def resolve_companies(settings: Settings, asked: Iterable[int]) -> dict[int, str]:
    """The companies a sync of several acts on, with their names: those asked, each of the
    store's directory, or every company of the directory when none is asked."""
    store = open_store(settings)
    try:
        directory = identity.company_names(store)
    finally:
        store.dispose()
    if not directory:
        raise UserError(
            "the store's directory holds no company: load it first "
            "(contract-sync directory apply FILE)"
        )
    wanted = list(dict.fromkeys(asked)) or list(directory)
    unknown = [str(company) for company in wanted if company not in directory]
    if unknown:
        raise UserError(
            f"not in the store's directory: company {', '.join(unknown)} "
            f"(it holds {', '.join(map(str, directory))})"
        )
    return {company: directory[company] for company in wanted}


def require_known(settings: Settings, request: Request) -> None:
    """Every contract the request names is in the ERP; else the error lists, for each one
    that is not, the nearest numbers the ERP holds."""
    if not request.contracts:
        return
    known = read_contract_numbers(settings, request.company)
    missing = [c for c in request.contracts if c not in set(known)]
    if not missing:
        return
    lines = []
    for number in missing:
        nearest = difflib.get_close_matches(number, known, n=NEAREST, cutoff=0.5)
        hint = f" (nearest: {', '.join(nearest)})" if nearest else ""
        lines.append(f"{number!r}{hint}")
    raise UnknownContract(f"not in the ERP for company {request.company}: {'; '.join(lines)}")


def asked_of(request: Request, kind: str) -> RunAsked:
    """What a web request for this run recorded: who, which company, what, which contracts."""
    return RunAsked(request.actor, request.company, kind, ", ".join(request.contracts or []))


def check_signed(
    settings: Settings,
    request: Request,
    kind: str,
    request_id: str,
    *,
    run_id: str,
    trigger: Trigger,
) -> None:
    """Whether a deployment run may act as its actor. A run started on the web pages
    carries the id of the request its signed-in user made, and acts for it once, with no
    options of its own; with CONTRACT_SYNC_SIGNED_MANUAL_RUNS on, a manual run without one
    (a login typed in the Prefect UI or sent to its API) is refused. Every refusal is
    recorded in web_events; raises RequestRefused with one line."""
    if request_id and _has_options(request):
        raise RequestRefused("request_id: a run request from the web pages takes no options")
    asked = asked_of(request, kind)
    problem = None if request_id else _unsigned(settings, asked, trigger)
    if not request_id and problem is None:
        return
    store = open_store(settings)
    try:
        if request_id:
            problem = identity.claim_request(store, request_id, run_id, asked)
        if problem is not None:
            detail = f"flow run {run_id}: {problem}"
            event = Event(WebEvent.refused, asked.login, "prefect", detail, asked.erp_company)
            identity.record(store, event)
    finally:
        store.dispose()
    if problem is not None:
        raise RequestRefused(f"requested_by {asked.login!r}: {problem}")


def _has_options(request: Request) -> bool:
    return (
        request.dry_run
        or request.policy != ConflictPolicy.erp_wins
        or request.project is not None
        or request.full_refresh
    )


def _unsigned(settings: Settings, asked: RunAsked, trigger: Trigger) -> str | None:
    """Why a run carrying no request may not act, with CONTRACT_SYNC_SIGNED_MANUAL_RUNS on:
    a manual one never; a scheduled one only as the service user (a schedule added in the
    Prefect UI with another requested_by does not act as them)."""
    if not settings.signed_manual_runs:
        return None
    if trigger == Trigger.manual:
        return (
            "manual runs act only for a request signed in on the web pages "
            "(CONTRACT_SYNC_SIGNED_MANUAL_RUNS is on): start it there"
        )
    if trigger == Trigger.scheduled and asked.login != settings.service_user:
        return (
            f"scheduled runs act only as the service user {settings.service_user!r} "
            "(CONTRACT_SYNC_SIGNED_MANUAL_RUNS is on)"
        )
    return None
