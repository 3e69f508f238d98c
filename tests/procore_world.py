"""A Procore world for the store tests: the Procore simulator (simulators/procore, test
equipment) served over real HTTP, holding the projects of a seeded ledger, and settings
that make Procore the store (CONTRACT_SYNC_STORE=procore) with that ledger beside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from contract_sync.procore.client import ProcoreClient
from contract_sync.procore.frames import contract_body, item_records
from contract_sync.settings import Settings
from contract_sync.store import schema as s
from simulators.procore import ProcoreSimulator, serve
from simulators.procore.from_store import (
    PROJECT_IDS_FROM,
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
def procore_world(
    sides,  # noqa: ANN001 - conftest.Sides
    tmp_path,  # noqa: ANN001
    erp_company: int = 1,
    *,
    moved: bool = False,
    **sim_options,
) -> Iterator[World]:
    """Procore holding the ledger's projects and no contract yet; with `moved`, holding the
    contracts of the SQL store the ledger was too, which keeps them and their baselines."""
    if not moved:
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
        world = World(sim, settings, numbers, base_url)
        if moved:
            holding_the_store_s_contracts(world, sides.store, erp_company)
        yield world


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


def holding_the_store_s_contracts(world: World, ledger, erp_company: int = 1) -> None:  # noqa: ANN001
    """Procore made to hold the contracts of a ledger that was a SQL store, as the product
    imports them (origin ids and origin data), through Procore's API: a company moving its
    store to Procore. A contract the SQL store holds in two projects is listed in both. The
    requests it took are then forgotten (log and rate windows)."""
    m, p, c, i = s.main_contracts, s.projects, s.companies, s.line_items
    with ledger.connect() as connection:
        contracts = pd.read_sql(
            sa.select(m, p.c.id.label("ledger_project"))
            .select_from(m.join(p, p.c.id == m.c.project_id).join(c, c.c.id == m.c.company_id))
            .where(c.c.erp_company == erp_company, m.c.origin_id.is_not(None))
            .order_by(m.c.id),
            connection,
        )
        items = pd.read_sql(
            sa.select(i).where(i.c.contract_id.in_(contracts["id"].tolist())).order_by(i.c.id),
            connection,
        )
    made: dict[str, int] = {}
    with ProcoreClient.from_settings(world.settings) as client:
        for header in contracts.to_dict("records"):
            project = PROJECT_IDS_FROM + int(header["ledger_project"])
            number = header["origin_id"]
            if number in made:
                world.sim.attach_contract(made[number], project)
                continue
            body = contract_body(header, erp_company, origin_id=number)
            contract = client.create_prime_contract(
                project, body | {"number": number, "status": header["status"]}
            )
            made[number] = contract.id
            rows = items[items["contract_id"] == header["id"]]
            records = item_records(
                rows.drop(columns=["id"]).assign(item_code=rows["origin_id"]), number, erp_company
            )
            assert not client.sync_line_items(project, contract.id, records).errors
    world.sim.log.clear()
    world.sim.rate.clear()
