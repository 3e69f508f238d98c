"""A code too long for the store is quarantined, and its refusal is still recorded."""

from __future__ import annotations

import csv

import sqlalchemy as sa

from contract_sync.demo.export import write_files
from contract_sync.erp.vista import read_vista
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import ErpConnector, Settings
from contract_sync.store import schema as s

LONG = "24001-" + "X" * 60


def test_an_over_long_contract_number_is_refused_and_recorded(seeded, tmp_path):
    export = write_files(read_vista(seeded.erp, 1), tmp_path / "export", "csv", "utf-8")
    for name in ("contracts.csv", "items.csv"):
        rows = list(csv.reader((export / name).open(newline="")))
        for row in rows[1:]:
            row[1] = LONG if row[1] == "24001-" else row[1]
        with (export / name).open("w", newline="") as out:
            csv.writer(out).writerows(rows)
    settings = Settings(
        erp_url=seeded.erp_url,
        store_url=seeded.store_url,
        erp_connector=ErpConnector.files,
        erp_files_dir=export,
        data_docs=False,
    )
    result = reimport(settings, Request(company=1, actor="admin", full_refresh=True))
    row = result.audit.set_index("contract_no").loc[LONG]
    assert row["outcome"] == "blocked" and "invalid_erp_data" in row["reasons"]
    with seeded.store.connect() as connection:
        recorded = connection.execute(
            sa.select(s.audit_contracts.c.contract_no).where(
                s.audit_contracts.c.run_id == result.run_id,
                s.audit_contracts.c.contract_no.like("24001-X%"),
            )
        ).scalar_one()
    assert recorded == LONG[:39] + "…"
