"""Audit reports: figures equal counts taken straight from the audit tables."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from markupsafe import escape
from typer.testing import CliRunner

from contract_sync.demo.edit import edit_erp
from contract_sync.demo.generator import edge_case_contracts
from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.reports.audit import CSV_COLUMNS, load_report, to_csv, to_html
from contract_sync.run import reimport
from contract_sync.settings import get_settings
from contract_sync.store.audit_log import AuditFilter, read_audit
from contract_sync_faces.cli import app
from tests.conftest import kept_as_is, seeded_sides, settings_for
from tests.stores import StoreUnderTest


def _run(sides, actor: str, dry_run: bool = False, break_one: bool = False) -> str:
    """One run with the real stages, outside Prefect; `break_one` makes one contract fail."""

    def break_first(plan: Plan) -> None:
        items = plan.comparison.items
        applied = plan.audit.loc[plan.audit["outcome"] == "reimported", "contract_no"]
        writable = items[
            items["change"].isin(["changed", "added"]) & items["contract_no"].isin(applied)
        ].index
        items.loc[writable[0], "position"] = pd.NA

    request = Request(company=1, actor=actor, dry_run=dry_run)
    hooks = Hooks(planned=break_first if break_one else None)
    return reimport(get_settings(), request, hooks=hooks).run_id


@pytest.fixture(scope="module")
def history(backend, tmp_path_factory):
    """Four runs, built once per backend: every test here only reads them."""
    folder = tmp_path_factory.mktemp("history")
    with seeded_sides(backend, folder) as sides, settings_for(sides, folder / "reports"):
        runs = [_run(sides, "sync-service")]
        edit_erp(sides.erp, 1, 0.5, seed=31)
        runs.append(_run(sides, "admin", dry_run=True))
        runs.append(_run(sides, "admin", break_one=True))
        sql_store = StoreUnderTest("sql", sides, get_settings(), {})
        sql_store.describe_first_item(  # the last run overwrites a store edit
            "24010-", store="Edited in the project", erp="Edited in the ERP"
        )
        runs.append(_run(sides, "sync-service"))
        with kept_as_is(sides):
            yield sides, runs


def _sql(sides, query: str) -> list:
    with sides.store.connect() as connection:
        return connection.execute(sa.text(query)).all()


def test_report_figures_equal_the_audit_tables(history):
    sides, runs = history
    report = load_report(sides.store, AuditFilter(), include_unchanged=True)
    summary = report.summary
    assert summary["runs"] == len(runs)
    assert summary["rows"] == _sql(sides, "SELECT count(*) FROM audit_contracts")[0][0]
    assert summary["outcomes"] == dict(
        _sql(sides, "SELECT outcome, count(*) FROM audit_contracts GROUP BY outcome")
    )
    assert set(summary["outcomes"]) == {
        "blocked",
        "up_to_date",
        "would_reimport",
        "reimported",
        "failed",
    }
    for reason, count in summary["reasons"].items():
        like = (
            f"SELECT count(*) FROM audit_contracts WHERE ' ' || reasons || ' ' LIKE '% {reason} %'"
        )
        assert count == _sql(sides, like)[0][0], reason
    rows = pd.DataFrame(
        _sql(sides, "SELECT outcome, amount_before, amount_after FROM audit_contracts"),
        columns=["outcome", "before", "after"],
    )
    if sides.store.dialect.name == "postgresql":  # NUMERIC(15, 2) there, cents on SQLite
        rows[["before", "after"]] = rows[["before", "after"]].map(
            lambda v: None if v is None else int(Decimal(v).scaleb(2))
        )
    applied = rows[rows["outcome"] == "reimported"]
    assert summary["value_changed"] == int((applied["after"] - applied["before"].fillna(0)).sum())
    assert int(report.timeline.to_numpy().sum()) == summary["rows"]
    listed = load_report(sides.store, AuditFilter())  # lists fewer rows, counts the same
    assert listed.summary == summary and len(listed.rows) < len(report.rows)
    assert listed.blockers.equals(report.blockers)

    edge = edge_case_contracts(report.rows["contract_no"])
    blockers = report.blockers.set_index(["contract_no", "reason"])
    unapproved = blockers.loc[(edge["contract_unapproved"], "contract_unapproved")]
    assert unapproved["times"] == len(runs) and unapproved["still_blocked"]
    failed = report.rows[report.rows["outcome"] == "failed"]
    assert len(failed) == 1 and failed["error"].iloc[0]


def test_filters_combine(history):
    sides, runs = history
    edge = edge_case_contracts(read_audit(sides.store, AuditFilter())[0]["contract_no"])

    def rows(**kwargs) -> pd.DataFrame:
        return read_audit(sides.store, AuditFilter(**kwargs))[0]

    unapproved = rows(outcome="blocked", reason="contract_unapproved")
    assert set(unapproved["contract_no"]) == {edge["contract_unapproved"]}
    # Recorded when its state or the acting user changes (runs 1, 2 and 4), counted else.
    assert list(unapproved["run_id"]) == [runs[0], runs[1], runs[3]]
    by_admin = rows(actor="admin", outcome="reimported")
    assert set(by_admin["run_id"]) == {runs[2]}
    not_imported = rows(contract=edge["not_imported"], actor="sync-service")
    assert list(not_imported["run_id"]) == [runs[0], runs[3]]  # the admin's runs between
    assert rows(since=datetime.now(UTC) + timedelta(days=1)).empty
    assert len(rows(until=datetime.now(UTC) + timedelta(days=1))) == len(rows())
    project = rows(contract=edge["permission_denied"])["project"].iloc[0]
    assert set(rows(project=project)["contract_no"]) == {edge["permission_denied"]}
    assert set(rows(run_id=runs[1])["outcome"]) >= {"would_reimport"}


def test_csv_round_trips_and_html_is_self_contained(history):
    sides, _ = history
    report = load_report(sides.store, AuditFilter(), include_unchanged=True)
    back = pd.read_csv(io.StringIO(to_csv(report)), dtype=str, keep_default_na=False)
    rows = report.rows[CSV_COLUMNS].astype(object)
    expected = rows.where(rows.notna(), "").astype(str)
    for column in ("amount_before", "amount_after"):  # exact decimals, never cents or floats
        expected[column] = [
            "" if pd.isna(v) else str(Decimal(int(v)).scaleb(-2)) for v in rows[column]
        ]
    assert list(back.columns) == CSV_COLUMNS
    shown = back.loc[back["amount_after"].ne(""), "amount_after"]
    assert len(shown) and shown.str.fullmatch(r"-?\d+\.\d{2}").all()
    pd.testing.assert_frame_equal(back, expected.reset_index(drop=True), check_dtype=False)
    page = to_html(report)
    assert "<svg" in page and page.count("<rect") >= 3
    assert "http://" not in page and "https://" not in page and "<script" not in page

    # The per-contract history lists every field change of the audit log, each under its
    # contract, the overwritten store edits marked (and only those).
    history = page.split("<h2>Per-contract history</h2>", 1)[1]
    changes = _sql(
        sides,
        "SELECT a.erp_company, a.contract_no, c.item_no, c.change, c.field, c.before,"
        " c.after, c.overwritten FROM audit_changes c JOIN audit_contracts a"
        " ON a.id = c.audit_id ORDER BY c.id",
    )
    overwritten = [c for c in changes if c.overwritten]
    assert overwritten and len(overwritten) < len(changes)
    assert history.count("<tr><td>") == len(changes)
    assert history.count("<td>store edit overwritten</td>") == len(overwritten)
    for change in (overwritten[0], next(c for c in changes if not c.overwritten)):
        summary = f"<summary>{change.erp_company} / {escape(change.contract_no)} ("
        assert page.count(summary) == 1, summary
        listed = history.split(summary, 1)[1].split("</details>", 1)[0]
        cells = [change.item_no, change.change, change.field, change.before, change.after]
        cells.append("store edit overwritten" if change.overwritten else "")
        row = "".join(f"<td>{escape(v if v is not None else '')}</td>" for v in cells)
        assert f"<tr>{row}</tr>" in listed, (change, listed)


def test_audit_commands(history):
    _, runs = history
    runner = CliRunner()
    shown = runner.invoke(app, ["audit", "show", runs[2]])
    assert shown.exit_code == 0 and "failed" in shown.output and "re-imported" in shown.output
    markdown = runner.invoke(
        app, ["audit", "report", "--format", "markdown", "--outcome", "blocked"]
    )
    assert markdown.exit_code == 0 and "| blocked |" in markdown.output
    assert "| reimported |" not in markdown.output
    unknown = runner.invoke(app, ["audit", "show", "no-such-run"])
    assert unknown.exit_code == 1


@pytest.mark.usefixtures("prefect_harness")
def test_the_audit_report_flow_writes_the_files_and_the_artifact(history):
    from prefect.artifacts import Artifact

    from contract_sync_flows.audit_report import audit_report_flow

    html_path = Path(audit_report_flow(days=1))
    assert html_path.exists() and html_path.with_suffix(".csv").exists()
    assert "<svg" in html_path.read_text()
    artifact = Artifact.get("audit-report")
    assert "data:image/svg+xml;base64," in artifact.data
    assert f"Full report: the file `{html_path}`" in artifact.data and "file:" not in artifact.data
