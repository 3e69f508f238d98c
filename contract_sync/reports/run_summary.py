"""Run reports: what a project manager reads after a run (Prefect artifacts, run log)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from contract_sync.columns import display
from contract_sync.reports.rules import failure_rows
from contract_sync.vocabulary import (
    UNCHANGED_REASONS,
    Outcome,
    in_few_words,
    in_words,
    label,
    telling_codes,
    what_to_do,
)

SHOWN_BLOCKED = 50  # blocked contracts listed in a summary; the rest are counted
SHOWN_FAILURES = 5  # failing rows shown inline per quarantined contract


def _each(values: pd.Series, words: Callable[[str], str]) -> pd.Series:
    """`words` of each value, worked out once per distinct value."""
    text = values.fillna("")
    return text.map({v: words(v) for v in text.unique()})


def _text(value: object) -> str:
    """ERP or error text as literal markdown text, on one line."""
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", " ".join(str(value).split()))


def _amount(values: pd.Series) -> pd.Series:
    return values.map(lambda v: display(v, "amount"))


# Reasons a table cell names; more are counted ("+1 more"): the summary says them all.
SHOWN_REASONS = 1
# Outcomes that change, or would change, a contract's value.
MOVES_MONEY = (Outcome.reimported, Outcome.imported, Outcome.would_reimport, Outcome.undone)


def _blocked_because(reasons: str) -> str:
    """'blocked: ERP job not synced, +1 more': the first reason (the gates' order) in a few
    words, the others counted."""
    codes = telling_codes(reasons)
    if not codes:
        return label(Outcome.blocked)
    more = len(codes) - SHOWN_REASONS
    shown = in_few_words(" ".join(codes[:SHOWN_REASONS]))
    return f"{label(Outcome.blocked)}: {shown}" + (f", +{more} more" if more > 0 else "")


def outcome_rows(audit: pd.DataFrame, erp_contracts: pd.DataFrame) -> list[dict]:
    """Per contract, for a table artifact that fits Prefect's UI at 1440 px (its cells do
    not wrap): title, the outcome in words (a blocked one with why, in a few words) and the
    change of the contract's value. Project, items, amounts and the reason codes are in
    the audit; each blocked contract's reasons in full, with what to do, in the summary."""
    titles = erp_contracts.drop_duplicates("contract_no").set_index("contract_no")["title"]
    before = audit["amount_before"].astype("Int64")
    after = audit["amount_after"].astype("Int64")
    outcome = _each(audit["outcome"], label)
    outcome = outcome.mask(audit["outcome"].eq(Outcome.failed), "failed: see the summary")
    blocked = audit["outcome"].eq(Outcome.blocked)
    rows = pd.DataFrame(
        {
            label("contract_no"): audit["contract_no"],
            label("title"): audit["contract_no"].map(titles),
            "outcome": outcome.mask(blocked, _each(audit["reasons"], _blocked_because)),
            "change": _amount(after - before.fillna(0)).where(audit["outcome"].isin(MOVES_MONEY)),
        }
    )
    return rows.astype(object).where(rows.notna(), "").to_dict("records")


