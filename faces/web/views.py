"""What the pages show, from the pipeline's frames: plain rows of text for the templates.

Every value a person reads goes through columns.display and every field name through
vocabulary.label; the reason codes stay in data attributes for programs (and tests).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd

from contract_sync.columns import display
from contract_sync.model import Evaluation
from contract_sync.stages.ready import line_preview
from contract_sync.vocabulary import ItemChange, PermissionLevel, Reason, label
from contract_sync_faces.web import words

CHANGE_WORDS = {
    "items_added": ItemChange.added,
    "items_changed": ItemChange.changed,
    "items_removed": ItemChange.removed,
    "header_changes": "header",
}


def pending(row: dict) -> str:
    """'3 changed, 1 added' for a contract's pending changes; '' when none. A contract an
    earlier run wrote in part says so first."""
    counts = ", ".join(f"{row[c]} {w}" for c, w in CHANGE_WORDS.items() if row.get(c))
    partial = row.get("partial")
    return f"{partial} ({counts})" if partial and counts else (partial or counts)


def signed(value: object) -> str:
    """An amount change as a person reads it, with its sign: '+310,628.89', '-26,956.64'."""
    text = display(value, "amount")
    return text if not text or text.startswith("-") or text == "0.00" else "+" + text


@dataclass(frozen=True)
class Rights:
    """Per contract, the projects a person sees it in and the Main Contracts levels that
    the gates check: of the projects that hold it and of its ERP job's project."""

    integrations: str  # the person's level on ERP Integrations
    shown: dict[str, list[str]]  # contract -> the projects that hold it (else its job's)
    reimport: dict[str, dict[str, str]]  # contract -> {project: level} a re-import checks
    first_import: dict[str, dict[str, str]]  # contract -> {project: level} an import checks
    failures: dict[str, list[dict]]  # contract -> its failing rows (invalid ERP data)


def rights_of(found: Evaluation) -> Rights:
    state, contracts = found.state, found.erp.contracts
    synced = contracts[["contract_no", "job_no"]].merge(state.synced_jobs, on="job_no")
    touched = pd.concat(
        [
            state.contracts[["contract_no", "project_id"]].assign(stored=True),
            synced[["contract_no", "project_id"]].assign(stored=False),
        ],
        ignore_index=True,
    )
    touched = (
        touched.merge(state.projects[["project_id", "project"]], on="project_id")
        .merge(state.main_contracts_levels, on="project_id", how="left")
        .fillna({"level": PermissionLevel.none})
        .sort_values(["contract_no", "project"])
    )

    def levels(rows: pd.DataFrame) -> dict[str, dict[str, str]]:
        return {
            no: dict(zip(group["project"], group["level"], strict=True))
            for no, group in rows.groupby("contract_no")
        }

    held = touched[touched["stored"]]
    shown = {no: list(dict.fromkeys(g["project"])) for no, g in held.groupby("contract_no")}
    for no, group in touched[~touched["stored"]].groupby("contract_no"):
        shown.setdefault(no, list(dict.fromkeys(group["project"])))
    failures = found.validation.failures
    return Rights(
        integrations=str(state.erp_integrations_level),
        shown=shown,
        reimport=levels(touched.drop_duplicates(["contract_no", "project"])),
        first_import=levels(touched[~touched["stored"]]),
        failures=dict(zip(failures["contract_no"], failures["failed_expectations"], strict=True)),
    )


