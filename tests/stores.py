"""The project store a re-import suite runs against: the SQL store (the ledger's own tables)
or Procore (the simulator, over real HTTP, holding the SQL store's contracts as the product
imports them, the ledger keeping their baselines). The suite asks both the same things:
what the store holds, a person's edit in it, a write it refuses."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.columns import normal_text
from contract_sync.erp.vista import read_vista
from contract_sync.erp.vista_schema import JCCI
from contract_sync.procore.frames import item_origin_id
from contract_sync.settings import Settings, get_settings
from contract_sync.store import schema as s
from tests.procore_world import World, procore_world, world_environment
from tests.store_rows import contract_id, first_item

STORES = ("sql", "procore")
ITEM_VALUES = ("description", "uom", "quantity", "unit_cost", "amount")


@dataclass
class StoreUnderTest:
    kind: str
    sides: Any  # conftest.Sides: the ERP and the ledger (which is the SQL store's database)
    settings: Settings
    environment: dict[str, str]  # what a command or a flow run reads, besides the sides
    world: World | None = None

    # -- what the store holds --------------------------------------------------------------

    def count(self, contract_no: str) -> int:
        """How many contracts of the store come from this ERP contract (company 1)."""
        if self.world is None:
            with self.sides.store.connect() as connection:
                m = s.main_contracts.c
                query = sa.select(sa.func.count()).where(
                    m.origin_id == contract_no, m.company_id == 1
                )
                return connection.execute(query).scalar_one()
        return len(self._procore_contracts(contract_no))

    def header(self, contract_no: str) -> dict[str, Any]:
        """The contract's title, status, original amount (cents) and project number, as the
        store holds them."""
        if self.world is None:
            m, p = s.main_contracts, s.projects
            with self.sides.store.connect() as connection:
                row = connection.execute(
                    sa.select(m, p.c.number.label("project"))
                    .join(p)
                    .where(m.c.id == contract_id(connection, contract_no))
                ).one()
            return {
                "title": row.title,
                "status": row.status,
                "original_amount": row.original_amount,
                "project": row.project,
            }
        [contract] = self._procore_contracts(contract_no)
        amount = Decimal(json.loads(contract.fields["origin_data"])["original_amount"]).scaleb(2)
        project = self.world.sim.state.store.projects[contract.project_ids[0]]
        return {
            "title": contract.fields.get("title"),
            "status": contract.fields.get("status"),
            "original_amount": int(amount),
            "project": project.project_number,
        }

    def items(self, contract_no: str) -> pd.DataFrame:
        """The contract's items: item number -> ITEM_VALUES, money as Decimal, in item order."""
        if self.world is None:
            with self.sides.store.connect() as connection:
                rows = connection.execute(
                    sa.select(s.line_items).where(
                        s.line_items.c.contract_id == contract_id(connection, contract_no)
                    )
                ).all()
            frame = pd.DataFrame(
                {
                    "item_no": [normal_text(r.origin_id) for r in rows],
                    "description": [r.description for r in rows],
                    "uom": [r.uom for r in rows],
                    "quantity": [Decimal(r.quantity).scaleb(-3) for r in rows],
                    "unit_cost": [Decimal(r.unit_cost).scaleb(-5) for r in rows],
                    "amount": [Decimal(r.amount).scaleb(-2) for r in rows],
                }
            )
        else:
            [contract] = self._procore_contracts(contract_no)
            rows = self.world.sim.state.items_of(contract.id)
            frame = pd.DataFrame(
                {
                    "item_no": [normal_text(i.origin_id.rpartition("/")[2]) for i in rows],
                    **{f: [getattr(i, f) for i in rows] for f in ITEM_VALUES},
                }
            )
        return frame.set_index("item_no").sort_index()

    def snapshot(self, contract_no: str) -> object:
        """Everything the store holds of a contract, to compare before and after: equal when
        nothing of it was written."""
        if self.world is None:
            with self.sides.store.connect() as connection:
                key = contract_id(connection, contract_no)
                header = connection.execute(
                    sa.select(s.main_contracts).where(s.main_contracts.c.id == key)
                ).one()
                items = connection.execute(
                    sa.select(s.line_items)
                    .where(s.line_items.c.contract_id == key)
                    .order_by(s.line_items.c.id)
                ).all()
            return header, items
        return [self._copied(c) for c in self._procore_contracts(contract_no)]

    def everything(self) -> object:
        """All the store holds and the baselines the ledger keeps: equal before and after a
        run that wrote nothing."""
        tables = [s.import_baselines, s.baseline_items]
        if self.world is None:
            tables = [s.main_contracts, s.line_items, *tables]
        with self.sides.store.connect() as connection:
            kept = {
                table.name: connection.execute(sa.select(table).order_by(*table.primary_key)).all()
                for table in tables
            }
        if self.world is not None:
            state = self.world.sim.state.store
            kept["procore"] = [
                self._copied(c) for c in sorted(state.contracts.values(), key=lambda c: c.id)
            ]
        return kept

    # -- a person working in the store -----------------------------------------------------

    def edit_item(self, contract_no: str, item_no: str, **values: Any) -> None:
        """A person changes an item's values in the store, and nothing else."""
        if self.world is None:
            with self.sides.store.begin() as connection:
                connection.execute(
                    s.line_items.update()
                    .where(
                        s.line_items.c.contract_id == contract_id(connection, contract_no),
                        s.line_items.c.origin_id == item_no,
                    )
                    .values(**values)
                )
            return
        self.world.sim.edit_line_item(self._procore_item(contract_no, item_no).id, **values)

    def delete_item(self, contract_no: str, item_no: str) -> None:
        """A person deletes an item in the store."""
        if self.world is None:
            with self.sides.store.begin() as connection:
                connection.execute(
                    s.line_items.delete().where(
                        s.line_items.c.contract_id == contract_id(connection, contract_no),
                        s.line_items.c.origin_id == item_no,
                    )
                )
            return
        item = self._procore_item(contract_no, item_no)
        [contract] = self._procore_contracts(contract_no)
        state = self.world.sim.state
        state.delete_item(contract.company_id, contract.project_ids[0], contract.id, item.id)

    def edit_header(self, contract_no: str, **values: Any) -> None:
        """A person changes a contract's header fields (title...) in the store."""
        if self.world is None:
            with self.sides.store.begin() as connection:
                connection.execute(
                    s.main_contracts.update()
                    .where(s.main_contracts.c.id == contract_id(connection, contract_no))
                    .values(**values, version=s.main_contracts.c.version + 1)
                )
            return
        [contract] = self._procore_contracts(contract_no)
        state = self.world.sim.state
        project = contract.project_ids[0]
        state.update_contract(contract.company_id, project, contract.id, values)

    def save_contract(self, contract_no: str) -> None:
        """A person saves the contract in the store: its version moves (SQL) or its
        updated_at does (Procore), so a run that compared before it must not write it."""
        if self.world is None:
            with self.sides.store.begin() as connection:
                connection.execute(
                    s.main_contracts.update()
                    .where(s.main_contracts.c.id == contract_id(connection, contract_no))
                    .values(version=s.main_contracts.c.version + 1)
                )
            return
        self.world.sim.advance_clock(1)  # updated_at has whole seconds
        self.edit_header(contract_no, description=f"Saved at {self.world.sim.clock.now()}")

    def describe_first_item(
        self, contract_no: str, *, store: str | None = None, erp: str | None = None
    ) -> tuple[int, str]:
        """Set the description of a contract's first item in the store, the ERP or both;
        returns the contract's id in the ledger and the item's number."""
        with self.sides.store.connect() as connection:
            key = contract_id(connection, contract_no)
            item_no = first_item(connection, key, s.line_items.c.origin_id)
        if store is not None:
            self.edit_item(contract_no, item_no, description=store)
        if erp is not None:
            with self.sides.erp.begin() as connection:
                connection.execute(
                    JCCI.update()
                    .where(JCCI.c.JCCo == 1, JCCI.c.Contract == contract_no, JCCI.c.Item == item_no)
                    .values(Description=erp)
                )
        return key, item_no

    # -- a write the store refuses ---------------------------------------------------------

    def refuse(self, items: pd.DataFrame, rows: pd.Series, contract_no: str) -> str:
        """Make the store refuse a contract's write: `rows` marks the plan's item rows it
        writes. The SQL store refuses the last (a NULL where NOT NULL); Procore's sync
        refuses each record with a per-record error, so nothing of it lands. Returns words
        the error says."""
        if self.world is None:
            items.loc[rows[rows].index[-1], "position"] = pd.NA
            return "position"
        codes = items.loc[rows, "item_code"] if "item_code" in items else items.loc[rows, "item_no"]
        said = "is not a valid unit of measure"
        for code in codes.fillna(items.loc[rows, "item_no"]):
            origin = item_origin_id(1, contract_no, code)
            self.world.sim.sync_error(origin, said, field="uom", times=1)
        return said

    # -- Procore ---------------------------------------------------------------------------

    def _copied(self, contract) -> tuple:  # noqa: ANN001 - the simulator's PrimeContract
        """A contract and its items as they are now, kept apart from later changes."""
        fields, projects = dict(contract.fields), list(contract.project_ids)
        return (
            dataclasses.replace(contract, fields=fields, project_ids=projects),
            [dataclasses.replace(i) for i in self.world.sim.state.items_of(contract.id)],
        )

    def _procore_contracts(self, contract_no: str) -> list:
        state = self.world.sim.state
        return [
            c
            for c in sorted(state.store.contracts.values(), key=lambda c: c.id)
            if normal_text(c.fields.get("origin_id") or "") == normal_text(contract_no)
        ]

    def _procore_item(self, contract_no: str, item_no: str):  # noqa: ANN202
        [contract] = self._procore_contracts(contract_no)
        return next(
            i
            for i in self.world.sim.state.items_of(contract.id)
            if normal_text(i.origin_id.rpartition("/")[2]) == normal_text(item_no)
        )


