"""Whether a deployment run may act as its `requested_by`: a run started on the web pages
carries the id of the request its signed-in user made, and acts for it once; with
CONTRACT_SYNC_SIGNED_MANUAL_RUNS on, a manual run without one (a login typed in the Prefect
UI or sent to its API) is refused. Every refusal is recorded in web_events."""

from __future__ import annotations

from prefect import runtime

from contract_sync.run import open_store
from contract_sync.settings import Settings
from contract_sync.store import identity
from contract_sync.store.identity import Event, RunAsked
from contract_sync.vocabulary import Trigger, WebEvent
from contract_sync_flows.parameters import BadParameter
from contract_sync_flows.prefect_run import trigger


def check_signed(settings: Settings, request_id: str, asked: RunAsked) -> None:
    """Raises BadParameter (the run ends Failed, in one line) when the run may not act."""
    run_id = str(runtime.flow_run.id)
    problem = None if request_id else _unsigned(settings, asked)
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
        raise BadParameter(f"requested_by {asked.login!r}: {problem}")


def _unsigned(settings: Settings, asked: RunAsked) -> str | None:
    """Why a run carrying no request may not act, with CONTRACT_SYNC_SIGNED_MANUAL_RUNS on:
    a manual one never; a scheduled one only as the service user (a schedule added in the
    Prefect UI with another requested_by does not act as them)."""
    if not settings.signed_manual_runs:
        return None
    started = trigger()
    if started == Trigger.manual:
        return (
            "manual runs act only for a request signed in on the web pages "
            "(CONTRACT_SYNC_SIGNED_MANUAL_RUNS is on): start it there"
        )
    if started == Trigger.scheduled and asked.login != settings.service_user:
        return (
            f"scheduled runs act only as the service user {settings.service_user!r} "
            "(CONTRACT_SYNC_SIGNED_MANUAL_RUNS is on)"
        )
    return None
