"""Run reports: what a project manager reads after a run (Prefect artifacts, run log)."""

from __future__ import annotations

import pandas as pd

from contract_sync.columns import display
from contract_sync.vocabulary import UNCHANGED_REASONS, Outcome, in_words, what_to_do

SHOWN_BLOCKED = 50  # blocked contracts listed in a summary; the rest are counted
SHOWN_FAILURES = 5  # failing rows shown inline per quarantined contract


def _amount(values: pd.Series) -> pd.Series:
    return values.map(lambda v: display(v, "amount"))


def outcome_rows(
    audit: pd.DataFrame, erp_contracts: pd.DataFrame, projects: pd.DataFrame
) -> list[dict]:
    """Per contract, for a table artifact: title, project, outcome, reasons in plain words
    (codes beside them), items, amounts before and after and the change, with separators."""
    titles = erp_contracts.drop_duplicates("contract_no").set_index("contract_no")["title"]
    numbers = projects.set_index("project_id")["project"]
    before = audit["amount_before"].astype("Int64")
    after = audit["amount_after"].astype("Int64")
    rows = pd.DataFrame(
        {
            "contract": audit["contract_no"],
            "title": audit["contract_no"].map(titles),
            "project": audit["project_id"].map(numbers),
            "outcome": audit["outcome"],
            "why": audit["reasons"].fillna("").map(in_words),
            "items +/~/-": "+"
            + audit["items_added"].astype(str)
            + " ~"
            + audit["items_changed"].astype(str)
            + " -"
            + audit["items_removed"].astype(str),
            "amount before": _amount(before),
            "amount after": _amount(after),
            "change": _amount(after - before.fillna(0)),
        }
    )
    return rows.astype(object).where(rows.notna(), "").to_dict("records")


def listed(audit: pd.DataFrame) -> pd.DataFrame:
    """The contracts an outcome table lists: all but those up to date, which the summary
    counts (a company's hourly sync would otherwise store its every contract each hour)."""
    return audit[audit["outcome"] != Outcome.up_to_date]


def blocked_with_reasons(audit: pd.DataFrame) -> pd.DataFrame:
    """Contracts blocked for a reason other than having nothing to re-import."""
    return audit[(audit["outcome"] == Outcome.blocked) & audit["reasons"].ne(UNCHANGED_REASONS)]


def run_summary(
    audit: pd.DataFrame, run_id: str, report_link: str | None, audit_log: str, dry_run: bool = False
) -> str:
    """Markdown: counts, the money, each blocked contract with what to do, the validation
    failures inline, and where to look further."""
    outcomes = audit["outcome"].value_counts().sort_index()
    title = f"# Re-import run `{run_id}`" + (" (dry run: nothing was written)" if dry_run else "")
    lines = [title, "", "| outcome | contracts |", "|---|---:|"]
    lines += [f"| {outcome} | {count} |" for outcome, count in outcomes.items()]
    lines += ["", *_money(audit), ""]
    blocked = blocked_with_reasons(audit)
    if len(blocked):
        lines += [
            "## Blocked contracts and what to do",
            "",
            "| contract | why | what to do |",
            "|---|---|---|",
        ]
        for row in blocked.head(SHOWN_BLOCKED).itertuples():
            todo = what_to_do(row.reasons)
            lines.append(f"| {row.contract_no} | {in_words(row.reasons)} | {todo} |")
        if len(blocked) > SHOWN_BLOCKED:
            lines.append(
                f"| … | and {len(blocked) - SHOWN_BLOCKED} more (see the outcome table) | |"
            )
        lines.append("")
    lines += _failures(audit)
    if report_link is not None:
        lines.append(f"Validation report: [{report_link}]({report_link})")
    else:
        lines.append("Validation report: none (no contract content new to validation)")
    lines.append(f"Audit log: `{audit_log}`, run id `{run_id}`")
    return "\n".join(lines)


def _money(audit: pd.DataFrame) -> list[str]:
    def delta(outcome: str) -> int:
        rows = audit[audit["outcome"] == outcome]
        return int((rows["amount_after"].fillna(0) - rows["amount_before"].fillna(0)).sum())

    if (audit["outcome"] == Outcome.would_reimport).any():
        would = display(delta(Outcome.would_reimport), "amount")
        return [f"A re-import would change the contract value by: **{would}**"]
    return [
        f"Contract value changed by re-imports: **{display(delta(Outcome.reimported), 'amount')}**",
        f"Contract value brought in by first imports: {display(delta(Outcome.imported), 'amount')}",
    ]


def _failures(audit: pd.DataFrame) -> list[str]:
    """The failing rows of quarantined contracts, inline (the report has them all)."""
    invalid = audit[audit["failed_expectations"].map(lambda f: isinstance(f, list) and len(f) > 0)]
    if invalid.empty:
        return []
    lines = [
        "## Why contracts were quarantined (invalid_erp_data)",
        "",
        "| contract | item | expectation | values |",
        "|---|---|---|---|",
    ]
    for row in invalid.head(SHOWN_BLOCKED).itertuples():
        for detail in row.failed_expectations[:SHOWN_FAILURES]:
            values = ", ".join(f"{k} {v}" for k, v in detail.get("values", {}).items())
            item = detail.get("item_no", "")
            lines.append(f"| {row.contract_no} | {item} | {detail['expectation']} | {values} |")
    return [*lines, ""]
