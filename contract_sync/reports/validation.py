"""A run's validation report: one self-contained page (no script, no external URL) with,
per quarantined contract, each failing row: suite, expectation, item and values. It
replaces Great Expectations' Data Docs, whose index was blank offline and took megabytes
per run; rows beyond ROWS_PER_CONTRACT per contract are counted, and all are in the audit
log's failed_expectations."""

from __future__ import annotations

import json

import pandas as pd

from contract_sync.reports.pages import render
from contract_sync.stages.validate import Validation

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
        }
    )
