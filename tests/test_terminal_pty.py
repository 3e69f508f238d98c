"""The command line in a real terminal: each command in a process of its own, on a
pseudo-terminal of 80 and of 100 columns (set with TIOCSWINSZ, COLUMNS unset: the console
finds the width itself), over two companies whose contract numbers repeat. Every amount,
contract code and reason code of the frames behind a table appears whole; each row of two
companies names its company; no line is wider than the terminal."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from contract_sync.columns import display
from contract_sync.demo.edit import edit_erp
from contract_sync.reports.audit import load_report
from contract_sync.store.audit_log import AuditFilter
from contract_sync.vocabulary import SCALES
from contract_sync_faces.cli import app

PROJECT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "contract_sync_faces.cli"]
WIDTHS = (80, 100)
# Colours and styles (CSI) and hyperlinks (OSC): what a terminal shows as no character.
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def in_terminal(args: list[str], columns: int, timeout: float = 180) -> str:
    """What the command shows in a terminal `columns` wide (escapes removed)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PREFECT_API_URL")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        [*CLI, *args], stdin=slave, stdout=slave, stderr=slave, cwd=PROJECT, env=env
    )
    os.close(slave)
    shown, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command ended, the terminal has no writer left
                break
            if not chunk:
                break
            shown += chunk
        else:
            process.kill()
            pytest.fail(f"{args} still running after {timeout} s")
    finally:
        os.close(master)
    process.wait(timeout=30)
    text = ESCAPES.sub("", shown.decode()).replace("\r\n", "\n")
    assert process.returncode == 0, text
    return text


def frame(args: list[str]) -> pd.DataFrame:
    """The records behind a table, as the command gives them to a program (JSON)."""
    done = CliRunner().invoke(app, [*args, "--format", "json"])
    assert done.exit_code == 0, done.output
    records = json.loads(done.stdout)
    return pd.DataFrame(records["rows"] if isinstance(records, dict) else records)


def words(shown: str) -> set[str]:
    """Whole words of the output; a value cut or run into another is none of them."""
    return {w.rstrip(";,") for w in shown.split()}


def check_fits(shown: str, columns: int) -> None:
    widest = max(map(len, shown.splitlines()))
    assert widest <= columns, shown
    assert "…" not in shown, shown


def check_whole(shown: str, values: pd.Series) -> None:
    found = words(shown)
    missing = sorted({v for v in values.dropna().astype(str) if v and v not in found})
    assert not missing, f"not whole in the output: {missing}\n{shown}"


def amounts(values: pd.Series) -> pd.Series:
    """Exact decimal text ('83041.08') as a person reads it ('83,041.08')."""
    return values.dropna().map(lambda v: display(v, "amount"))


def reason_codes(reasons: pd.Series) -> pd.Series:
    return pd.Series(" ".join(reasons.dropna()).split(), dtype=object)


def check_companies_named(shown: str, rows: pd.DataFrame) -> None:
    """Each (company, contract) of the rows on a line of its own, company first."""
    for company, contract in (
        rows[["erp_company", "contract_no"]].drop_duplicates().itertuples(index=False)
    ):
        line = rf"(?:^|\s){company}\s+{re.escape(contract)}(?:\s|$)"
        assert re.search(line, shown, re.M), (company, contract, shown)


