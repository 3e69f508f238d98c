"""`python -m contract_sync_flows.server_setup` on a real Prefect server: what it says the
first time (each company's limit made, the automation made) and the second (up to date), and
the automation it leaves: one, for contract-sync's flows, after three heartbeats."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from contract_sync.resolve import resolve_companies
from contract_sync.settings import get_settings
from contract_sync_flows import server_setup
from contract_sync_flows.company_slot import limit_name

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _nothing_set_up(companies: list[int]) -> None:
    """The server as before its first setup (other tests of the session took limits)."""
    with get_client(sync_client=True) as client:
        for company in companies:
            with suppress(ObjectNotFound):
                client.delete_global_concurrency_limit_by_name(limit_name(company))
        for automation in client.read_automations_by_name(server_setup.CRASHED_WHEN_SILENT):
            client.delete_automation(automation.id)


def test_setup_says_what_it_made_then_that_all_is_up_to_date(configured, capsys):
    companies = list(resolve_companies(get_settings(), []))
    assert len(companies) > 1
    _nothing_set_up(companies)
    automation = server_setup.CRASHED_WHEN_SILENT
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        server_setup.main()
        first = capsys.readouterr().out.splitlines()
        server_setup.main()
        second = capsys.readouterr().out.splitlines()
    assert first == [
        *(f"concurrency limit {limit_name(company)} made (1 slot)" for company in companies),
        f"automation made: {automation} (after 90 s)",
    ]
    assert second == [
        "company concurrency limits up to date",
        f"automation up to date: {automation} (after 90 s)",
    ]
    with get_client(sync_client=True) as client:
        [made] = client.read_automations_by_name(automation)
        limits = [client.read_global_concurrency_limit_by_name(limit_name(c)) for c in companies]
    assert made.trigger.within == timedelta(seconds=90)
    assert made.trigger.match_related.get("prefect.resource.name") == server_setup.FLOWS
    assert [(limit.limit, limit.active) for limit in limits] == [(1, True)] * len(companies)


def test_with_heartbeats_off_setup_says_it_made_no_automation(configured, capsys):
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        server_setup.main()
    assert capsys.readouterr().out.splitlines()[-1] == (
        "flow heartbeats are off (PREFECT_FLOWS_HEARTBEAT_FREQUENCY): no automation"
    )
