"""A run started on the web pages acts for its signed request once, as its user and for
its contract only; anything else ends the run Failed in one line, recorded in web_events.
(Manual runs without a request, with CONTRACT_SYNC_SIGNED_MANUAL_RUNS on, need a
deployment: tests/test_web_served.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.store import identity
from contract_sync.store import schema as s
from contract_sync.store.audit_log import runs
from contract_sync.store.identity import RunAsked
from contract_sync_flows.first_import import import_main_contract
from contract_sync_flows.reimport import reimport_main_contracts

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _refusals(store: sa.Engine) -> list[tuple[str, str]]:
    e = s.web_events.c
    with store.connect() as connection:
        return connection.execute(
            sa.select(e.login, e.detail).where(e.event == "refused").order_by(e.id)
        ).all()


def _actors(store: sa.Engine) -> list[str]:
    with store.connect() as connection:
        return list(connection.execute(sa.select(runs().subquery().c.actor)).scalars())


def test_a_signed_request_is_acted_for_once_as_its_user(configured):
    contract = sorted(edit_erp(configured.erp, 1, 0.5, seed=3).contracts)[0]
    asked = RunAsked("admin", 1, "reimport", contract)
    request_id = identity.request_run(configured.store, asked)
    acted = reimport_main_contracts(
        company=1, contracts=[contract], requested_by="admin", request_id=request_id
    )
    assert list(acted["contract_no"]) == [contract]
    assert _actors(configured.store) == ["admin"]

    replayed = reimport_main_contracts(
        company=1,
        contracts=[contract],
        requested_by="admin",
        request_id=request_id,
        return_state=True,
    )
    assert replayed.is_failed() and "was used already, by run" in replayed.message

    for given, why in [
        ({"requested_by": "estimator", "contracts": [contract]}, "asked for"),
        ({"requested_by": "admin", "contracts": []}, "asked for"),  # every contract
        ({"requested_by": "admin", "contracts": [contract], "company": 2}, "asked for"),
        ({"requested_by": "admin", "contracts": [contract], "dry_run": True}, "takes no options"),
    ]:
        fresh = identity.request_run(configured.store, asked)
        state = reimport_main_contracts(**given, request_id=fresh, return_state=True)
        assert state.is_failed() and why in state.message and "\n" not in state.message
    unknown = reimport_main_contracts(
        requested_by="admin",
        contracts=[contract],
        request_id="no-such-request",
        return_state=True,
    )
    assert unknown.is_failed() and "does not exist" in unknown.message
    # Made for another flow run, or too old: refused too.
    for_another = identity.request_run(configured.store, asked)
    identity.attach_flow_run(configured.store, for_another, "another-flow-run")
    expired = identity.request_run(configured.store, asked)
    with configured.store.begin() as connection:
        connection.execute(
            s.run_requests.update()
            .where(s.run_requests.c.id == expired)
            .values(requested_at=datetime.now(UTC) - timedelta(hours=2))
        )
    for request, why in [(for_another, "made for flow run"), (expired, "has expired")]:
        state = reimport_main_contracts(
            requested_by="admin", contracts=[contract], request_id=request, return_state=True
        )
        assert state.is_failed() and why in state.message
    assert _actors(configured.store) == ["admin"]
    refused = _refusals(configured.store)
    assert [login for login, _ in refused] == ["admin", "estimator", "admin", "admin"] + [
        "admin"
    ] * 3
    assert all(detail.startswith("flow run ") for _, detail in refused)


def test_an_import_acts_for_its_request(configured):
    from contract_sync.model import Request
    from contract_sync.run import company_ready_list
    from contract_sync.settings import get_settings

    ready = company_ready_list(get_settings(), Request(company=1, actor="admin"))
    contract = ready.loc[ready["import_available"], "contract_no"].iloc[0]
    request_id = identity.request_run(configured.store, RunAsked("admin", 1, "import", contract))
    imported = import_main_contract(contract=contract, requested_by="admin", request_id=request_id)
    assert list(imported["outcome"]) == ["imported"]
    other = identity.request_run(configured.store, RunAsked("admin", 1, "reimport", contract))
    state = import_main_contract(
        contract=contract, requested_by="admin", request_id=other, return_state=True
    )
    assert state.is_failed() and "asked for" in state.message