def refusal(row: dict, rights: Rights, kind: str) -> dict:
    """Why this person may not re-import (import) a contract of the ready list, in words:
    its reason codes, the rights sentence (`denied` when it applies), the other reasons and
    what to do about them."""
    number = row["contract_no"]
    reasons = (row["reasons"] if kind == "reimport" else row.get("import_reasons")) or ""
    levels = (rights.reimport if kind == "reimport" else rights.first_import).get(number, {})
    projects = rights.shown.get(number) or ["(none)"]
    said = {
        Reason.permission_denied: words.rights_refusal(kind, rights.integrations, levels),
        Reason.contract_in_multiple_projects: f"it is attached to projects {words._and(projects)}",
        Reason.invalid_erp_data: "its ERP data fails validation: "
        + words.failing_values(rights.failures.get(number, [])),
    }
    parts = words.refusal_parts(reasons, kind, said)
    others = [(what, to_do) for code, what, to_do in parts if code != Reason.permission_denied]
    return {
        "reasons": reasons,
        "denied": Reason.permission_denied in reasons.split(),
        "rights": said[Reason.permission_denied],
        "levels": levels,
        "why": [what for what, _ in others],
        "to_do": list(dict.fromkeys(d for _, d in others if d not in ("", "nothing"))),
    }


def kind_of(row: dict) -> str:
    """What the button of a ready list's row does: re-import an imported contract, or
    import it for the first time."""
    return "reimport" if row["imported"] else "import"


def ready_rows(table: pd.DataFrame, rights: Rights) -> list[dict]:
    """One row per contract of the ready list, as the page shows it."""
    rows = []
    for row in table.astype(object).where(table.notna(), None).to_dict("records"):
        kind = kind_of(row)
        imported = kind == "reimport"
        projects = rights.shown.get(row["contract_no"], [])
        rows.append(
            {
                "contract_no": row["contract_no"],
                "title": row["title"] or "",
                "projects": projects,
                "project": ", ".join(projects),
                "status": "Imported" if imported else "Not imported",
                "imported": imported,
                "kind": kind,
                "button": words.BUTTON_NAMES[kind],
                "available": bool(row["reimport_available" if imported else "import_available"]),
                **refusal(row, rights, kind),
                "pending": pending(row),
                **{c: int(row[c] or 0) for c in CHANGE_WORDS},
                "amount_before": display(row["amount_before"], "amount"),
                "amount_after": display(row["amount_after"], "amount"),
                "amount_delta": signed(row["amount_delta"]) if imported else "",
            }
        )
    return rows


def said_once(rows: list[dict], rights: Rights) -> str:
    """The rights refusal, said once above a list when every contract's button is refused
    for rights; '' otherwise (each row then says its own)."""
    if not rows or not all(r["denied"] for r in rows):
        return ""
    if len({r["rights"] for r in rows}) == 1:
        return rows[0]["rights"]
    levels = [level for r in rows for level in r["levels"].values()]
    return words.rights_refusal_everywhere(rights.integrations, levels)


def _values(text: object) -> list[tuple[str, str]]:
    """An added or removed item's values (the audit's JSON object of exact text) as
    (label, value) pairs; a text that is no such object, as it is."""
    try:
        found = json.loads(str(text))
    except ValueError:
        return [("", str(text))]
    if not isinstance(found, dict):
        return [("", str(text))]
    return [(label(field), display(value, field)) for field, value in found.items()]


def change_row(change: dict) -> dict:
    """A field change (or an added or removed item) as a person reads it."""
    field = change.get("field") or ""
    presence = not field and change["change"] in (ItemChange.added, ItemChange.removed)

    def side(value: object) -> str | list[tuple[str, str]]:
        if value is None or value == "":
            return ""
        return _values(value) if presence else display(value, field)

    return {
        "item_no": change.get("item_no") or "",
        "change": str(change["change"]),
        "field": label(field) if field else ("the whole item" if presence else ""),
        "before": side(change.get("before")),
        "after": side(change.get("after")),
        "overwritten": bool(change.get("overwritten")),
        "note": change.get("note") or "",
    }


def preview_rows(lines: pd.DataFrame) -> list[dict]:
    """A contract's line preview (stages.ready.line_preview) as a person reads it: its
    added and removed items summarised there already, its fields through display."""
    rows = []
    for line in lines.to_dict("records"):
        field = line["field"]
        if line["change"] == ItemChange.kept:  # the store's value stays after the re-import
            line["after"] = line["before"]
        rows.append(
            {
                "item_no": line["item_no"],
                "change": line["change"],
                "field": label(field),
                "before": display(line["before"], field) if field else line["before"],
                "after": display(line["after"], field) if field else line["after"],
                "note": line["note"],
                "store_edit_kept": line["change"] == ItemChange.kept,
                "overwritten": "overwritten" in line["note"],
            }
        )
    return rows