def erp_items(sides, contract_no: str) -> pd.DataFrame:  # noqa: ANN001
    """A contract's items in the ERP, in the shape StoreUnderTest.items gives."""
    items = read_vista(sides.erp, 1, contract_nos=[contract_no]).items
    frame = pd.DataFrame(
        {
            "item_no": [normal_text(v) for v in items["item_no"]],
            "description": items["description"].astype(object).tolist(),
            "uom": items["uom"].astype(object).tolist(),
            "quantity": [Decimal(int(v)).scaleb(-3) for v in items["quantity"]],
            "unit_cost": [Decimal(int(v)).scaleb(-5) for v in items["unit_cost"]],
            "amount": [Decimal(int(v)).scaleb(-2) for v in items["amount"]],
        }
    )
    return frame.set_index("item_no").sort_index()


@contextmanager
def store_under_test(kind: str, sides, folder: Path) -> Iterator[StoreUnderTest]:  # noqa: ANN001
    """The store of this kind over the seeded sides, with the environment variables a
    command or a flow reads set to it (restored afterwards)."""
    with ExitStack() as stack:
        monkeypatch = stack.enter_context(pytest.MonkeyPatch.context())
        environment = {
            "CONTRACT_SYNC_ERP_URL": sides.erp_url,
            "CONTRACT_SYNC_STORE_URL": sides.store_url,
            "CONTRACT_SYNC_REPORTS_DIR": str(folder / "reports"),
            "CONTRACT_SYNC_DATA_DIR": str(folder / "data"),
            "CONTRACT_SYNC_DATA_DOCS": "false",
        }
        world = None
        if kind == "procore":
            world = stack.enter_context(procore_world(sides, folder, moved=True))
            environment |= world_environment(world)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        stack.callback(get_settings.cache_clear)
        settings = world.settings if world else Settings(**_sql_settings(sides, folder))
        yield StoreUnderTest(kind, sides, settings, environment, world)


def _sql_settings(sides, folder: Path) -> dict[str, Any]:  # noqa: ANN001
    return {
        "erp_url": sides.erp_url,
        "store_url": sides.store_url,
        "data_dir": folder / "data",
        "reports_dir": folder / "reports",
        "data_docs": False,
    }
