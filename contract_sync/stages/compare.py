"""Compare: keyed three-way diff of ERP, store and last-import baseline, all contracts at once.

For each field: the ERP changed it (ERP value != baseline) -> written; only the store
changed it -> kept; both changed it -> a conflict, written under `erp_wins` and marked
as an overwritten store edit, or blocking the contract under `block`. Items new in the
ERP are added, items gone from it are removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from contract_sync.columns import (
    CONTRACT_COLUMNS,
    HEADER_FIELDS,
    ITEM_COLUMNS,
    ITEM_FIELDS,
    field_text,
)
from contract_sync.store.state import StoreState


@dataclass(frozen=True)
class Comparison:
    contracts: pd.DataFrame  # one row per diffable contract: counts, amounts, target header
    items: pd.DataFrame  # one row per item of a diffable contract: change and target values
    # One row per written field, added or removed item (audited) and kept store edit (not).
    changes: pd.DataFrame


def _typed(frame: pd.DataFrame, fields: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """Nullable dtypes so an outer merge never turns exact integers into floats."""
    nullable = {f: ("Int64" if dtypes[f].lower() == "int64" else "string") for f in fields}
    return frame.astype(nullable)


def _same(left: pd.Series, right: pd.Series) -> pd.Series:
    return (left == right).fillna(False).astype(bool) | (left.isna() & right.isna())


def three_way(
    merged: pd.DataFrame, fields: list[str], in_store: pd.Series, has_base: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per field: write (the ERP changed it), conflict (the store changed it too), kept (only
    the store changed it) and the target value.

    `merged` holds each field three times: `f` (ERP), `f_store` and `f_base`.
    """
    write, conflict, kept, target = {}, {}, {}, {}
    for field in fields:
        erp, store, base = merged[field], merged[f"{field}_store"], merged[f"{field}_base"]
        differs = in_store & ~_same(erp, store)
        erp_changed = ~has_base | ~_same(erp, base)
        store_changed = has_base & ~_same(store, base)
        write[field] = differs & erp_changed
        conflict[field] = write[field] & store_changed
        kept[field] = differs & ~erp_changed
        target[field] = erp.where(~in_store | write[field], store)
    frames = (pd.DataFrame(d, index=merged.index) for d in (write, conflict, kept, target))
    return tuple(frames)


