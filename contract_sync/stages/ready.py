"""The "ERP Main Contracts Ready to be Imported" list, and a contract's line-level preview."""

from __future__ import annotations

import pandas as pd

from contract_sync.columns import CHANGE_COUNTS, display
from contract_sync.model import Comparison, StoreState
from contract_sync.vocabulary import ItemChange

READY_COLUMNS = [
    "contract_no",
    "title",
    "project",
    "imported",
    "import_available",
    "reimport_available",
    "reasons",
    *CHANGE_COUNTS,
    "amount_before",
    "amount_after",
    "amount_delta",
    "partial",
]


def ready_list(
    erp_contracts: pd.DataFrame,
    state: StoreState,
    decisions: pd.DataFrame,
    comparison: Comparison,
    import_decisions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every ERP contract: its project, whether imported, whether this user may import it
    (`import_decisions`: the first-import gates) or re-import it now (and every reason if
    not), and what a re-import would change."""
    number = erp_contracts["contract_no"]
    stored = state.single_contracts().set_index("contract_no")
    summary = comparison.contracts.set_index("contract_no")
    synced = erp_contracts["job_no"].map(state.synced_jobs.set_index("job_no")["project_id"])
    project_id = number.map(stored["project_id"]).fillna(synced)
    project = project_id.map(state.projects.set_index("project_id")["project"])
    named = number.map(_projects_named(state))  # a contract held in several projects
    counts = {c: number.map(summary[c]).fillna(0).astype("int64") for c in CHANGE_COUNTS}
    before = number.map(stored["original_amount"]).astype("Int64")
    after = erp_contracts["original_amount"].astype("Int64")
    frame = pd.DataFrame(
        {
            "contract_no": number,
            "title": erp_contracts["title"],
            "project": project.astype("string").mask(named.notna(), named),
            "imported": number.isin(state.contracts["contract_no"]),
            "import_available": False
            if import_decisions is None
            else import_decisions["eligible"].to_numpy(),
            "reimport_available": decisions["eligible"].to_numpy(),
            "reasons": decisions["reasons"].to_numpy(),
            **counts,
            "amount_before": before,
            "amount_after": after,
            "amount_delta": (after - before).where(before.notna(), 0),
            "partial": number.map(written_in_part(state.partial)),
        }
    )
    return frame[READY_COLUMNS].sort_values("contract_no").reset_index(drop=True)


def written_in_part(partial: pd.DataFrame) -> pd.Series:
    """contract_no -> what a person reads of a contract an earlier run wrote in part (a
    store without transactions, the run stopped midway): the next run that writes it
    completes it."""
    if partial.empty:
        return pd.Series(dtype="string")
    said = (
        "written in part by run "
        + partial["run_id"].astype(str).str[:8]
        + ": "
        + partial["detail"].fillna("stopped midway").astype(str)
        + partial["kind"]
        .map({"import": "; the next import completes it"})
        .fillna("; the next re-import completes it")
    )
    return pd.Series(said.to_numpy(), index=partial["contract_no"].to_numpy(), dtype="string")


# The ERP status is the ERP's alone: "store now" is its status at the last import.
ERP_STATUS_NOTE = "in the ERP since the last import; the project's own status is kept"


def _projects_named(state: StoreState) -> pd.Series:
    """contract_no -> the projects of a contract held in several ("24003-001, 24003-002"):
    a rare case, so only those contracts are grouped."""
    held = state.contracts[["contract_no", "project_id"]].drop_duplicates()
    held = held[held["contract_no"].duplicated(keep=False)]
    names = held["project_id"].map(state.projects.set_index("project_id")["project"])
    names = names.fillna(held["project_id"].astype(str)).astype(str)
    return names.groupby(held["contract_no"]).agg(lambda p: ", ".join(sorted(p)))


REMOVED = "(removed)"  # what a removed item is after a re-import
NO_DESCRIPTION = "(no description)"


def line_preview(contract_no: str, comparison: Comparison, state: StoreState) -> pd.DataFrame:
    """One contract's line-level preview: every change a re-import makes, and every store
    edit it keeps, with conflicts marked. Added and removed items show their description
    and amount on the side where they are."""
    changes = comparison.changes[comparison.changes["contract_no"] == contract_no]
    changes = changes.assign(item_no=changes["item_no"].astype("string"))
    items = comparison.items[comparison.items["contract_no"] == contract_no]
    stored_items = state.items[state.items["contract_no"] == contract_no].set_index("item_no")
    added = items[items["change"] == ItemChange.added].set_index("item_no")
    describe = {
        ItemChange.added: lambda i: _summary(added, i),
        ItemChange.removed: lambda i: _summary(stored_items, i),
    }
    presence = changes["field"].isna()
    text = [
        describe[c](i)
        for c, i in zip(
            changes.loc[presence, "change"], changes.loc[presence, "item_no"], strict=True
        )
    ]
    # An item's summary (the audit's full values aside) on the side where the item is: a
    # removed one is in the store now and gone after; an added one only after.
    summary = pd.Series(pd.NA, index=changes.index, dtype="string")
    summary[presence] = text
    removed = changes["change"].eq(ItemChange.removed)
    changes = changes.assign(
        before=changes["before"].astype("string").mask(presence, summary.where(removed)),
        after=changes["after"].astype("string").mask(presence, summary.mask(removed, REMOVED)),
    )
    note = pd.Series("", index=changes.index, dtype="string")
    note = note.mask(changes["change"].eq(ItemChange.kept), "store edit kept")
    note = note.mask(changes["overwritten"].astype(bool), "conflict: store edit overwritten")
    note = note.mask(changes["field"].eq("erp_status"), ERP_STATUS_NOTE)
    order = changes["item_no"].fillna("")  # header fields first
    return (
        changes.assign(note=note, order=order)
        .sort_values(["order", "field"], na_position="first")
        .drop(columns=["order", "contract_no"])
        .reset_index(drop=True)[["item_no", "change", "field", "before", "after", "note"]]
        .astype("string")
        .fillna("")
    )


def _summary(items: pd.DataFrame, item_no: str) -> str:
    """'Unit Masonry - Level 2, 58,326.30' for an item (amount at scale 2)."""
    row = items.loc[item_no]
    description = NO_DESCRIPTION if pd.isna(row["description"]) else row["description"]
    return f"{description}, {display(row['amount'], 'amount')}"
