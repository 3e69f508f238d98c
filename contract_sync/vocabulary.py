"""The domain vocabulary, in one place: outcomes, reasons, conflict policies, item changes,
directory actions, permission levels, statuses, the ERP capability matrix and Vista's scales.

Every other module names these members; none spells the codes as strings of its own.
The enums are StrEnums, so a member is also the plain text stored in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """What a run did with one contract (one audit row each)."""

    reimported = "reimported"
    would_reimport = "would_reimport"  # a dry run's re-import
    imported = "imported"  # a first import
    up_to_date = "up_to_date"  # nothing to re-import (reason no_updates and no other)
    blocked = "blocked"  # any other reason
    failed = "failed"  # an unexpected error, with its message
    undone = "undone"  # an undo run restored it to its state before the run undone


# Outcomes that wrote the store; "contract value changed" sums them.
APPLIED = (Outcome.reimported, Outcome.imported, Outcome.undone)
# Outcomes whose contract an undo can restore: what a re-import (or an undo) wrote over.
UNDOABLE = (Outcome.reimported, Outcome.undone)


class Reason(StrEnum):
    """Why a contract was not (re-)imported; an audit row lists every reason that holds."""

    unknown_user = "unknown_user"
    permission_denied = "permission_denied"
    integration_not_configured = "integration_not_configured"
    integration_unsupported = "integration_unsupported"
    not_imported = "not_imported"
    already_imported = "already_imported"
    erp_contract_pending = "erp_contract_pending"  # ERP status pending (0): not yet begun
    erp_contract_closed = "erp_contract_closed"  # ERP status hard close (3): finished
    contract_unapproved = "contract_unapproved"
    job_not_synced = "job_not_synced"
    contract_in_multiple_projects = "contract_in_multiple_projects"
    invalid_erp_data = "invalid_erp_data"
    no_updates = "no_updates"
    conflict = "conflict"
    stale = "stale"
    locked = "locked"
    # Spectrum in Procore: no re-import once the prime contract has approved change orders.
    approved_change_orders = "approved_change_orders"
    rate_limited = "rate_limited"  # Procore's hourly request budget would not hold its writes
    # An undo: what the run undone wrote was changed again since (a later run, a person).
    changed_since = "changed_since"


# Each reason in plain words, and what to do about it: for the people who read a run.
REASON_WORDS: dict[str, tuple[str, str]] = {
    Reason.unknown_user: (
        "the acting user is not a user of the project store",
        "act as a login of the directory file",
    ),
    Reason.permission_denied: (
        "the acting user lacks the rights (Admin on ERP Integrations and on the project's "
        "Main Contracts)",
        "ask a company admin to grant them in the directory file",
    ),
    Reason.integration_not_configured: (
        "the company's ERP integration is not configured",
        "configure it in the directory file",
    ),
    Reason.integration_unsupported: (
        "this ERP has no main contracts",
        "nothing: contracts of this ERP are not synced",
    ),
    Reason.not_imported: ("not in the project store yet", "import it first"),
    Reason.already_imported: ("already in the project store", "re-import it instead"),
    Reason.erp_contract_pending: (
        "the ERP contract is pending (not yet begun) and has changes",
        "nothing yet: its changes are re-imported once the contract is open in the ERP",
    ),
    Reason.erp_contract_closed: (
        "the ERP contract is hard-closed (finished) and has changes",
        "reopen it in the ERP if the change is meant, then re-import; a closed contract "
        "is not re-imported",
    ),
    Reason.contract_unapproved: (
        "the store contract is not Approved",
        "approve it in the project, then re-import",
    ),
    Reason.job_not_synced: (
        "its ERP job is not synced to a project",
        "link the job to its project in the directory file",
    ),
    Reason.contract_in_multiple_projects: (
        "it is attached to two or more projects",
        "keep it in one project only",
    ),
    Reason.invalid_erp_data: (
        "its ERP data fails validation",
        "fix in the ERP the rows the validation report lists",
    ),
    Reason.no_updates: ("nothing changed since its last import", "nothing"),
    Reason.conflict: (
        "a field changed both in the ERP and in the store (policy block)",
        "revert the store edit, or re-import with policy erp_wins",
    ),
    Reason.stale: (
        "the store contract or its last-import baseline changed since this run compared it",
        "run again",
    ),
    Reason.locked: ("another run was writing this contract", "run again"),
    Reason.approved_change_orders: (
        "the contract has approved prime change orders in Procore, and a Spectrum contract "
        "is not re-imported once it has",
        "enter the ERP's change in Procore as a change order",
    ),
    Reason.rate_limited: (
        "Procore's hourly request budget would not hold this contract's writes",
        "nothing: the next run after the budget resets writes it",
    ),
    Reason.changed_since: (
        "what the run to undo wrote was changed again since (by a later run or in the store)",
        "leave it, or undo with --overwrite to put back the values from before that run",
    ),
}


def telling_codes(reasons: str) -> list[str]:
    """Space-separated reason codes; beside a reason that blocks, "nothing changed" is left
    out (it says nothing about what to do)."""
    codes = reasons.split()
    return [c for c in codes if c != Reason.no_updates] if len(codes) > 1 else codes


# Where a first import's refusal reads otherwise than a re-import's: its own rights.
FIRST_IMPORT_WORDS: dict[str, tuple[str, str]] = {
    Reason.permission_denied: (
        "the acting user lacks the rights of an import (Standard or Admin on ERP Integrations "
        "and Admin on the project's Main Contracts)",
        REASON_WORDS[Reason.permission_denied][1],  # the same remedy
    ),
}


def _words(first_import: bool) -> dict[str, tuple[str, str]]:
    return REASON_WORDS | FIRST_IMPORT_WORDS if first_import else REASON_WORDS


def in_words(reasons: str, *, first_import: bool = False) -> str:
    """Reason codes as plain words, each with its code (those of a first import's gates
    with `first_import`)."""
    words = _words(first_import)
    return "; ".join(f"{words.get(c, (c,))[0]} ({c})" for c in telling_codes(reasons))


def what_to_do(reasons: str, *, first_import: bool = False) -> str:
    words = _words(first_import)
    return "; ".join(
        dict.fromkeys(words.get(c, ("", "see the reason"))[1] for c in telling_codes(reasons))
    )


# Each reason in a few words (at most 22 characters), for a table cell where REASON_WORDS
# does not fit (a Prefect table artifact, whose cells do not wrap); the run's summary beside
# it says each in full, with what to do.
REASON_LABELS: dict[str, str] = {
    Reason.unknown_user: "unknown user",
    Reason.permission_denied: "no permission",
    Reason.integration_not_configured: "no ERP integration",
    Reason.integration_unsupported: "ERP has no contracts",
    Reason.not_imported: "not imported yet",
    Reason.already_imported: "already imported",
    Reason.erp_contract_pending: "pending in ERP",
    Reason.erp_contract_closed: "hard-closed in ERP",
    Reason.contract_unapproved: "not Approved in store",
    Reason.job_not_synced: "ERP job not synced",
    Reason.contract_in_multiple_projects: "in several projects",
    Reason.invalid_erp_data: "invalid ERP data",
    Reason.no_updates: "nothing changed",
    Reason.conflict: "edited on both sides",
    Reason.stale: "changed during run",
    Reason.locked: "locked by another run",
    Reason.approved_change_orders: "has change orders",
    Reason.rate_limited: "deferred (rate limit)",
    Reason.changed_since: "changed since",
}


def in_few_words(reasons: str) -> str:
    """Reason codes in a few words each (REASON_LABELS), without their codes."""
    return ", ".join(REASON_LABELS.get(c, c) for c in telling_codes(reasons))


# The gates of a re-import and of a first import, in the order their reasons are listed.
REIMPORT_GATES = [
    Reason.unknown_user,
    Reason.permission_denied,
    Reason.integration_not_configured,
    Reason.integration_unsupported,
    Reason.not_imported,
    Reason.erp_contract_pending,
    Reason.erp_contract_closed,
    Reason.contract_unapproved,
    Reason.job_not_synced,
    Reason.contract_in_multiple_projects,
    Reason.approved_change_orders,
    Reason.invalid_erp_data,
    Reason.no_updates,
    Reason.conflict,
]
# An undo's gates: a re-import's, where a change since the run undone stands for a conflict.
UNDO_GATES = [Reason.changed_since if g == Reason.conflict else g for g in REIMPORT_GATES]
IMPORT_GATES = [
    Reason.unknown_user,
    Reason.permission_denied,
    Reason.integration_not_configured,
    Reason.integration_unsupported,
    Reason.already_imported,
    Reason.job_not_synced,
    Reason.invalid_erp_data,
]

# The reasons text of an up-to-date contract. A year of hourly runs records millions of
# them, so reports count these rows and list only the others (unless asked to include them).
UNCHANGED_REASONS = str(Reason.no_updates)


class ConflictPolicy(StrEnum):
    """A field changed on both sides since the last import."""

    erp_wins = "erp_wins"  # written, recorded as an overwritten store edit
    block = "block"  # the contract is blocked with reason `conflict`


class ItemChange(StrEnum):
    """What a re-import does to an item, in the order compare codes them (a later one wins:
    an item the ERP removed is removed); and `kept`, a field only the store changed, left
    as it is. A compare's change rows are `changed` and `kept` fields (of the header too),
    `added` and `removed` items; the audit records all but the kept ones."""

    unchanged = "unchanged"
    renumbered = "renumbered"  # only its position moved (an item before it came or went)
    changed = "changed"
    added = "added"
    removed = "removed"
    kept = "kept"


class DirectoryAction(StrEnum):
    """What applying the directory file does to one entry (a company, its integration, a
    project, a job link, a user, a permission), as the change log records it. The words of
    ItemChange, but of another set: an entry is never unchanged, renumbered or kept."""

    added = "added"
    changed = "changed"
    removed = "removed"


class PermissionLevel(StrEnum):
    none = "none"
    read_only = "read_only"
    standard = "standard"
    admin = "admin"


PERMISSION_LEVELS = list(PermissionLevel)  # lowest first
# Who may re-import (Admin on both tools) and who may import for the first time.
REIMPORTERS = {PermissionLevel.admin}
IMPORTERS = {PermissionLevel.standard, PermissionLevel.admin}


class Tool(StrEnum):
    erp_integrations = "erp_integrations"  # company level
    main_contracts = "main_contracts"  # per project


class RunStatus(StrEnum):
    running = "running"
    completed = "completed"
    failed = "failed"
    abandoned = "abandoned"  # ended without a word: killed, found so by a later run or by hand


class WebEvent(StrEnum):
    """What web_events records."""

    signed_in = "signed_in"
    sign_in_failed = "sign_in_failed"  # a wrong login or password
    sign_in_throttled = "sign_in_throttled"  # refused unread: too many failures just before
    signed_out = "signed_out"
    refused = "refused"  # an action refused: no session, bad CSRF token, no right, gates
    run_started = "run_started"  # a Re-Import or Import clicked
    password_set = "password_set"


class Trigger(StrEnum):
    scheduled = "scheduled"
    manual = "manual"  # a deployment run started by hand (UI or API)
    cli = "cli"
    undo = "undo"  # contract-sync undo, or the Undo of a run's web page


class ContractStatus(StrEnum):
    """A store main contract's status; only an Approved contract may be re-imported."""

    draft = "Draft"
    out_for_bid = "Out For Bid"
    out_for_signature = "Out For Signature"
    approved = "Approved"
    complete = "Complete"
    terminated = "Terminated"