def check_legend(shown: str, codes: pd.Series) -> None:
    """Below the tables, each reason once: its code, what it means, what to do."""
    legend = shown.rsplit("\nReasons\n", 1)[1]
    for code in set(codes):
        assert len(re.findall(rf"^{code}\s", legend, re.M)) == 1, (code, legend)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tables_in_80_and_100_column_terminals_cut_nothing_and_name_the_company(configured):
    edit_erp(configured.erp, 1, 0.5, seed=17)
    company_args = ["--company", "1", "--company", "2"]

    # A dry run of both companies: outcomes, amounts and reasons.
    outcomes = frame(["sync", *company_args, "--dry-run"])
    assert set(outcomes["erp_company"]) == {1, 2}
    assert outcomes.duplicated("contract_no").any()  # the same contract numbers in both
    delta = pd.Series(
        [
            str(Decimal(after) - Decimal(before or 0)) if after else None
            for after, before in zip(
                outcomes["amount_after"], outcomes["amount_before"], strict=True
            )
        ],
        dtype=object,
    )
    for columns in WIDTHS:
        shown = in_terminal(["sync", *company_args, "--dry-run"], columns)
        check_fits(shown, columns)
        check_whole(shown, outcomes["contract_no"])
        check_whole(shown, amounts(outcomes["amount_after"]))
        check_whole(shown, amounts(delta))
        check_whole(shown, reason_codes(outcomes["reasons"]))
        assert re.search(r"^company\s+contract\s", shown, re.M), shown
        check_companies_named(shown, outcomes)
        check_legend(shown, reason_codes(outcomes["reasons"]))
        if columns == 80:  # the reasons move below, and it says so
            assert "columns that do not fit 80 columns: reasons" in " ".join(shown.split())
        else:  # the console found the terminal wider than 80 by itself
            assert max(map(len, shown.splitlines())) > 80

    # A contract's line-level preview: header and item values in the one format.
    ready = frame(["ready", "--as", "admin"])
    changes = ready["items_changed"] + ready["items_added"] + ready["header_changes"]
    pending = ready.loc[ready["reimport_available"] & (changes > 0), "contract_no"].iloc[0]
    lines = frame(["diff", pending])
    scaled = lines[lines["field"].isin(list(SCALES))]
    assert len(scaled), lines
    values = [display(v, f) for v, f in zip(scaled["before"], scaled["field"], strict=True)]
    values += [display(v, f) for v, f in zip(scaled["after"], scaled["field"], strict=True)]
    for columns in WIDTHS:
        shown = in_terminal(["diff", pending], columns)
        check_fits(shown, columns)
        check_whole(shown, pd.Series(values))
        check_whole(shown, lines["item_no"])
        assert "original_amount" not in shown and "unit_cost" not in shown

    # The ready list of company 1.
    for columns in WIDTHS:
        shown = in_terminal(["ready", "--as", "admin"], columns)
        check_fits(shown, columns)
        check_whole(shown, ready["contract_no"])
        check_whole(shown, amounts(ready["amount_after"]))
        check_whole(shown, amounts(ready["amount_delta"]))
        check_whole(shown, reason_codes(ready["reasons"]))
        check_legend(shown, reason_codes(ready["reasons"]))

    # A real sync of both companies, then the audit report of what it did.
    shown = in_terminal(["sync", *company_args], 80)
    check_fits(shown, 80)
    check_companies_named(shown, outcomes)
    rows = frame(["audit", "report"])
    assert set(rows["erp_company"]) == {1, 2}
    for columns in WIDTHS:
        shown = in_terminal(["audit", "report"], columns)
        check_fits(shown, columns)
        check_whole(shown, rows["contract_no"])
        check_whole(shown, reason_codes(rows["reasons"]))
        check_companies_named(shown, rows)
        listed = re.search(r"and (\d+) listed", " ".join(shown.split()))
        assert listed and f"Audit rows ({listed.group(1)} listed)" in shown, shown
        assert int(listed.group(1)) == len(rows)

    # One contract's history: its field changes, values in the one format.
    report = load_report(
        configured.store, AuditFilter(contract=pending, company=1), include_unchanged=True
    )
    changed = report.changes[report.changes["field"].isin(list(SCALES))]
    assert len(changed), report.changes
    values = [display(v, f) for v, f in zip(changed["before"], changed["field"], strict=True)]
    values += [display(v, f) for v, f in zip(changed["after"], changed["field"], strict=True)]
    for columns in WIDTHS:
        shown = in_terminal(["audit", "contract", pending], columns)
        check_fits(shown, columns)
        check_whole(shown, pd.Series(values))
        check_whole(shown, report.changes["item_no"])
        assert "original_amount" not in shown
