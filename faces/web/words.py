"""The web pages' words: the reasons and rights said to the signed-in person ("you"), who
asks a company admin for what they cannot change themselves, and a run in one sentence.

The codes stay in the pages' data attributes; what a person reads comes from here, from
contract_sync.vocabulary (labels, REASON_WORDS) and contract_sync.columns.display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contract_sync.columns import display
from contract_sync.vocabulary import (
    APPLIED,
    IMPORTERS,
    OUTCOME_LABELS,
    REASON_WORDS,
    REIMPORTERS,
    Outcome,
    PermissionLevel,
    Reason,
    RunStatus,
    Trigger,
    label,
    telling_codes,
)

KIND_NAMES = {"reimport": "re-import", "import": "import", Trigger.undo: "undo"}
DONE_WORDS = {
    "reimport": OUTCOME_LABELS[Outcome.reimported],
    "import": OUTCOME_LABELS[Outcome.imported],
    Trigger.undo: OUTCOME_LABELS[Outcome.undone],
}
BUTTON_NAMES = {"reimport": "Re-Import", "import": "Import"}

# A right's level as the directory and the project store's permission templates name it.
LEVEL_NAMES = {
    PermissionLevel.none: "None",
    PermissionLevel.read_only: "Read Only",
    PermissionLevel.standard: "Standard",
    PermissionLevel.admin: "Admin",
}
# What each kind needs on ERP Integrations (Admin on the project's Main Contracts for both).
NEEDED_ON_INTEGRATIONS = {"reimport": REIMPORTERS, "import": IMPORTERS}
RULES = {
    "reimport": "a re-import needs Admin on ERP Integrations and Admin on the project's "
    "Main Contracts",
    "import": "an import needs Standard or Admin on ERP Integrations and Admin on the "
    "project's Main Contracts",
}
ASK = "ask a company admin"

# Where the web says a reason otherwise than the run's report: to "you", with whom to ask.
# (The rights a contract's list row lacks are said by rights_refusal, from your levels.)
WEB_REASON_WORDS: dict[str, tuple[str, str]] = {
    Reason.unknown_user: ("its user is not a user of the project store", f"{ASK} to add them"),
    Reason.permission_denied: (
        "its user lacks the rights (Admin on ERP Integrations and on the project's Main Contracts)",
        f"{ASK} for them",
    ),
    Reason.integration_not_configured: (
        "the company's ERP integration is not configured",
        f"{ASK} to configure it",
    ),
    Reason.job_not_synced: (
        "its ERP job is not linked to a project",
        f"{ASK} to link the job to its project",
    ),
    Reason.invalid_erp_data: (
        "its ERP data fails validation",
        "correct these values in the ERP; the next run validates them again",
    ),
    Reason.conflict: (
        "a field changed both in the ERP and in the store",
        "revert the store edit, or ask for a re-import that lets the ERP's value win",
    ),
}
TRIGGER_WORDS = {
    Trigger.scheduled: "on its schedule",
    Trigger.manual: "by hand",
    Trigger.cli: "command line",
    Trigger.undo: "an undo",
}
# Labels of the values a validation failure compares besides the fields of FIELD_LABELS.
CHECKED_VALUES = {"extended_amount": "quantity × unit cost", "items_total": "sum of the items"}


def level_name(level: object) -> str:
    return LEVEL_NAMES.get(str(level), str(level))


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _on_projects(levels: Mapping[str, str]) -> list[str]:
    """'Admin on this project's Main Contracts', or per level the projects it holds on."""
    if len(levels) == 1:
        [level] = levels.values()
        return [f"{level_name(level)} on this project's Main Contracts"]
    by_level: dict[str, list[str]] = {}
    for project, level in sorted(levels.items()):
        by_level.setdefault(level_name(level), []).append(project)
    return [
        f"{name} on the Main Contracts of project{'s' if len(ps) > 1 else ''} {_and(ps)}"
        for name, ps in by_level.items()
    ]


def rights_refusal(kind: str, integrations: str, projects: Mapping[str, str]) -> str:
    """Which right this person lacks for a re-import (import) of one contract: their levels
    on ERP Integrations and on the Main Contracts of the `projects` it touches (number ->
    level), the rule, and what to ask a company admin for."""
    have = [f"{level_name(integrations)} on ERP Integrations"]
    have += _on_projects(projects) if projects else []
    missing = []
    if integrations not in NEEDED_ON_INTEGRATIONS[kind]:
        least = "Admin" if kind == "reimport" else "Standard"
        missing.append(f"{least} on ERP Integrations")
    lacking = {p: level for p, level in projects.items() if level != PermissionLevel.admin}
    if lacking:
        where = (
            "this project's Main Contracts"
            if len(projects) == 1
            else f"the Main Contracts of project{'s' if len(lacking) > 1 else ''} "
            + _and(sorted(lacking))
        )
        missing.append(f"Admin on {where}")
    asked = f"; {ASK} for {_and(missing)}" if missing else ""
    return f"You have {_and(have)}; {RULES[kind]}{asked}."


