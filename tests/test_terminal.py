"""What a person reads in a 100-column terminal: every table fits, no code or amount is
cut; and the same tables as CSV and JSON, amounts exact."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from contract_sync.columns import display
from contract_sync.demo.edit import edit_erp
from contract_sync_faces.cli import app

COMMANDS = [
    ["ready"],
    ["ready", "--as", "admin"],
    ["sync", "--company", "1", "--dry-run"],
    ["audit", "report"],
    ["audit", "contract", "24003-"],
    ["reimport", "24003-", "24008-", "--as", "admin", "--dry-run"],
    ["diff", "24008-"],
]


def _run(args: list[str]):
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.fixture
def narrow(configured, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    edit_erp(configured.erp, 1, 0.5, seed=17)
    _run(["sync", "--company", "1"])  # history for the audit commands
    return configured


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_table_fits_100_columns_and_cuts_nothing(narrow):
    ready = pd.DataFrame(json.loads(_run(["ready", "--format", "json"])))
    for args in COMMANDS:
        shown = _run(args)
        assert max(map(len, shown.splitlines())) <= 100, args
        assert "…" not in shown, args
    shown = _run(["ready"])
    for row in ready.itertuples():
        assert row.contract_no in shown
        for code in row.reasons.split():
            assert code in shown.split(), code
        assert display(int(row.amount_after.replace(".", "")), "amount") in shown
        assert display(int(row.amount_delta.replace(".", "")), "amount") in shown


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tables_as_csv_and_json_with_exact_amounts(narrow):
    ready = pd.DataFrame(json.loads(_run(["ready", "--format", "json"])))
    as_csv = pd.read_csv(pd.io.common.StringIO(_run(["ready", "--format", "csv"])), dtype=str)
    assert list(as_csv["contract_no"]) == list(ready["contract_no"])
    amounts = ready["amount_after"].dropna()
    assert amounts.str.fullmatch(r"-?\d+\.\d{2}").all()  # text, no separators, no float
    outcomes = json.loads(_run(["sync", "--company", "1", "--dry-run", "--format", "json"]))
    assert {o["outcome"] for o in outcomes} >= {"blocked", "up_to_date"}
    assert all(isinstance(o["amount_before"], str | None) for o in outcomes)
    report = json.loads(_run(["audit", "report", "--format", "json"]))
    assert 0 < len(report["rows"]) <= report["summary"]["rows"]  # up-to-date rows: counted
    assert all(isinstance(r["amount_after"], str | None) for r in report["rows"])
    changes = ready["items_changed"] + ready["items_added"] + ready["header_changes"]
    pending = ready.loc[ready["imported"] & (changes > 0), "contract_no"].iloc[0]
    lines = json.loads(_run(["diff", pending, "--format", "json"]))
    assert lines and {"item_no", "change", "field", "before", "after", "note"} <= set(lines[0])
    assert CliRunner().invoke(app, ["ready", "--format", "xml"]).exit_code == 1
