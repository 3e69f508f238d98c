"""A run's validation report: one self-contained page (no script, no external URL) that
says what was checked, each rule as a sentence, and per quarantined contract each failing
row: item, field, value and the rule it breaks, in words. It replaces Great Expectations'
Data Docs, whose index was blank offline and took megabytes per run; rows beyond
ROWS_PER_CONTRACT per contract are counted, and all are in the audit log's
failed_expectations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from contract_sync.model import Validation
from contract_sync.output_files import make_folder, write_whole
from contract_sync.reports.pages import render
from contract_sync.reports.rules import SUITE_TITLES, checks, failure_rows
from contract_sync.settings import packaged_expectations_dir

ROWS_PER_CONTRACT = 20


def validation_page(
    validation: Validation, contract_nos: pd.Series, run_id: str, suites_dir: Path | None = None
) -> str:
    """The page; `suites_dir`: the suites the run checked, for the rules in words."""
    failures = validation.failures
    known = checks(suites_dir)
    in_scope = failures["contract_no"].isin(contract_nos)
    contracts = [
        _contract(number, details, known)
        for number, details in zip(
            failures.loc[in_scope, "contract_no"],
            failures.loc[in_scope, "failed_expectations"],
            strict=True,
        )
    ]
    orphans = [
        (n, d)
        for n, ds in zip(
            failures.loc[~in_scope, "contract_no"],
            failures.loc[~in_scope, "failed_expectations"],
            strict=True,
        )
        for d in ds
    ]
    summary = pd.DataFrame(
        [
            ("contracts in scope", len(contract_nos)),
            ("validated by this run", len(contract_nos) - validation.reused),
            ("verdicts kept from an earlier validation of the same content", validation.reused),
            ("quarantined (invalid_erp_data)", len(contracts)),
        ],
        columns=["figure", "value"],
    )
    checked = [
        {"title": SUITE_TITLES.get(suite, suite), "rules": rules}
        for suite, rules in known.groupby("suite", sort=False)
    ]
    return render(
        "validation.html.j2",
        title=f"Validation of run {run_id}",
        summary=summary,
        contracts=sorted(contracts, key=lambda c: c["contract_no"]),
        orphans=failure_rows(orphans, known) if orphans else None,
        checked=checked,
    )


def _contract(number: str, details: list[dict], known: pd.DataFrame) -> dict:
    rows = failure_rows([(number, d) for d in details[:ROWS_PER_CONTRACT]], known)
    return {
        "contract_no": number,
        "rows": rows.drop(columns="contract"),
        "more": max(0, len(details) - ROWS_PER_CONTRACT),
    }


def with_report(
    validation: Validation,
    contract_nos: pd.Series,
    docs_dir: Path | None,
    run_id: str | None,
    suites_dir: Path | None = None,
) -> Validation:
    """The validation, its report page on `contract_nos` written to docs_dir/index.html
    when asked for (`suites_dir`: the suites it checked; default the packaged ones)."""
    if docs_dir is None:
        return validation
    suites_dir = suites_dir or packaged_expectations_dir()
    make_folder(docs_dir)
    page = docs_dir / "index.html"
    html = validation_page(validation, contract_nos, run_id or docs_dir.name, suites_dir)
    write_whole(page, html)
    return replace(validation, docs_path=page)