def effect(row: dict, found: Evaluation, kind: str) -> dict:
    """What a re-import (import) of one contract of the ready list would do, as its
    confirmation page says it: item counts, the amount before and after, the store edits it
    overwrites or keeps, and each change line by line."""
    number = row["contract_no"]
    lines = []
    if kind == "reimport" and found.comparison is not None:
        lines = preview_rows(line_preview(number, found.comparison, found.state))
    counts = {c: int(row[c] or 0) for c in CHANGE_WORDS}
    if kind == "import":
        counts = {"items": int(found.item_counts.get(number, 0))}
    return {
        "counts": counts,
        "amount_before": display(row["amount_before"], "amount") if kind == "reimport" else "",
        "amount_after": display(row["amount_after"], "amount"),
        "amount_delta": signed(row["amount_delta"]) if kind == "reimport" else "",
        "lines": lines,
        "overwritten": [line for line in lines if line["overwritten"]],
        "store_edits_kept": [line for line in lines if line["store_edit_kept"]],
    }


def effect_key(shown: dict, kind: str, company: int, row: dict) -> str:
    """A digest of what a confirmation page showed: a click confirms that effect only, of
    that kind, on that contract, into that project."""
    what = {"kind": kind, "company": company, "contract": row["contract_no"]}
    text = json.dumps({**shown, **what, "project": row["project"]}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def audit_rows(rows: pd.DataFrame, companies: dict[int, str] | None = None) -> list[dict]:
    """Audit records for a page: when, run, who, company, outcome, why, amounts."""
    shown = []
    companies = companies or {}
    for row in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        before, after = row["amount_before"], row["amount_after"]
        change = "" if before is None or after is None else signed(int(after) - int(before))
        shown.append(
            {
                "audit_id": row["audit_id"],
                "recorded_at": f"{row['recorded_at']:%Y-%m-%d %H:%M:%S} UTC",
                "run_id": row["run_id"],
                "trigger": words.TRIGGER_WORDS.get(row["trigger"], row["trigger"]),
                "actor": row["actor"],
                "erp_company": row["erp_company"],
                "company": companies.get(row["erp_company"], f"company {row['erp_company']}"),
                "contract_no": row["contract_no"],
                "project": row["project"] or "",
                "outcome_code": row["outcome"],
                "outcome": words.outcome_words(row["outcome"])
                + (" (dry run)" if row["dry_run"] else ""),
                "why": words.reasons_said(row["reasons"] or ""),
                "item_changes": pending(row),
                "error": row["error"] or "",
                "amount_before": display(before, "amount"),
                "amount_after": display(after, "amount"),
                "amount_change": change,
            }
        )
    return shown


def several_companies(rows: list[dict]) -> bool:
    return len({r["erp_company"] for r in rows}) > 1


def changes_by_row(changes: pd.DataFrame) -> dict[int, list[dict]]:
    """An audit row's field changes, as a person reads them, by its id."""
    grouped: dict[int, list[dict]] = {}
    for change in changes.to_dict("records"):
        grouped.setdefault(change["audit_id"], []).append(change_row(change))
    return grouped


def blocker_rows(blockers: pd.DataFrame) -> list[dict]:
    """Recurring blockers: contract, reason in words, how often, since when, still so."""
    return [
        {
            "contract_no": row["contract_no"],
            "why": words.reason_words(row["reason"], "reimport")[0],
            "what_to_do": words.reason_words(row["reason"], "reimport")[1],
            "times": int(row["times"]),
            "since": f"{row['since']:%Y-%m-%d %H:%M}",
            "last_seen": f"{row['last_seen']:%Y-%m-%d %H:%M}",
            "still_blocked": "yes" if row["still_blocked"] else "no",
        }
        for row in blockers.to_dict("records")
    ]