class ErpStatus(StrEnum):
    """An ERP contract's status."""

    pending = "pending"
    open = "open"
    soft_close = "soft_close"
    hard_close = "hard_close"


# Vista's JCCM.ContractStatus codes, and the store status a first import gives each.
ERP_STATUSES = {
    0: ErpStatus.pending,
    1: ErpStatus.open,
    2: ErpStatus.soft_close,
    3: ErpStatus.hard_close,
}
IMPORTED_STATUS = {
    ErpStatus.pending: ContractStatus.draft,
    ErpStatus.open: ContractStatus.approved,
    ErpStatus.soft_close: ContractStatus.approved,
    ErpStatus.hard_close: ContractStatus.complete,
}


@dataclass(frozen=True)
class ErpType:
    label: str
    main_contracts: bool  # syncs main contracts at all
    note: str = ""


# The ERP capability matrix: the key is what a company's integration records.
# Procore's Spectrum rule: no re-import of a prime contract with approved change orders.
SPECTRUM = "viewpoint_spectrum"

ERP_TYPES = {
    "sage_300_cre": ErpType("Sage 300 CRE", True),
    "viewpoint_vista": ErpType("Viewpoint Vista", True),
    "cmic": ErpType("CMiC", True),
    SPECTRUM: ErpType(
        "Viewpoint Spectrum", True, "one contract per project, no unit-price contracts"
    ),
    "quickbooks_online": ErpType("QuickBooks Online", False),
    "quickbooks_desktop": ErpType("QuickBooks Desktop", False),
}


