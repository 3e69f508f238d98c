"""Bounded growth: a contract's state is recorded when it changes; a run that finds it as
last recorded counts it in its end. Reports still say when it was last checked, in what
state, and how many times it was found blocked."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.demo.edit import edit_erp
from contract_sync.demo.generator import edge_case_contracts
from contract_sync.model import Request
from contract_sync.reports.audit import load_report
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.store import schema as s
from contract_sync.store.audit_log import AuditFilter, runs
from contract_sync_faces.cli import app


def _recorded(store: sa.Engine, run_id: str) -> int:
    with store.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).where(s.audit_contracts.c.run_id == run_id)
        ).scalar()


def test_a_state_is_recorded_once_and_counted_after(configured):
    settings = Settings(erp_url=configured.erp_url, store_url=configured.store_url, data_docs=False)
    sync = [reimport(settings, Request(company=1, actor="sync-service")) for _ in range(3)]
    in_scope = len(sync[0].audit)
    assert _recorded(configured.store, sync[0].run_id) == in_scope
    assert [_recorded(configured.store, r.run_id) for r in sync[1:]] == [0, 0]
    with configured.store.connect() as connection:
        repeated = dict(
            connection.execute(sa.select(runs().subquery().c["id", "contracts_repeated"])).all()
        )
    assert [repeated[r.run_id] for r in sync] == [0, in_scope, in_scope]

    edited = edit_erp(configured.erp, 1, 0.3, seed=5).contracts
    after = reimport(settings, Request(company=1, actor="sync-service"))
    recorded = after.audit[after.audit["contract_no"].isin(edited)]
    assert _recorded(configured.store, after.run_id) >= len(recorded) > 0

    report = load_report(configured.store, AuditFilter(company=1))
    unapproved = edge_case_contracts(after.audit["contract_no"])["contract_unapproved"]
    blockers = report.blockers.set_index(["contract_no", "reason"])
    assert blockers.loc[(unapproved, "contract_unapproved"), "times"] == 4  # 1 record, 4 runs
    assert report.summary["run_statuses"] == {"completed": 4}

    shown = CliRunner().invoke(app, ["audit", "contract", unapproved])
    assert shown.exit_code == 0, shown.output
    assert f"by run {after.run_id} (cli, as sync-service): blocked" in shown.output
