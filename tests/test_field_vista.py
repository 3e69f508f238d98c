"""A company's first day against a Vista database in real formats (tests/field/vista.py),
set up only through `directory apply`: empty store -> imported -> re-imported, the store
equal to the ERP to the last digit; a trimmed export of it matches the same store."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.demo.export import write_files
from contract_sync.erp.vista import read_vista
from contract_sync.erp.vista_schema import JCCI, JCCM
from contract_sync.settings import get_settings
from contract_sync.store import schema as s
from contract_sync.store.db import make_engine, upgrade
from contract_sync_faces.cli import app
from tests.field import vista as field

ITEM_COLUMNS = [
    "Item",
    "Description",
    "UM",
    "OrigContractUnits",
    "OrigUnitPrice",
    "OrigContractAmt",
]


@pytest.fixture
def first_day(database_url, tmp_path, monkeypatch):
    erp_url, store_url = database_url("vista"), database_url("store")
    erp, store = make_engine(erp_url), make_engine(store_url)
    field.build(erp)
    upgrade(store)
    (tmp_path / "directory.yaml").write_text(field.DIRECTORY)
    monkeypatch.setenv("CONTRACT_SYNC_ERP_URL", erp_url)
    monkeypatch.setenv("CONTRACT_SYNC_STORE_URL", store_url)
    monkeypatch.setenv("CONTRACT_SYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield erp, store, tmp_path
    get_settings.cache_clear()
    erp.dispose()
    store.dispose()


def _cli(*args: str) -> str:
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def _erp_items(erp: sa.Engine, company: int) -> dict:
    with erp.connect() as connection:
        rows = connection.execute(
            sa.select(JCCI.c.Contract, *(JCCI.c[c] for c in ITEM_COLUMNS)).where(
                JCCI.c.JCCo == company
            )
        ).all()
    return {(r[0], r[1]): _exact(r[2:]) for r in rows}


SCALES = [None, None, 3, 5, 2]  # description, UM, units, unit price, amount


def _store_items(store: sa.Engine, company: int) -> dict:
    m, i = s.main_contracts, s.line_items
    with store.connect() as connection:
        rows = connection.execute(
            sa.select(m.c.origin_id, i.c.origin_id, i.c.description, i.c.uom, i.c.quantity,
                      i.c.unit_cost, i.c.amount)
            .join(m, m.c.id == i.c.contract_id)
            .join(s.companies, s.companies.c.id == m.c.company_id)
            .where(s.companies.c.erp_company == company)
        ).all()  # fmt: skip
    # The store hands back scaled integers (12.34 at scale 2 is 1234).
    unscaled = [
        tuple(
            v if scale is None else Decimal(v).scaleb(-scale)
            for v, scale in zip(r[2:], SCALES, strict=True)
        )
        for r in rows
    ]
    return {(r[0], r[1]): _exact(values) for r, values in zip(rows, unscaled, strict=True)}


def _exact(values) -> tuple:  # noqa: ANN001 - a row's values
    """Text as is, numbers as exact decimals at their scale (SQLite hands back floats of
    NUMERIC: the scales make them exact again)."""
    return tuple(
        v if scale is None else Decimal(str(v)).quantize(Decimal(1).scaleb(-scale))
        for v, scale in zip(values, SCALES, strict=True)
    )


def _headers(erp: sa.Engine, store: sa.Engine) -> tuple[dict, dict]:
    with erp.connect() as connection:
        in_erp = dict(
            connection.execute(
                sa.select(JCCM.c.Contract, JCCM.c.OrigContractAmt).where(JCCM.c.JCCo == 1)
            ).all()
        )
    with store.connect() as connection:
        in_store = dict(
            connection.execute(
                sa.select(s.main_contracts.c.origin_id, s.main_contracts.c.original_amount)
            ).all()
        )
    cents = Decimal("0.01")
    return (
        {k: Decimal(str(v)).quantize(cents) for k, v in in_erp.items()},
        {k: Decimal(v).scaleb(-2).quantize(cents) for k, v in in_store.items()},
    )


def test_empty_store_to_imported_to_reimported(first_day):
    erp, store, folder = first_day
    _cli("directory", "apply", str(folder / "directory.yaml"), "--by", "it-admin")
    # Before the import every contract is importable, its padded code shown as Vista writes it.
    ready = _cli("ready", "--as", "jdoe")
    assert "1001-" in ready and "not_imported" in ready

    imported = _cli("import", "--all", "--as", "jdoe")
    assert "3 imported" in imported
    assert _store_items(store, 1) == _erp_items(erp, 1)  # origin ids padded as in Vista
    in_erp, in_store = _headers(erp, store)
    assert in_store == in_erp
    with store.connect() as connection:
        statuses = dict(
            connection.execute(
                sa.select(s.main_contracts.c.number, s.main_contracts.c.status)
            ).all()
        )
    assert statuses == {"1001-": "Approved", "1002-": "Approved", "1003-": "Draft"}

    # Someone changes the Riverside contract in Vista: a price, a new item, a deleted item.
    with erp.begin() as connection:
        item = field.item_code(11)
        connection.execute(
            JCCI.update()
            .where(JCCI.c.Contract == " 1001-", JCCI.c.Item == item)
            .values(OrigUnitPrice=Decimal("12999.99999"), OrigContractAmt=Decimal("39000.00"))
        )
        connection.execute(
            JCCI.delete().where(JCCI.c.Contract == " 1001-", JCCI.c.Item == field.item_code(2))
        )
        connection.execute(
            JCCI.insert(),
            {"JCCo": 1, "Contract": " 1001-", "TaxCode": "E", "BillType": "P",
             **field.lump_sum(25, "Allowance – signalétique intérieure (façades & halls)",
                              "15000.00")},
        )  # fmt: skip
        total = connection.execute(
            sa.select(sa.func.sum(JCCI.c.OrigContractAmt)).where(JCCI.c.Contract == " 1001-")
        ).scalar_one()
        connection.execute(
            JCCM.update().where(JCCM.c.Contract == " 1001-").values(OrigContractAmt=total)
        )

    synced = _cli("sync")
    # +1 -1, and ~1: item 11; the items whose position moved are renumbered, not changed
    assert "1 re-imported" in synced and "+1 ~1 -1" in synced
    # 1003- is pending in Vista, so Draft in the store: with nothing changed it is up to
    # date, not "unapproved" (its own reason, erp_contract_pending, only when it has changes)
    assert re.search(r"1003-\s+up to date\s.*\sno_updates", synced), synced
    assert "contract_unapproved" not in synced
    assert _store_items(store, 1) == _erp_items(erp, 1)
    in_erp, in_store = _headers(erp, store)
    assert in_store == in_erp
    diff = _cli("diff", "   1001-  ")  # any padding
    assert "'   1001-  ' is ERP contract ' 1001-'" in diff
    unknown = CliRunner().invoke(app, ["diff", "1010-"])
    assert unknown.exit_code == 1 and "1010-" in unknown.output
    assert "nearest: " in unknown.output and "1001-" in unknown.output

    # The same ERP as a trimmed export: nothing to re-import, no item re-added.
    export = write_files(read_vista(erp, 1), folder / "export", "csv", "utf-8")
    assert " 1001-" not in (export / "contracts.csv").read_text()
    from_files = CliRunner().invoke(
        app,
        ["sync", "--full-refresh"],
        env={"CONTRACT_SYNC_ERP_CONNECTOR": "files", "CONTRACT_SYNC_ERP_FILES_DIR": str(export)},
    )
    get_settings.cache_clear()
    assert from_files.exit_code == 0, from_files.output
    assert "re-imported" not in from_files.output and "+0 ~0 -0" in from_files.output
    assert "3 up to date" in from_files.output or "2 up to date" in from_files.output


def test_closing_a_contract_in_vista_is_a_change_shown_and_recorded(first_day):
    """Soft close to hard close in Vista: `diff` shows the status change (not "nothing
    changed"), a sync records it as a re-import that writes no store field, and the next
    sync finds the contract up to date, not a blocker."""
    erp, store, folder = first_day
    _cli("directory", "apply", str(folder / "directory.yaml"), "--by", "it-admin")
    _cli("import", "--all", "--as", "jdoe")
    with store.connect() as connection:
        before = connection.execute(
            sa.select(s.main_contracts).where(s.main_contracts.c.number == "1002-")
        ).one()
    with erp.begin() as connection:
        connection.execute(
            JCCM.update().where(JCCM.c.Contract == " 1002-").values(ContractStatus=3)
        )

    diff = _cli("diff", "1002-")
    assert "ERP status" in diff and "hard-closed" in diff, diff
    assert "the project's own status is kept" in diff
    assert "nothing changed" not in diff
    synced = _cli("sync")
    assert re.search(r"1002-\s+re-?imported", synced), synced
    assert "erp_contract_closed" not in synced
    with store.connect() as connection:
        after = connection.execute(
            sa.select(s.main_contracts).where(s.main_contracts.c.number == "1002-")
        ).one()
    assert (after.status, after.original_amount) == (before.status, before.original_amount)
    recorded = _cli("audit", "contract", "1002-")
    assert "hard-closed" in recorded, recorded
    again = _cli("sync")
    assert re.search(r"1002-\s+up.to.date", again), again


def test_a_baseline_from_before_statuses_were_kept_learns_its_status_then_shows_its_change(
    first_day,
):
    """A baseline written before 0008 holds no ERP status. Unchanged, a sync records the
    ERP's (the hash holds it, so it is the last import's); closing it then shows."""
    erp, store, folder = first_day
    _cli("directory", "apply", str(folder / "directory.yaml"), "--by", "it-admin")
    _cli("import", "--all", "--as", "jdoe")
    baselines = s.import_baselines
    with store.begin() as connection:
        connection.execute(baselines.update().values(erp_status=None))
    _cli("sync")
    with store.connect() as connection:
        statuses = connection.execute(sa.select(baselines.c.erp_status)).scalars().all()
    assert None not in statuses and len(statuses) == 3
    with erp.begin() as connection:
        connection.execute(
            JCCM.update().where(JCCM.c.Contract == " 1002-").values(ContractStatus=3)
        )
    assert "hard-closed" in _cli("diff", "1002-")
