"""Extract: the company's ERP contracts and items as canonical frames."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from contract_sync.erp.frames import ErpFrames
from contract_sync.erp.read import read_erp
from contract_sync.settings import Settings


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(settings: Settings, company: int, contract_nos: Sequence[str] | None) -> ErpFrames:
    """Transient faults are retried inside read_erp; permanent ones fail the run at once."""
    return read_erp(settings, company, contract_nos)