def ready_rows(table: pd.DataFrame) -> list[dict]:
    """The ready list (run.company_ready_list) for a table artifact that fits Prefect's UI:
    per contract what may be done with it in words (import, re-import, up to date, or
    blocked and why in a few words), and the change of the contract value in the store it
    would make (a first import brings the whole amount). Projects, codes, item counts and
    amounts stay in the flow's result."""
    imported = table["imported"].astype(bool)
    importable = ~imported & table["import_available"].astype(bool)
    reimportable = imported & table["reimport_available"].astype(bool)
    import_reasons = table.get("import_reasons", pd.Series("", index=table.index))
    reasons = import_reasons.where(~imported, table["reasons"])
    action = _each(reasons, _blocked_because)
    action = action.mask(imported & table["reasons"].eq(UNCHANGED_REASONS), "up to date")
    action = action.mask(importable, "import").mask(reimportable, "re-import")
    change = table["amount_after"].where(importable, table["amount_delta"].where(reimportable))
    rows = pd.DataFrame(
        {
            label("contract_no"): table["contract_no"],
            label("title"): table["title"],
            "action": action,
            "change": _amount(change),
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


def place(url: str | None, path: Path) -> str:
    """Markdown for where a report is: a link to its http address, else its file's path as
    text (a file:// link does nothing in a browser)."""
    if url is not None:
        return f"[{url}]({url})"
    return f"the file `{path}` on the machine that ran the flow"


def run_summary(
    audit: pd.DataFrame,
    run_id: str,
    report: str | None,
    audit_log: str,
    dry_run: bool = False,
    rules: pd.DataFrame | None = None,
) -> str:
    """Markdown: counts, the money, each blocked contract with what to do, the validation
    failures inline (`rules`: rules.checks(), for each rule in words), and where to look
    further (`report`: markdown for where the validation report is, see place)."""
    outcomes = audit["outcome"].value_counts().sort_index()
    title = f"# Re-import run `{run_id}`" + (" (dry run: nothing was written)" if dry_run else "")
    lines = [title, "", "| outcome | contracts |", "|---|---:|"]
    lines += [f"| {label(outcome)} | {count} |" for outcome, count in outcomes.items()]
    lines += ["", *_money(audit), ""]
    blocked = blocked_with_reasons(audit)
    if len(blocked):
        # Lists, not tables: Prefect's UI does not wrap a table's cells.
        lines += ["## Blocked contracts and what to do", ""]
        lines += [
            f"- **{_text(row.contract_no)}**: {in_words(row.reasons)}. "
            f"What to do: {what_to_do(row.reasons)}."
            for row in blocked.head(SHOWN_BLOCKED).itertuples()
        ]
        if len(blocked) > SHOWN_BLOCKED:
            lines.append(f"- and {len(blocked) - SHOWN_BLOCKED} more (see the outcome table)")
        lines.append("")
    lines += _errors(audit)
    lines += _failures(audit, rules)
    if report is not None:
        lines.append(f"Validation report: {report}")
    else:
        lines.append("Validation report: none (no contract content new to validation)")
    lines.append(f"Audit log: `{audit_log}`, run id `{run_id}`")
    return "\n".join(lines)


def _delta(audit: pd.DataFrame, outcome: str) -> int:
    rows = audit[audit["outcome"] == outcome]
    return int((rows["amount_after"].fillna(0) - rows["amount_before"].fillna(0)).sum())


def _money(audit: pd.DataFrame) -> list[str]:
    if (audit["outcome"] == Outcome.would_reimport).any():
        would = display(_delta(audit, Outcome.would_reimport), "amount")
        return [f"A re-import would change the contract value by: **{would}**"]
    changed = display(_delta(audit, Outcome.reimported), "amount")
    imported = display(_delta(audit, Outcome.imported), "amount")
    return [
        f"Contract value changed by re-imports: **{changed}**",
        f"Contract value brought in by first imports: {imported}",
    ]


def _errors(audit: pd.DataFrame) -> list[str]:
    """Contracts a run could not write for an unexpected error, with its message."""
    failed = audit[audit["outcome"] == Outcome.failed]
    if failed.empty:
        return []
    lines = ["## Contracts that failed", ""]
    lines += [
        f"- **{_text(r.contract_no)}**: {_text(r.error)}"
        for r in failed.head(SHOWN_BLOCKED).itertuples()
    ]
    return [*lines, ""]


def _failures(audit: pd.DataFrame, rules: pd.DataFrame | None) -> list[str]:
    """The failing rows of quarantined contracts, inline (the report has them all)."""
    invalid = audit[audit["failed_expectations"].map(lambda f: isinstance(f, list) and len(f) > 0)]
    if invalid.empty:
        return []
    failing = [
        (row.contract_no, detail)
        for row in invalid.head(SHOWN_BLOCKED).itertuples()
        for detail in row.failed_expectations[:SHOWN_FAILURES]
    ]
    lines = ["## Why contracts were quarantined (invalid_erp_data)", ""]
    for row in failure_rows(failing, rules).itertuples(index=False):
        where = f"**{_text(row.contract)}**" + (f", item {_text(row.item)}" if row.item else "")
        value = f"{_text(row.field)} {_text(row.value)}" if row.field else "a row"
        lines.append(f"- {where}: {value} breaks the rule: {_text(row.rule)}")
    return [*lines, ""]


# What a run did first, what stopped it next, what it found as it was last.
SENTENCE_ORDER = [
    Outcome.reimported,
    Outcome.would_reimport,
    Outcome.imported,
    Outcome.blocked,
    Outcome.failed,
    Outcome.up_to_date,
]


def outcome_sentence(
    audit: pd.DataFrame, run_id: str, dry_run: bool = False, first_import: bool = False
) -> str:
    """A run's outcome in one sentence, for the last line of its log: 'Re-import run <id>
    completed: 3 re-imported, 1 blocked (job_not_synced), 12 up to date; contract value
    changed by 12,345.00'."""
    counts = audit["outcome"].value_counts()
    said = []
    for outcome in SENTENCE_ORDER:
        if outcome not in counts:
            continue
        text = f"{counts[outcome]:,} {label(outcome)}"
        if outcome == Outcome.blocked:
            text += _blocked_by(audit.loc[audit["outcome"] == outcome, "reasons"])
        said.append(text)
    if first_import:
        brought = _money_of(audit, Outcome.imported)
        kind, money = "Import run", f"contract value brought in {brought}"
    elif dry_run:
        would = _money_of(audit, Outcome.would_reimport)
        kind, money = "Dry run", f"a re-import would change the contract value by {would}"
    else:
        changed = _money_of(audit, Outcome.reimported)
        kind, money = "Re-import run", f"contract value changed by {changed}"
    return f"{kind} {run_id} completed: {', '.join(said) or 'no contracts'}; {money}"


def _money_of(audit: pd.DataFrame, outcome: str) -> str:
    return display(_delta(audit, outcome), "amount")


def _blocked_by(reasons: pd.Series) -> str:
    """' (job_not_synced)', or ' (3 job_not_synced, 1 invalid_erp_data)': the telling codes
    of blocked contracts, most frequent first."""
    codes = _each(reasons, lambda r: " ".join(telling_codes(r))).str.split().explode().dropna()
    counts = codes.value_counts()
    if len(counts) <= 1:
        return "".join(f" ({code})" for code in counts.index)
    return " (" + ", ".join(f"{n:,} {code}" for code, n in counts.items()) + ")"
