"""A Procore world for the store tests: the Procore simulator (simulators/procore, test
equipment) served over real HTTP, holding the projects of a seeded ledger, and settings
that make Procore the store (CONTRACT_SYNC_STORE=procore) with that ledger beside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from contract_sync.settings import Settings, StoreKind
from simulators.procore import ProcoreSimulator, serve
from simulators.procore.from_store import (
    CLIENT_ID,
    CLIENT_SECRET,
    fixture_from_store,
    without_contracts,
)

PROCORE_COMPANY = 8001


@dataclass
class World:
    sim: ProcoreSimulator
    settings: Settings
    projects: dict[str, int]  # project number -> Procore project id


@contextmanager
def procore_world(sides, tmp_path, erp_company: int = 1, **sim_options) -> Iterator[World]:  # noqa: ANN001 - conftest.Sides
    without_contracts(sides.store)
    fixture = fixture_from_store(sides.store, erp_company, PROCORE_COMPANY)
    sim = ProcoreSimulator(fixture, **sim_options)
    with serve(sim) as base_url:
        settings = Settings(
            erp_url=sides.erp_url,
            store_url=sides.store_url,
            store=StoreKind.procore,
            procore_base_url=base_url,
            procore_login_url=base_url,
            procore_client_id=CLIENT_ID,
            procore_client_secret=CLIENT_SECRET,
            procore_company_id=PROCORE_COMPANY,
            data_dir=tmp_path / "data",
            reports_dir=tmp_path / "reports",
            data_docs=False,
            company=erp_company,
        )
        numbers = {p["project_number"]: p["id"] for p in fixture["projects"]}
        yield World(sim, settings, numbers)
