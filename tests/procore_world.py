"""A Procore world for the store tests: the Procore simulator (simulators/procore, test
equipment) served over real HTTP, holding the projects of a seeded ledger, and settings
that make Procore the store (CONTRACT_SYNC_STORE=procore) with that ledger beside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from contract_sync.settings import Settings
from simulators.procore import ProcoreSimulator, serve
from simulators.procore.from_store import (
    as_environment,
    fixture_from_store,
    procore_settings,
    without_contracts,
)

PROCORE_COMPANY = 8001


@dataclass
class World:
    sim: ProcoreSimulator
    settings: Settings
    projects: dict[str, int]  # project number -> Procore project id
    base_url: str = ""


@contextmanager
def procore_world(sides, tmp_path, erp_company: int = 1, **sim_options) -> Iterator[World]:  # noqa: ANN001 - conftest.Sides
    without_contracts(sides.store)
    fixture = fixture_from_store(sides.store, erp_company, PROCORE_COMPANY)
    sim = ProcoreSimulator(fixture, **sim_options)
    with serve(sim) as base_url:
        settings = Settings(
            erp_url=sides.erp_url,
            store_url=sides.store_url,
            **procore_settings(base_url, PROCORE_COMPANY),
            data_dir=tmp_path / "data",
            reports_dir=tmp_path / "reports",
            data_docs=False,
            company=erp_company,
        )
        numbers = {p["project_number"]: p["id"] for p in fixture["projects"]}
        yield World(sim, settings, numbers, base_url)


def world_environment(world: World) -> dict[str, str]:
    """The world's settings as the variables a contract-sync command reads."""
    settings = world.settings
    return as_environment(
        {
            "erp_url": settings.erp_url,
            "store_url": settings.store_url,
            "data_dir": settings.data_dir,
            "data_docs": "false",
            **procore_settings(world.base_url, PROCORE_COMPANY),
        }
    )
