"""Run reports: the summary a person reads after a run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contract_sync.columns import CHANGE_COUNTS, display
from contract_sync.vocabulary import Outcome

OUTCOME_COLUMNS = ["contract_no", "outcome", "reasons", *CHANGE_COUNTS]


def outcome_rows(audit: pd.DataFrame) -> list[dict]:
    """Per-contract outcomes as plain rows (for a table artifact)."""
    return (
        audit[OUTCOME_COLUMNS]
        .astype(object)
        .where(audit[OUTCOME_COLUMNS].notna(), "")
        .to_dict("records")
    )


def run_summary(audit: pd.DataFrame, run_id: str, docs_path: Path | None, audit_log: str) -> str:
    """Markdown: counts per outcome and per reason, contract value changed, where to look."""
    outcomes = audit["outcome"].value_counts().sort_index()
    reasons = audit["reasons"].str.split().explode().dropna().value_counts().sort_index()
    applied = audit[audit["outcome"] == Outcome.reimported]
    changed = (applied["amount_after"].fillna(0) - applied["amount_before"].fillna(0)).sum()
    imported = audit.loc[audit["outcome"] == Outcome.imported, "amount_after"].fillna(0).sum()
    lines = [f"# Re-import run `{run_id}`", "", "| outcome | contracts |", "|---|---:|"]
    lines += [f"| {outcome} | {count} |" for outcome, count in outcomes.items()]
    if len(reasons):
        lines += ["", "| reason | contracts |", "|---|---:|"]
        lines += [f"| `{reason}` | {count} |" for reason, count in reasons.items()]
    lines += [
        "",
        f"Contract value changed by re-imports: **{display(int(changed), 'amount')}**",
        f"Contract value brought in by first imports: {display(int(imported), 'amount')}",
        "",
    ]
    if docs_path is not None:
        lines.append(f"Validation report (Data Docs): [{docs_path}]({docs_path.as_uri()})")
    else:
        lines.append("Validation report: none (no contract content new to validation)")
    lines.append(f"Audit log: `{audit_log}`, run id `{run_id}`")
    return "\n".join(lines)
