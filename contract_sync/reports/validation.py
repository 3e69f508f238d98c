"""A run's validation report: one self-contained page (no script, no external URL) with,
per quarantined contract, each failing row: suite, expectation, item, values and rule. It
replaces Great Expectations' Data Docs, whose index was blank offline and took megabytes
per run; rows beyond ROWS_PER_CONTRACT per contract are counted, and all are in the audit
log's failed_expectations."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from contract_sync.model import Validation
from contract_sync.output_files import make_folder, write_whole
from contract_sync.reports.pages import render

ROWS_PER_CONTRACT = 20


def validation_page(validation: Validation, contract_nos: pd.Series, run_id: str) -> str:
    failures = validation.failures
    in_scope = failures["contract_no"].isin(contract_nos)
    contracts = [
        _contract(number, details)
        for number, details in zip(
            failures.loc[in_scope, "contract_no"],
            failures.loc[in_scope, "failed_expectations"],
            strict=True,
        )
    ]
    orphans = [
        d | {"contract_no": n}
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
    return render(
        "validation.html.j2",
        title=f"Validation of run {run_id}",
        summary=summary,
        contracts=sorted(contracts, key=lambda c: c["contract_no"]),
        orphans=_rows(orphans) if orphans else None,
    )


def _contract(number: str, details: list[dict]) -> dict:
    return {
        "contract_no": number,
        "rows": _rows(details[:ROWS_PER_CONTRACT]),
        "more": max(0, len(details) - ROWS_PER_CONTRACT),
    }


def _rows(details: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "suite": [d.get("suite") for d in details],
            "expectation": [d.get("expectation") for d in details],
            "item": [d.get("item_no") for d in details],
            "values": [json.dumps(d.get("values", {}), ensure_ascii=False) for d in details],
            "rule": [d.get("rule") for d in details],
        }
    )


def with_report(
    validation: Validation, contract_nos: pd.Series, docs_dir: Path | None, run_id: str | None
) -> Validation:
    """The validation, its report page on `contract_nos` written to docs_dir/index.html
    when asked for."""
    if docs_dir is None:
        return validation
    make_folder(docs_dir)
    page = docs_dir / "index.html"
    write_whole(page, validation_page(validation, contract_nos, run_id or docs_dir.name))
    return replace(validation, docs_path=page)
