"""What the pages show, from the pipeline's frames: plain rows of text for the templates."""

from __future__ import annotations

import pandas as pd

from contract_sync.columns import display
from contract_sync.vocabulary import ItemChange, in_words, what_to_do

CHANGE_WORDS = {
    "items_added": ItemChange.added,
    "items_changed": ItemChange.changed,
    "items_removed": ItemChange.removed,
    "header_changes": "header",
}


def pending(row: dict) -> str:
    """'3 changed, 1 added' for a contract's pending changes; '' when none."""
    return ", ".join(f"{row[c]} {w}" for c, w in CHANGE_WORDS.items() if row.get(c))


def ready_rows(table: pd.DataFrame) -> list[dict]:
    """One row per contract of the ready list, as the page shows it."""
    rows = []
    for row in table.astype(object).where(table.notna(), None).to_dict("records"):
        imported = bool(row["imported"])
        reasons = row["reasons"] if imported else row.get("import_reasons") or ""
        rows.append(
            {
                "contract_no": row["contract_no"],
                "title": row["title"] or "",
                "project": row["project"] or "",
                "status": "Imported" if imported else "Not imported",
                "imported": imported,
                "available": bool(row["reimport_available" if imported else "import_available"]),
                "why": in_words(reasons, first_import=not imported) if reasons else "",
                "what_to_do": what_to_do(reasons, first_import=not imported) if reasons else "",
                "pending": pending(row),
                "amount_after": display(row["amount_after"], "amount"),
                "amount_delta": display(row["amount_delta"], "amount") if imported else "",
            }
        )
    return rows


def audit_rows(rows: pd.DataFrame) -> list[dict]:
    """Audit records for a page: when, run, who, outcome, why, amounts."""
    shown = []
    for row in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        shown.append(
            {
                "audit_id": row["audit_id"],
                "recorded_at": f"{row['recorded_at']:%Y-%m-%d %H:%M:%S} UTC",
                "run_id": row["run_id"],
                "trigger": row["trigger"],
                "actor": row["actor"],
                "contract_no": row["contract_no"],
                "project": row["project"] or "",
                "outcome": row["outcome"] + (" (dry run)" if row["dry_run"] else ""),
                "why": in_words(row["reasons"]) if row["reasons"] else "",
                "error": row["error"] or "",
                "amount_before": display(row["amount_before"], "amount"),
                "amount_after": display(row["amount_after"], "amount"),
            }
        )
    return shown


def changes_by_row(changes: pd.DataFrame) -> dict[int, list[dict]]:
    """An audit row's field changes, by its id."""
    grouped: dict[int, list[dict]] = {}
    for change in changes.to_dict("records"):
        grouped.setdefault(change["audit_id"], []).append(
            {k: "" if change[k] is None else change[k] for k in change if k != "audit_id"}
        )
    return grouped


def blocker_rows(blockers: pd.DataFrame) -> list[dict]:
    """Recurring blockers: contract, reason in words, how often, since when, still so."""
    return [
        {
            "contract_no": row["contract_no"],
            "why": in_words(row["reason"]),
            "what_to_do": what_to_do(row["reason"]),
            "times": int(row["times"]),
            "since": f"{row['since']:%Y-%m-%d %H:%M}",
            "last_seen": f"{row['last_seen']:%Y-%m-%d %H:%M}",
            "still_blocked": "yes" if row["still_blocked"] else "no",
        }
        for row in blockers.to_dict("records")
    ]