def _field_changes(
    merged: pd.DataFrame,
    keys: list[str],
    write: pd.DataFrame,
    conflict: pd.DataFrame,
    kept: pd.DataFrame,
) -> pd.DataFrame:
    """Long rows (keys, change, field, before, after, overwritten) for every written field,
    and a `kept` row for every store-side edit a re-import leaves alone (shown in previews,
    not audited as a change)."""
    parts = []
    for field in write.columns:
        for change, rows in (
            ("changed", write[field].to_numpy()),
            ("kept", kept[field].to_numpy()),
        ):
            if not rows.any():
                continue
            chosen = merged.loc[rows]
            parts.append(
                chosen[keys].assign(
                    change=change,
                    field=field,
                    before=field_text(chosen[f"{field}_store"], field),
                    after=field_text(chosen[field], field),
                    overwritten=conflict.loc[rows, field].to_numpy(),
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else _empty_changes(keys)


def _empty_changes(keys: list[str]) -> pd.DataFrame:
    columns = [*keys, "change", "field", "before", "after", "overwritten"]
    return pd.DataFrame({c: pd.Series(dtype="string") for c in columns}).astype(
        {"overwritten": bool}
    )


def diff_items(
    state_items: pd.DataFrame, baseline_items: pd.DataFrame, erp_items: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Item-level three-way diff for contracts already matched to one store contract.

    Returns (items: change kind and target values per item, changes: audit rows).
    """
    key = ["contract_no", "item_no"]
    erp = _typed(erp_items[[*key, "contract_id", *ITEM_FIELDS]], ITEM_FIELDS, ITEM_COLUMNS)
    store = _typed(
        state_items[[*key, "contract_id", "item_id", *ITEM_FIELDS]], ITEM_FIELDS, ITEM_COLUMNS
    ).rename(columns={f: f"{f}_store" for f in ITEM_FIELDS})
    base = _typed(
        baseline_items[["contract_id", "item_no", *ITEM_FIELDS]], ITEM_FIELDS, ITEM_COLUMNS
    ).rename(columns={f: f"{f}_base" for f in ITEM_FIELDS})
    merged = erp.merge(store, on=[*key, "contract_id"], how="outer", indicator="side")
    merged = merged.merge(base.assign(has_base=True), on=["contract_id", "item_no"], how="left")
    in_erp = merged["side"].ne("right_only")
    in_store = merged["side"].ne("left_only")
    write, conflict, kept, target = three_way(
        merged, ITEM_FIELDS, in_store, merged["has_base"].fillna(False).astype(bool)
    )
    # Presence is two-way: an item gone from the ERP is removed, store edits or not.
    both = in_erp & in_store
    conflict = conflict & both.to_numpy()[:, None]
    # A position that moved only because an item was added or removed before it is written
    # but is no change of its own: neither counted nor logged ("renumbered").
    content = [f for f in ITEM_FIELDS if f != "position"]
    write, conflict, kept = write[content], conflict[content], kept[content]
    changed = both & write.any(axis=1)
    renumbered = both & ~changed & target["position"].ne(merged["position_store"]).fillna(False)
    change = pd.Series("unchanged", index=merged.index, dtype="string")
    change = change.mask(renumbered, "renumbered").mask(changed, "changed")
    change = change.mask(~in_store, "added").mask(~in_erp, "removed")
    items = pd.concat(
        [merged[[*key, "contract_id", "item_id"]], change.rename("change"), target], axis=1
    )
    changes = pd.concat(
        [
            _field_changes(merged[both], key, write[both], conflict[both], kept[both]),
            _presence_changes(merged, key, in_erp, in_store),
        ],
        ignore_index=True,
    )
    counts = conflict.sum(axis=1).groupby(merged["contract_no"]).sum().rename("item_conflicts")
    return items.assign(conflicts=items["contract_no"].map(counts).fillna(0)), changes


def _presence_changes(
    merged: pd.DataFrame, key: list[str], in_erp: pd.Series, in_store: pd.Series
) -> pd.DataFrame:
    """An added item with all its ERP values (after), a removed one with all its store
    values (before), each as a JSON object of exact text."""
    rows = []
    for change, where, suffix in (("added", ~in_store, ""), ("removed", ~in_erp, "_store")):
        chosen = merged[where]
        values = pd.DataFrame(
            {f: field_text(chosen[f"{f}{suffix}"], f) for f in ITEM_FIELDS}, index=chosen.index
        )
        text = [
            json.dumps({k: v for k, v in r.items() if pd.notna(v)}, ensure_ascii=False)
            for r in values.to_dict("records")
        ]
        side = "after" if change == "added" else "before"
        rows.append(
            chosen[key]
            .assign(change=change, field=pd.NA, before=pd.NA, after=pd.NA, overwritten=False)
            .assign(**{side: pd.Series(text, index=chosen.index, dtype="string")})
        )
    return pd.concat(rows) if rows else _empty_changes(key)


def diff_headers(
    state_contracts: pd.DataFrame, baselines: pd.DataFrame, erp_contracts: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Header three-way diff, one row per contract matched to exactly one store contract."""
    erp = _typed(erp_contracts[["contract_no", *HEADER_FIELDS]], HEADER_FIELDS, CONTRACT_COLUMNS)
    store = _typed(
        state_contracts[["contract_no", "contract_id", "project_id", "version", *HEADER_FIELDS]],
        HEADER_FIELDS,
        CONTRACT_COLUMNS,
    ).rename(columns={f: f"{f}_store" for f in HEADER_FIELDS})
    base = _typed(baselines[["contract_id", *HEADER_FIELDS]], HEADER_FIELDS, CONTRACT_COLUMNS)
    base = base.rename(columns={f: f"{f}_base" for f in HEADER_FIELDS})
    merged = erp.merge(store, on="contract_no").merge(
        base.assign(has_base=True), on="contract_id", how="left"
    )
    in_store = pd.Series(True, index=merged.index)
    write, conflict, kept, target = three_way(
        merged, HEADER_FIELDS, in_store, merged["has_base"].fillna(False).astype(bool)
    )
    headers = pd.concat(
        [merged[["contract_no", "contract_id", "project_id", "version"]], target], axis=1
    ).assign(
        header_changes=write.sum(axis=1),
        header_conflicts=conflict.sum(axis=1),
        amount_before=merged["original_amount_store"],
    )
    changes = _field_changes(merged, ["contract_no"], write, conflict, kept).assign(item_no=pd.NA)
    return headers, changes


def unchanged_contracts(
    state: StoreState, erp_contracts: pd.DataFrame, hashes: pd.Series
) -> pd.Series:
    """Per ERP contract: its content hash equals the one stored at its last import."""
    stored = state.single_contracts().merge(state.baselines, on="contract_id")
    stored_hash = stored.set_index("contract_no")["erp_hash"]
    previous = erp_contracts["contract_no"].map(stored_hash)
    return previous.eq(hashes).fillna(False).astype(bool)


def compare(state: StoreState, erp_contracts: pd.DataFrame, erp_items: pd.DataFrame) -> Comparison:
    """Diff every ERP contract that matches exactly one store contract.

    `state` must hold the items of those contracts (contract_sync.store.state.with_items).
    """
    single = state.single_contracts()
    single = single[single["contract_no"].isin(erp_contracts["contract_no"])]
    in_scope = erp_contracts[erp_contracts["contract_no"].isin(single["contract_no"])]
    headers, header_changes = diff_headers(single, state.baselines, in_scope)
    ids = single[["contract_no", "contract_id"]]
    erp_items = erp_items.merge(ids, on="contract_no")
    store_items = state.items[state.items["contract_id"].isin(single["contract_id"])]
    items, item_changes = diff_items(store_items, state.baseline_items, erp_items)
    counts = (
        pd.crosstab(items["contract_no"], items["change"].replace("renumbered", "unchanged"))
        .reindex(columns=["added", "changed", "removed", "unchanged"], fill_value=0)
        .add_prefix("items_")
    )
    conflicts = items.groupby("contract_no")["conflicts"].first()
    contracts = headers.merge(counts, left_on="contract_no", right_index=True, how="left")
    contracts = contracts.fillna({c: 0 for c in counts.columns}).assign(
        conflicts=lambda f: f["header_conflicts"] + f["contract_no"].map(conflicts).fillna(0),
        amount_after=lambda f: f["original_amount"],
    )
    # Positions that only moved count as no change, but are written all the same.
    renumbered = items.loc[items["change"] == "renumbered", "contract_no"].value_counts()
    contracts["has_updates"] = (
        contracts[["items_added", "items_changed", "items_removed", "header_changes"]].sum(axis=1)
        > 0
    ) | (contracts["contract_no"].map(renumbered).fillna(0) > 0)
    changes = pd.concat([header_changes, item_changes], ignore_index=True)
    return Comparison(contracts.reset_index(drop=True), items, changes)