def rights_refusal_everywhere(integrations: str, project_levels: Iterable[str]) -> str:
    """The refusal said once above a list where it holds for every contract."""
    levels = sorted({level_name(v) for v in project_levels})
    have = f"You have {level_name(integrations)} on ERP Integrations"
    if levels:
        have += f" and {' or '.join(levels)} on the Main Contracts of these projects"
    return (
        f"{have}, so you cannot import or re-import any of these contracts: "
        f"{RULES['reimport']}; {RULES['import']}. To be able to, {ASK} for these rights."
    )


def reason_words(code: str, kind: str) -> tuple[str, str]:
    """(what, what to do) for a reason of a re-import (import) refused on the web."""
    if code in WEB_REASON_WORDS:
        return WEB_REASON_WORDS[code]
    return REASON_WORDS.get(code, (code, ""))


def failing_values(failures: list[dict]) -> str:
    """'item 00010: amount 37.51, quantity × unit cost 37.50' for a contract's failing rows."""
    said = []
    for failure in failures:
        values = ", ".join(
            f"{CHECKED_VALUES.get(field) or label(field)} "
            f"{display(value, 'amount' if field in CHECKED_VALUES else field)}"
            for field, value in (failure.get("values") or {}).items()
        )
        where = f"item {failure['item_no']}" if failure.get("item_no") else "the contract"
        said.append(f"{where}: {values}" if values else where)
    return "; ".join(dict.fromkeys(said))


def refusal_parts(reasons: str, kind: str, said: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Each telling reason as (code, what, what to do); `said` holds this contract's own
    words for a reason (its rights, its projects, its failing values), replacing the what."""
    codes = reasons.split()
    rights = [Reason.permission_denied] if Reason.permission_denied in codes else []
    # Beside your rights, "nothing changed" is still worth saying: it is about the contract.
    others = telling_codes(" ".join(c for c in codes if c != Reason.permission_denied))
    parts = []
    for code in rights + others:
        what, to_do = reason_words(code, kind)
        parts.append((code, said.get(code, what), to_do))
    return parts


def reasons_said(reasons: str) -> str:
    """A recorded run's reasons, in words ("nothing changed" only when it is the only one)."""
    return "; ".join(reason_words(code, "reimport")[0] for code in telling_codes(reasons))


def refusal_text(kind: str, contract_no: str, why: Mapping) -> str:
    """A refused click in a few sentences: the rights missing, the other reasons, what to do
    (`why` as views.refusal gives it)."""
    said = [f"You cannot {KIND_NAMES[kind]} {contract_no}."]
    if why["denied"]:
        said.append(why["rights"])
    if why["why"]:
        text = "; ".join(why["why"])
        said.append(text[0].upper() + text[1:] + ".")
    if why["to_do"]:
        said.append("To do: " + "; ".join(why["to_do"]) + ".")
    return " ".join(said)


def outcome_words(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome)


def run_outcome(kind: str, rows: list[dict], status: str | None) -> str:
    """The run's end in one sentence, from its audit rows (as views.audit_rows shows them)."""
    if status == RunStatus.failed:
        return "The run failed before it finished: see its state above."
    if not rows:
        return "The run ended without recording a contract."
    if len(rows) == 1:
        row = rows[0]
        what = f"Contract {row['contract_no']}"
        if row["outcome_code"] in APPLIED:
            amounts = f"the contract amount is {row['amount_after']}"
            if row["amount_before"]:
                amounts = (
                    f"the contract amount went from {row['amount_before']} to "
                    f"{row['amount_after']} ({row['amount_change']})"
                )
            changed = f" ({row['item_changes']})" if row["item_changes"] else ""
            return f"{what} was {outcome_words(row['outcome_code'])}{changed}: {amounts}."
        if row["outcome_code"] == Outcome.up_to_date:
            return f"{what} was already up to date: nothing was written."
        why = f": {row['why']}" if row["why"] else ""
        return f"{what} was not {DONE_WORDS.get(kind, kind)}{why}. Nothing was written."
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return f"{len(rows)} contracts: " + ", ".join(f"{n} {o}" for o, n in counts.items()) + "."
