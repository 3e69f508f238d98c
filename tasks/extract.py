"""Extract: the company's ERP contracts and items as canonical frames."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from contract_sync.erp.vista import ErpFrames, read_vista
from contract_sync.settings import ErpConnector, Settings
from contract_sync.store.db import make_engine


def extract(settings: Settings, company: int, contract_nos: Sequence[str] | None) -> ErpFrames:
    if settings.erp_connector is ErpConnector.vista:
        engine = make_engine(settings.erp_database_url)
        try:
            return read_vista(engine, company, contract_nos)
        finally:
            engine.dispose()
    raise ValueError(f"unknown ERP connector {settings.erp_connector!r}")


@task(name="extract", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def extract_task(settings: Settings, company: int, contract_nos: Sequence[str] | None) -> ErpFrames:
    return extract(settings, company, contract_nos)
