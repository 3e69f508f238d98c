"""One run at a time per company (flows/company_slot.py), on a real Prefect server: the
company's limit is made or mended before it is taken, a second run of the company waits for
the first, a run of another company does not, and a run that waits too long is refused in
words with nothing written."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.concurrency.sync import concurrency

from contract_sync.settings import Settings
from contract_sync.store import schema as s
from contract_sync_flows.company_slot import (
    NoCompanySlot,
    company_slot,
    ensure_company_limits,
    limit_name,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


@flow
def _taken_at(company: int, wait: int) -> float:
    """When this run got the company's slot (it leaves it at once)."""
    with company_slot(Settings(company_wait_seconds=wait), company):
        return time.monotonic()


def test_a_missing_limit_is_made_and_a_loosened_one_mended():
    company = 9101
    assert ensure_company_limits([company]) == [
        f"concurrency limit {limit_name(company)} made (1 slot)"
    ]
    assert ensure_company_limits([company]) == []
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(
            limit_name(company), GlobalConcurrencyLimitUpdate(limit=3, active=False)
        )
        assert ensure_company_limits([company]) == [
            f"concurrency limit {limit_name(company)} set back to 1 active slot "
            "(was 3 slots, inactive)"
        ]
        mended = client.read_global_concurrency_limit_by_name(limit_name(company))
    assert (mended.limit, mended.active) == (1, True)


def test_a_second_run_of_a_company_waits_for_the_first_and_another_company_does_not():
    busy, other = 9102, 9103
    ensure_company_limits([busy, other])
    taken: dict[int, float] = {}
    with concurrency(limit_name(busy), occupy=1, strict=True):  # the first run of `busy`
        waiting = threading.Thread(target=lambda: taken.update({busy: _taken_at(busy, 60)}))
        waiting.start()
        taken[other] = _taken_at(other, 60)
        time.sleep(3)
        assert waiting.is_alive()  # still waiting for `busy`
        released = time.monotonic()
    waiting.join(60)
    assert taken[other] < released < taken[busy]


def test_a_run_that_waits_too_long_is_refused_in_words():
    company = 9104
    ensure_company_limits([company])
    held = concurrency(limit_name(company), occupy=1, strict=True)
    with held, pytest.raises(NoCompanySlot) as refused:
        _taken_at(company, 3)
    assert str(refused.value) == (
        f"company {company}: another run acted on it for all of the 3 s this run may wait "
        f"(concurrency limit {limit_name(company)}); not started, nothing written"
    )


def test_a_reimport_of_a_busy_company_ends_failed_and_writes_nothing(configured, monkeypatch):
    from contract_sync_flows.reimport import reimport_main_contracts

    monkeypatch.setenv("CONTRACT_SYNC_COMPANY_WAIT_SECONDS", "3")
    ensure_company_limits([1])
    with concurrency(limit_name(1), occupy=1, strict=True):
        state = reimport_main_contracts(company=1, requested_by="admin", return_state=True)
    assert state.is_failed()
    assert state.message.startswith("company 1: another run acted on it for all of the 3 s")
    with configured.store.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(s.sync_runs)).scalar() == 0
    done = reimport_main_contracts(company=1, requested_by="admin", return_state=True)
    assert done.is_completed(), done.message
