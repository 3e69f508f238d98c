"""First imports in bulk: the rights they need, one transaction and audit row each (on
Procore, which has no transaction: an intent, and the next import completes it)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.demo.generator import edge_case_contracts
from contract_sync.erp.vista import read_vista
from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.run import first_import
from contract_sync.settings import get_settings
from contract_sync.store import schema as s
from contract_sync_faces.cli import app


def _not_imported(configured) -> str:
    return edge_case_contracts(read_vista(configured.erp, 1).contracts["contract_no"])[
        "not_imported"
    ]


def _set_project_level(configured, login: str, contract_no: str, level: str) -> None:
    """The user's Main Contracts level on the project the contract's job is synced to."""
    job = read_vista(configured.erp, 1, contract_nos=[contract_no]).contracts.loc[0, "job_no"]
    with configured.store.begin() as connection:
        project = connection.execute(
            sa.select(s.synced_jobs.c.project_id).where(s.synced_jobs.c.erp_job_no == job)
        ).scalar_one()
        user = connection.execute(
            sa.select(s.users.c.id).where(s.users.c.login == login)
        ).scalar_one()
        company = connection.execute(
            sa.select(s.projects.c.company_id).where(s.projects.c.id == project)
        ).scalar_one()
        permission = s.tool_permissions.c
        connection.execute(
            s.tool_permissions.delete().where(
                permission.user_id == user,
                permission.tool == "main_contracts",
                permission.project_id == project,
            )
        )
        connection.execute(
            s.tool_permissions.insert(),
            {
                "user_id": user,
                "company_id": company,
                "tool": "main_contracts",
                "project_id": project,
                "level": level,
            },
        )


def test_a_first_import_needs_admin_on_the_target_projects_main_contracts(store):
    contract = _not_imported(store.sides)
    _set_project_level(store.sides, "estimator", contract, "standard")
    request = Request(company=1, actor="estimator", contracts=[contract])
    refused = first_import(get_settings(), request).audit.iloc[0]
    assert (refused["outcome"], refused["reasons"]) == ("blocked", "permission_denied")
    assert pd.isna(refused["amount_after"])  # nothing was written
    assert store.count(contract) == 0

    _set_project_level(store.sides, "estimator", contract, "admin")
    done = first_import(get_settings(), request).audit.iloc[0]
    assert done["outcome"] == "imported" and store.count(contract) == 1


def test_a_contract_failing_mid_import_leaves_nothing_but_its_audit_row(store):
    contract = _not_imported(store.sides)
    said = []

    def break_an_item(plan: Plan) -> None:  # a value the store refuses, mid-writes
        items = plan.erp.items
        said.append(store.refuse(items, items["contract_no"].eq(contract), contract))

    request = Request(company=1, actor="estimator", contracts=[contract])
    result = first_import(get_settings(), request, hooks=Hooks(planned=break_an_item))
    row = result.audit.iloc[0]
    assert row["outcome"] == "failed" and said[0] in row["error"].lower(), row["error"]
    with store.sides.store.connect() as connection:
        recorded = connection.execute(
            sa.select(s.audit_contracts.c.outcome).where(
                s.audit_contracts.c.run_id == result.run_id
            )
        ).scalar_one()
    assert recorded == "failed"
    if store.kind == "sql":
        assert store.count(contract) == 0
        return
    # Procore has no transaction: the contract it made before refusing its items stays,
    # empty, and the next import completes that one instead of making a second.
    assert store.count(contract) == 1 and store.items(contract).empty
    again = first_import(get_settings(), request).audit.iloc[0]
    assert again["outcome"] == "imported", again["error"]
    erp = read_vista(store.sides.erp, 1, contract_nos=[contract])
    assert store.count(contract) == 1 and len(store.items(contract)) == len(erp.items)


def test_import_all_takes_what_the_ready_list_shows_as_importable(store):
    configured = store.sides
    runner = CliRunner()
    contract = _not_imported(configured)
    none = runner.invoke(app, ["import", "--all", "--as", "viewer"])
    assert none.exit_code == 0 and "nothing to import for viewer" in none.output
    done = runner.invoke(app, ["import", "--all", "--as", "estimator"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert contract in done.output and "1 imported" in done.output
    assert store.count(contract) == 1
    again = runner.invoke(app, ["import", "--all", "--as", "estimator"])
    assert again.exit_code == 0 and "nothing to import" in again.output
    missing = runner.invoke(app, ["import", "--as", "estimator"])
    assert missing.exit_code == 1 and "--all" in missing.output