def syncs_main_contracts(erp_type: str | None) -> bool:
    known = ERP_TYPES.get(erp_type or "")
    return bool(known and known.main_contracts)


# Exact numbers travel as scaled integers at Vista's scales: amounts in cents, quantities
# in thousandths, unit costs in 1/100000, retainage as percent in hundredths.
AMOUNT_SCALE = 2
QUANTITY_SCALE = 3
UNIT_COST_SCALE = 5
PERCENT_SCALE = 2
SCALES = {
    "retainage_pct": PERCENT_SCALE,
    "original_amount": AMOUNT_SCALE,
    "amount": AMOUNT_SCALE,
    "quantity": QUANTITY_SCALE,
    "unit_cost": UNIT_COST_SCALE,
}
# Vista keeps retainage as a fraction at scale 4 (0.1000): the same integer as 10.00 percent.
RETAINAGE_FRACTION_SCALE = 4
LUMP_SUM_UOM = "LS"

# The words a person reads for the codes a program reads (CSV and JSON keep the codes).
FIELD_LABELS = {
    "contract_no": "contract",
    "item_no": "item",
    "erp_company": "company",
    "job_no": "job",
    "title": "title",
    "customer": "customer",
    "retainage_pct": "retainage %",
    "start_date": "start date",
    "projected_completion": "projected completion",
    "original_amount": "contract amount",
    "erp_status": "ERP status",
    "position": "position",
    "description": "description",
    "cost_code": "cost code",
    "line_item_type": "item type",
    "uom": "unit",
    "quantity": "quantity",
    "unit_cost": "unit cost",
    "amount": "amount",
    "tax_code": "tax code",
    # The ERP's exact text of a code, and the values validation derives to compare.
    "contract_code": "contract number as the ERP writes it",
    "item_code": "item number as the ERP writes it",
    "extended_amount": "quantity × unit cost",
    "items_total": "the sum of its item amounts",
}
OUTCOME_LABELS = {
    Outcome.reimported: "re-imported",
    Outcome.would_reimport: "would re-import",
    Outcome.imported: "imported",
    Outcome.up_to_date: "up to date",
    Outcome.blocked: "blocked",
    Outcome.failed: "failed",
    Outcome.undone: "undone",
}
ERP_STATUS_LABELS = {
    ErpStatus.pending: "pending",
    ErpStatus.open: "open",
    ErpStatus.soft_close: "soft-closed",
    ErpStatus.hard_close: "hard-closed",
}


def label(code: object) -> str:
    """A field name or an outcome as a person reads it (an unknown code as it is)."""
    text = "" if code is None else str(code)
    return FIELD_LABELS.get(text) or OUTCOME_LABELS.get(text) or text


# Colours of the outcomes wherever a person sees them (terminal, HTML, charts).
OUTCOME_COLOURS = {
    Outcome.reimported: "#2e7d32",
    Outcome.imported: "#66bb6a",
    Outcome.would_reimport: "#0288d1",
    Outcome.up_to_date: "#90a4ae",
    Outcome.blocked: "#f9a825",
    Outcome.failed: "#c62828",
    Outcome.undone: "#6a1b9a",
}
