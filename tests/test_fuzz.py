"""Fuzzing the ERP side: a good Vista database and a good files export, corrupted at random
(several mutations a case, fixed seed; FUZZ_CASES=N runs more). Every mutated contract is
quarantined as invalid_erp_data, nothing mutated reaches the store, untouched contracts
still sync; on both backends."""

from __future__ import annotations

import csv
import os
import random
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.demo.export import write_files
from contract_sync.demo.generator import EDGE_CASES, edge_case_contracts
from contract_sync.demo.seed import seed
from contract_sync.erp.vista import read_vista
from contract_sync.erp.vista_schema import JCCI, JCCM
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import ErpConnector, Settings
from contract_sync.store import schema as s
from tests.conftest import SMALL, new_sides

CASES = int(os.environ.get("FUZZ_CASES", "5"))


def _bump(text: str) -> str:
    """An amount one cent more (written plainly, which every number format reads)."""
    return str(Decimal(str(text).replace(",", "")) + Decimal("0.01"))


# name -> (table, column, new value from the old one, applies to unit items only)
MUTATIONS = {
    "blank amount": ("items", "OrigContractAmt", lambda _v: None, False),
    "blank units": ("items", "OrigContractUnits", lambda _v: None, True),
    "blank unit price": ("items", "OrigUnitPrice", lambda _v: None, True),
    "a cent off the extension": ("items", "OrigContractAmt", _bump, True),
    "NUL in a description": ("items", "Description", lambda v: f"{v}\x00", False),
    "escape in a cost code": ("items", "SICode", lambda v: f"\x1b{v or '01'}", False),
    "5,000 characters": ("items", "Description", lambda _v: "x" * 5000, False),
    "unknown bill type": ("items", "BillType", lambda _v: "Z", False),
    "unknown unit": ("items", "UM", lambda _v: "FURLONG", True),
    "header total off": ("contracts", "OrigContractAmt", _bump, False),
    "blank header total": ("contracts", "OrigContractAmt", lambda _v: None, False),
    "bell in a title": ("contracts", "Description", lambda v: f"{v}\x07", False),
    "NUL in a customer": ("contracts", "Customer", lambda v: f"\x00{v}", False),
}


def _plan(rng: random.Random, items: list[dict], victims: list[str]) -> list[tuple]:
    """Mutations: (contract, item or None, table, column, change), 1-3 per victim."""
    planned = []
    for contract in victims:
        for name in rng.sample(sorted(MUTATIONS), rng.randint(1, 3)):
            table, column, change, unit_only = MUTATIONS[name]
            rows = [r for r in items if r["contract"] == contract]
            rows = [r for r in rows if r["um"] != "LS"] if unit_only else rows
            item = rng.choice(rows)["item"] if table == "items" and rows else None
            if table == "items" and item is None:
                continue
            planned.append((contract, item, table, column, change))
    return planned


def _mutate_vista(erp: sa.Engine, planned: list[tuple]) -> None:
    with erp.begin() as connection:
        for contract, item, table, column, change in planned:
            target = JCCI if table == "items" else JCCM
            where = [target.c.JCCo == 1, target.c.Contract == contract]
            if item is not None:
                where.append(target.c.Item == item)
            old = connection.execute(sa.select(target.c[column]).where(*where)).scalar_one()
            new = change(old)
            is_number = isinstance(target.c[column].type, sa.Numeric)
            value = Decimal(new) if is_number and new is not None else new
            if connection.dialect.name == "postgresql" and isinstance(value, str):
                # PostgreSQL holds no NUL and no text longer than its column: another
                # control character stands in (SQL Server and SQLite hold both).
                value = value.replace("\x00", "\x01")
                length = target.c[column].type.length
                value = value if len(value) <= length else value[: length - 1] + "\x01"
            connection.execute(target.update().where(*where).values({column: value}))


def _mutate_files(folder: Path, planned: list[tuple]) -> None:
    for table in ("contracts", "items"):
        path = folder / f"{table}.csv"
        rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
        for contract, item, target, column, change in planned:
            if target != table:
                continue
            for row in rows:
                if row["Contract"] == contract and (item is None or row["Item"] == item):
                    new = change(row[column])
                    row[column] = "" if new is None else new
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def _store_rows(store: sa.Engine, contracts: set[str]) -> list:
    m, i = s.main_contracts, s.line_items
    with store.connect() as connection:
        headers = connection.execute(
            sa.select(m).where(m.c.origin_id.in_(contracts)).order_by(m.c.id)
        ).all()
        items = connection.execute(
            sa.select(i).join(m).where(m.c.origin_id.in_(contracts)).order_by(i.c.id)
        ).all()
    return [*map(tuple, headers), *map(tuple, items)]


@pytest.mark.parametrize("source", ["vista", "files"])
def test_corrupted_erp_rows_quarantine_exactly_their_contracts(database_url, tmp_path, source):
    rng = random.Random(20261126)
    tried = 0
    for case in range(CASES):
        folder = tmp_path / f"case-{case}"

        def make(name: str, case: int = case) -> str:
            return database_url(f"{name}{case}")

        with new_sides(make) as sides:
            seed(sides.erp, sides.store, **SMALL)
            erp = read_vista(sides.erp, 1)
            numbers = sorted(erp.contracts["contract_no"])
            edge = set(edge_case_contracts(erp.contracts["contract_no"]).values())
            regular = [n for n in numbers if n not in edge]
            assert len(edge) == len(EDGE_CASES)
            edited = set(edit_erp(sides.erp, 1, 0.3, seed=case).contracts)
            victims = rng.sample(regular, 3)
            items = [
                {"contract": r.contract_no, "item": r.item_code, "um": r.uom}
                for r in read_vista(sides.erp, 1).items.itertuples()
            ]
            planned = _plan(rng, items, victims)
            tried += len(planned)
            mutated = {contract for contract, *_ in planned}
            settings = Settings(erp_url=sides.erp_url, store_url=sides.store_url, data_docs=False)
            if source == "files":
                export = write_files(read_vista(sides.erp, 1), folder / "export", "csv", "utf-8")
                _mutate_files(export, planned)
                settings = settings.model_copy(
                    update={"erp_connector": ErpConnector.files, "erp_files_dir": export}
                )
            else:
                _mutate_vista(sides.erp, planned)
            before = _store_rows(sides.store, mutated)
            audit = reimport(
                settings, Request(company=1, actor="admin", full_refresh=True)
            ).audit.set_index("contract_no")

            invalid = set(audit.index[audit["reasons"].str.contains("invalid_erp_data")])
            born_invalid = {
                edge_case_contracts(audit.index)[n]
                for n in ("invalid_unit_amount", "invalid_header_total")
            }
            assert invalid == mutated | born_invalid, planned
            assert _store_rows(sides.store, mutated) == before, planned
            synced = edited - mutated - edge
            assert (audit.loc[sorted(synced), "outcome"] == "reimported").all()
    assert tried >= CASES * 3
    print(f"fuzz ({source}): {tried} mutations in {CASES} cases, none reached the store")
