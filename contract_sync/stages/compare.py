"""Compare: keyed three-way diff of ERP, store and last-import baseline, all contracts at once.

For each field: the ERP changed it (ERP value != baseline) -> written; only the store
changed it -> kept; both changed it -> a conflict, written under `erp_wins` and marked
as an overwritten store edit, or blocking the contract under `block`. Items new in the
ERP are added, items gone from it are removed.

Items are aligned on one integer key per (contract, item) instead of joined on text keys,
and per field only the items whose ERP and store values differ get the three-way: on every
other item that field is the same on both sides, so there is nothing to write or keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from contract_sync.columns import (
    BASELINE_HEADER_FIELDS,
    CHANGE_COUNTS,
    CONTRACT_COLUMNS,
    HEADER_FIELDS,
    ITEM_COLUMNS,
    ITEM_FIELDS,
    field_text,
    is_in,
    text_in_arrow,
)
from contract_sync.model import Comparison, StoreState
from contract_sync.vocabulary import ItemChange

KEY = ["contract_no", "item_no"]
# A position that moved only because an item was added or removed before it is written but
# is no change of its own: neither counted nor logged ("renumbered").
CONTENT_FIELDS = [f for f in ITEM_FIELDS if f != "position"]
# An item's change, by code: ItemChange in its order (a later one wins: an item the ERP
# removed is removed); `kept` is a field's, never an item's.
CHANGES = [c for c in ItemChange if c is not ItemChange.kept]
UNCHANGED, RENUMBERED, CHANGED, ADDED, REMOVED = (
    CHANGES.index(c)
    for c in (
        ItemChange.unchanged,
        ItemChange.renumbered,
        ItemChange.changed,
        ItemChange.added,
        ItemChange.removed,
    )
)
COUNTED = ["items_added", "items_changed", "items_removed", "items_unchanged"]


def _nullable(field: str, dtypes: dict[str, str]) -> str:
    """Nullable dtypes so a missing side never turns exact integers into floats."""
    return "Int64" if dtypes[field].lower() == "int64" else "string"


def _typed(frame: pd.DataFrame, fields: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    wanted = {f: _nullable(f, dtypes) for f in fields}
    return frame.astype({f: t for f, t in wanted.items() if frame[f].dtype != t})


_MISSING = object()  # stands in for a missing text: equal to itself only

Comparable = np.ndarray | ExtensionArray


def _comparable(values: ExtensionArray) -> Comparable:
    """Values as `_same` compares them fastest: text held by Arrow as it is (compared by
    Arrow when the other side is held so too, else made objects at that comparison); other
    text as an object array with missing values as a marker equal to itself only (found
    once, not at every comparison); integers as they are."""
    if isinstance(values.dtype, pd.StringDtype) and not _in_arrow(values):
        return _objects(values)
    return values


def _objects(values: Comparable) -> np.ndarray:
    """Text as objects, missing values as _MISSING (an object array as it is)."""
    if isinstance(values, np.ndarray):
        return values
    # Marked after the copy: Arrow-backed text refuses a non-text na_value.
    text = values.to_numpy(object, na_value=None)
    text[np.asarray(values.isna())] = _MISSING
    return text


def _in_arrow(values: Comparable) -> bool:
    return isinstance(values, ExtensionArray) and text_in_arrow(values)


def _same(left: Comparable, right: Comparable) -> np.ndarray:
    """Per row: the same value, or missing on both sides; compared in the values' dtype."""
    if _in_arrow(left) and _in_arrow(right):
        return _same_in_arrow(left, right)
    if not isinstance(left, ExtensionArray) or isinstance(left.dtype, pd.StringDtype):
        return _objects(left) == _objects(right)
    left_missing, right_missing = left.isna(), right.isna()
    equal = left.to_numpy("int64", na_value=0) == right.to_numpy("int64", na_value=0)
    return (equal & ~left_missing & ~right_missing) | (left_missing & right_missing)


def _same_in_arrow(left: ExtensionArray, right: ExtensionArray) -> np.ndarray:
    """_same of text held by Arrow, by Arrow's kernels: no Python object per value (a
    tenth of the time of comparing the objects)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    left, right = pa.array(left), pa.array(right)
    equal = pc.fill_null(pc.equal(left, right), False)
    return pc.or_(equal, pc.and_(left.is_null(), right.is_null())).to_numpy(zero_copy_only=False)


def same_values(left: ExtensionArray, right: ExtensionArray) -> np.ndarray:
    """Per row: the same value, or missing on both sides (arrays of one nullable dtype)."""
    return _same(_comparable(left), _comparable(right))


class Decision(NamedTuple):
    """One field's three-way, per row."""

    write: np.ndarray  # the ERP changed it, and the store holds something else
    conflict: np.ndarray  # written, and the store changed it too
    kept: np.ndarray  # only the store changed it


def three_way(
    erp: ExtensionArray,
    store: ExtensionArray,
    base: ExtensionArray,
    in_store: np.ndarray,
    has_base: np.ndarray,
) -> Decision:
    """One field on three sides (the ERP now, the store now, the ERP at the last import),
    row for row; without a baseline every difference counts as the ERP's."""
    erp, store, base = _comparable(erp), _comparable(store), _comparable(base)
    differs = in_store & ~_same(erp, store)
    erp_changed = ~has_base | ~_same(erp, base)
    store_changed = has_base & ~_same(store, base)
    write = differs & erp_changed
    return Decision(write, write & store_changed, differs & ~erp_changed)


def _field_changes(
    keys: pd.DataFrame,
    field: str,
    decision: Decision,
    erp: ExtensionArray,
    store: ExtensionArray,
) -> list[pd.DataFrame]:
    """Long rows (keys, change, field, before, after, overwritten) for one field: a
    `changed` row where it is written, then a `kept` row for every store-side edit a
    re-import leaves alone (shown in previews, not audited as a change). `keys`, the
    decision and the values are row for row."""
    parts = []
    for change, rows in ((ItemChange.changed, decision.write), (ItemChange.kept, decision.kept)):
        if rows.any():
            chosen = keys[rows]
            parts.append(
                chosen.assign(
                    change=change,
                    field=field,
                    before=field_text(pd.Series(store[rows], index=chosen.index), field),
                    after=field_text(pd.Series(erp[rows], index=chosen.index), field),
                    overwritten=decision.conflict[rows],
                )
            )
    return parts


def _changes_or_empty(parts: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else _empty_changes(keys)


def _empty_changes(keys: list[str]) -> pd.DataFrame:
    columns = [*keys, "change", "field", "before", "after", "overwritten"]
    return pd.DataFrame({c: pd.Series(dtype="string") for c in columns}).astype(
        {"overwritten": bool}
    )


# --- items -----------------------------------------------------------------------------------


def align_items(
    contracts: pd.DataFrame,
    erp_items: pd.DataFrame,
    store_items: pd.DataFrame,
    baseline_items: pd.DataFrame,
) -> pd.DataFrame:
    """One row per item of `contracts` (contract_no, contract_id; sorted by contract_no),
    in (contract_no, item_no) order: `contract`, its row in `contracts`; `item_no`; and its
    row in each side's frame, `erp`, `store` and `base` (-1 where that side lacks it).

    The rows an outer join of ERP and store items on (contract_no, item_no), then a left
    join of the baseline, would give (repeated keys pair up as in a join), joined on one
    integer per key: the contract's row and the item number's rank among all of them.
    """
    frames = {"erp": erp_items, "store": store_items, "base": baseline_items}
    ranks, numbers = _item_ranks(frames.values())
    width = len(numbers) + 1
    numbers_of = {"contract_no": contracts["contract_no"], "contract_id": contracts["contract_id"]}
    keyed = {}
    for (side, frame), rank in zip(frames.items(), ranks, strict=True):
        by = "contract_no" if side == "erp" else "contract_id"
        contract = pd.Index(numbers_of[by]).get_indexer(frame[by])
        ours = np.flatnonzero(contract >= 0)
        keyed[side] = pd.DataFrame({"key": contract[ours] * width + rank[ours], side: ours})
    del ranks
    rows = keyed.pop("erp").merge(keyed.pop("store"), on="key", how="outer")
    rows = rows.merge(keyed.pop("base"), on="key", how="left")
    key = rows.pop("key").to_numpy()
    rank = key % width
    return pd.DataFrame(
        {
            "contract": key // width,
            "item_no": pd.array(numbers, dtype="string").take(
                np.where(rank < len(numbers), rank, -1), allow_fill=True
            ),
            **{s: rows.pop(s).fillna(-1).to_numpy(dtype=np.int64) for s in frames},
        }
    )


def _item_ranks(frames: Iterable[pd.DataFrame]) -> tuple[list[np.ndarray], pd.Index]:
    """Each frame's item numbers as their rank among all of them (a missing one last), and
    those numbers in order."""
    frames = list(frames)
    ranks, numbers = pd.factorize(
        pd.concat([f["item_no"] for f in frames], ignore_index=True), sort=True
    )
    ranks[ranks < 0] = len(numbers)
    return np.split(ranks, np.cumsum([len(f) for f in frames[:-1]])), numbers


@dataclass(frozen=True)
class _Sides:
    """The ERP, store and baseline items, each field in its nullable dtype, and each item's
    row in them (-1 where a side lacks it), as align_items gives them."""

    frames: dict[str, pd.DataFrame]
    rows: dict[str, np.ndarray]

    @classmethod
    def of(cls, aligned: pd.DataFrame, **frames: pd.DataFrame) -> _Sides:
        typed = {s: _typed(f[ITEM_FIELDS], ITEM_FIELDS, ITEM_COLUMNS) for s, f in frames.items()}
        return cls(typed, {s: aligned[s].to_numpy() for s in frames})

    def values(self, side: str, field: str, at: np.ndarray | None = None) -> ExtensionArray:
        """A field's values on one side for every aligned item, or for those at `at`."""
        rows = self.rows[side] if at is None else self.rows[side][at]
        return self.frames[side][field].array.take(rows, allow_fill=True)


@dataclass(frozen=True)
class _Differing:
    """One field's three-way on the items whose ERP and store values of it differ: their
    positions among the aligned items (ascending), the decision, the ERP and store values,
    all row for row. On every other item the field is neither written nor kept."""

    at: np.ndarray
    decision: Decision
    erp: ExtensionArray
    store: ExtensionArray

    def of(self, rows: np.ndarray) -> _Differing:
        """The same, for the rows selected by a mask over `at`."""
        return _Differing(
            self.at[rows],
            Decision(*(d[rows] for d in self.decision)),
            *(v[rows] for v in (self.erp, self.store)),
        )


def _differing(
    sides: _Sides, stored: dict[str, ExtensionArray], in_store: np.ndarray
) -> dict[str, _Differing]:
    """Per field, the three-way of the items the store holds with another value than the
    ERP (`stored`: the store's values of every item); an item gone from the ERP differs in
    every field the store has a value for."""
    has_base = sides.rows["base"] >= 0
    found = {}
    for field, store in stored.items():
        erp = sides.values("erp", field)
        at = np.flatnonzero(in_store & ~_same(erp, _comparable(store)))
        erp, store = erp[at], store[at]
        base = sides.values("base", field, at)
        decision = three_way(erp, store, base, np.ones(len(at), dtype=bool), has_base[at])
        found[field] = _Differing(at, decision, erp, store)
    return found


def _targets(
    sides: _Sides,
    stored: dict[str, ExtensionArray],
    in_store: np.ndarray,
    differing: dict[str, _Differing],
) -> dict[str, ExtensionArray]:
    """Per field, the value a re-import leaves: the ERP's for a new item or a written
    field, else the store's. Made in place of `stored` (the store's values of every item)."""
    added = np.flatnonzero(~in_store)
    for field, target in stored.items():
        found = differing[field]
        from_erp = np.concatenate([added, found.at[found.decision.write]])
        target[from_erp] = sides.values("erp", field, from_erp)
    return stored


def _change_codes(
    in_erp: np.ndarray, in_store: np.ndarray, both: dict[str, _Differing]
) -> np.ndarray:
    """Each item's change, as an index into CHANGES (`both`: the differing fields of the
    items on both sides)."""
    change = np.full(len(in_erp), UNCHANGED, dtype=np.int8)
    position = both["position"].of(both["position"].decision.write)
    moved = position.erp != position.store  # the target position, and the store's
    change[position.at[moved.to_numpy(dtype=bool, na_value=False)]] = RENUMBERED
    for field in CONTENT_FIELDS:
        change[both[field].at[both[field].decision.write]] = CHANGED
    change[~in_store] = ADDED
    change[~in_erp] = REMOVED
    return change


def _item_field_changes(keys: pd.DataFrame, both: dict[str, _Differing]) -> pd.DataFrame:
    """Field by field, the written fields and kept store edits of the items on both sides."""
    parts = []
    for field in CONTENT_FIELDS:
        found = both[field]
        chosen = keys.iloc[found.at]
        parts += _field_changes(chosen, field, found.decision, found.erp, found.store)
    return _changes_or_empty(parts, KEY)


def _presence_changes(
    keys: pd.DataFrame, sides: _Sides, in_erp: np.ndarray, in_store: np.ndarray
) -> pd.DataFrame:
    """An added item with all its ERP values (after), a removed one with all its store
    values (before), each as a JSON object of exact text."""
    rows = []
    presence = ((ItemChange.added, ~in_store, "erp"), (ItemChange.removed, ~in_erp, "store"))
    for change, where, side in presence:
        at = np.flatnonzero(where)
        chosen = keys.iloc[at]
        values = pd.DataFrame(
            {
                f: field_text(pd.Series(sides.values(side, f, at), index=chosen.index), f)
                for f in ITEM_FIELDS
            },
            index=chosen.index,
        )
        text = [
            json.dumps({k: v for k, v in r.items() if pd.notna(v)}, ensure_ascii=False)
            for r in values.to_dict("records")
        ]
        column = "after" if change == ItemChange.added else "before"
        rows.append(
            chosen.assign(
                change=change, field=pd.NA, before=pd.NA, after=pd.NA, overwritten=False
            ).assign(**{column: pd.Series(text, index=chosen.index, dtype="string")})
        )
    return pd.concat(rows)


def _counts(
    contracts: pd.DataFrame, contract: np.ndarray, change: np.ndarray, conflicts: np.ndarray
) -> pd.DataFrame:
    """Per contract (indexed by contract_no): its items by change, and its item conflicts."""
    kinds = len(CHANGES)
    by_change = np.bincount(contract * kinds + change, minlength=len(contracts) * kinds).reshape(
        len(contracts), kinds
    )
    return pd.DataFrame(
        {
            "items_added": by_change[:, ADDED],
            "items_changed": by_change[:, CHANGED],
            "items_removed": by_change[:, REMOVED],
            "items_unchanged": by_change[:, UNCHANGED] + by_change[:, RENUMBERED],
            "items_renumbered": by_change[:, RENUMBERED],
            "item_conflicts": conflicts,
        },
        index=pd.Index(contracts["contract_no"], name="contract_no"),
    )


@dataclass(frozen=True)
class ItemDiff:
    items: pd.DataFrame  # one row per item: keys, change, target values, contract's conflicts
    changes: pd.DataFrame  # field changes, kept store edits, added and removed items
    counts: pd.DataFrame  # per contract_no: items by change, item conflicts


def diff_items(
    contracts: pd.DataFrame,
    store_items: pd.DataFrame,
    baseline_items: pd.DataFrame,
    erp_items: pd.DataFrame,
) -> ItemDiff:
    """Item-level three-way diff of these contracts (contract_no, contract_id: each ERP
    contract matched to one store contract). An item gone from the ERP is removed, store
    edits or not: presence is two-way."""
    contracts = contracts.sort_values("contract_no", kind="stable").reset_index(drop=True)
    aligned = align_items(contracts, erp_items, store_items, baseline_items)
    sides = _Sides.of(aligned, erp=erp_items, store=store_items, base=baseline_items)
    in_erp, in_store = sides.rows["erp"] >= 0, sides.rows["store"] >= 0
    stored = {f: sides.values("store", f) for f in ITEM_FIELDS}
    differing = _differing(sides, stored, in_store)
    # Presence is two-way: an item gone from the ERP is removed, its fields not diffed.
    both = {f: found.of(in_erp[found.at]) for f, found in differing.items()}
    change = _change_codes(in_erp, in_store, both)
    targets = _targets(sides, stored, in_store, differing)

    contract = aligned["contract"].to_numpy()
    conflicting = [both[f].at[both[f].decision.conflict] for f in CONTENT_FIELDS]
    per_contract = np.bincount(contract[np.concatenate(conflicting)], minlength=len(contracts))
    keys = pd.DataFrame(
        {
            "contract_no": pd.Series(contracts["contract_no"].to_numpy()[contract], dtype=object),
            "item_no": aligned["item_no"],
        }
    )
    items = pd.DataFrame(
        {
            "contract_no": keys["contract_no"],
            "item_no": keys["item_no"],
            "contract_id": pd.array(contracts["contract_id"].to_numpy()[contract], dtype="Int64"),
            "item_id": store_items["item_id"]
            .astype("Int64")
            .array.take(sides.rows["store"], allow_fill=True),
            "change": pd.array(CHANGES, dtype="string").take(change),
            **targets,
            "conflicts": per_contract[contract],
        },
        copy=False,  # the targets are this frame's own
    )
    changes = pd.concat(
        [
            _item_field_changes(keys, both),
            _presence_changes(keys, sides, in_erp, in_store),
        ],
        ignore_index=True,
    )
    return ItemDiff(items, changes, _counts(contracts, contract, change, per_contract))


# --- headers and the whole compare ------------------------------------------------------------


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
    base = _typed(
        baselines[["contract_id", *BASELINE_HEADER_FIELDS]],
        BASELINE_HEADER_FIELDS,
        CONTRACT_COLUMNS,
    ).rename(columns={f: f"{f}_base" for f in BASELINE_HEADER_FIELDS})
    erp = erp.assign(erp_status=erp_contracts["erp_status"].astype("string").to_numpy())
    merged = erp.merge(store, on="contract_no").merge(
        base.assign(has_base=True), on="contract_id", how="left"
    )
    in_store = np.ones(len(merged), dtype=bool)
    has_base = merged["has_base"].fillna(False).to_numpy(dtype=bool)
    sides = {f: [merged[c].array for c in (f, f"{f}_store", f"{f}_base")] for f in HEADER_FIELDS}
    decided = {f: three_way(*sides[f], in_store, has_base) for f in HEADER_FIELDS}
    write = pd.DataFrame({f: d.write for f, d in decided.items()}, index=merged.index)
    conflict = pd.DataFrame({f: d.conflict for f, d in decided.items()}, index=merged.index)
    target = pd.DataFrame(
        {f: merged[f].where(write[f], merged[f"{f}_store"]) for f in HEADER_FIELDS}
    )
    status_changed = _status_changes(merged)
    headers = pd.concat(
        [merged[["contract_no", "contract_id", "project_id", "version"]], target], axis=1
    ).assign(
        header_changes=write.sum(axis=1) + status_changed,
        erp_status_changed=status_changed,
        header_conflicts=conflict.sum(axis=1),
        amount_before=merged["original_amount_store"],
    )
    keys = merged[["contract_no"]]
    parts = [
        part
        for f, (erp, store, _base) in sides.items()
        for part in _field_changes(keys, f, decided[f], erp, store)
    ]
    if status_changed.any():
        parts.append(
            keys[status_changed].assign(
                change=ItemChange.changed,
                field="erp_status",
                before=merged.loc[status_changed, "erp_status_base"],
                after=merged.loc[status_changed, "erp_status"],
                overwritten=False,
            )
        )
    return headers, _changes_or_empty(parts, ["contract_no"]).assign(item_no=pd.NA)


def _status_changes(merged: pd.DataFrame) -> np.ndarray:
    """Per contract: its ERP status is not the one of its last import. A change the ERP
    alone makes (the store keeps a status of its own): shown and recorded, nothing written
    but the baseline. A baseline that holds no status yet shows none."""
    base, now = merged["erp_status_base"], merged["erp_status"]
    return (base.notna() & now.notna() & base.ne(now)).fillna(False).to_numpy(dtype=bool)


def stored_hashes(state: StoreState) -> pd.Series:
    """contract_no -> the content hash stored at its last import (one-project contracts)."""
    stored = state.single_contracts().merge(state.baselines, on="contract_id")
    return stored.set_index("contract_no")["erp_hash"]


def unchanged_contracts(
    stored_hash: pd.Series, erp_contracts: pd.DataFrame, hashes: pd.Series
) -> pd.Series:
    """Per ERP contract: its content hash equals the one stored at its last import
    (`stored_hash`: stored_hashes of the store state, found once per run)."""
    previous = erp_contracts["contract_no"].map(stored_hash)
    return previous.eq(hashes).fillna(False).astype(bool)


def compare(state: StoreState, erp_contracts: pd.DataFrame, erp_items: pd.DataFrame) -> Comparison:
    """Diff every ERP contract that matches exactly one store contract.

    `state` must hold the items of those contracts (contract_sync.store.state.with_items).
    """
    single = state.single_contracts()
    single = single[is_in(single["contract_no"], erp_contracts["contract_no"])]
    in_scope = erp_contracts[is_in(erp_contracts["contract_no"], single["contract_no"])]
    headers, header_changes = diff_headers(single, state.baselines, in_scope)
    found = diff_items(
        single[["contract_no", "contract_id"]], state.items, state.baseline_items, erp_items
    )
    counts = found.counts
    contracts = headers.merge(counts[COUNTED], left_on="contract_no", right_index=True, how="left")
    number = contracts["contract_no"]
    contracts = contracts.assign(
        conflicts=contracts["header_conflicts"] + number.map(counts["item_conflicts"]),
        amount_after=contracts["original_amount"],
        items_renumbered=number.map(counts["items_renumbered"]).fillna(0).astype("int64"),
    )
    # Positions that only moved count as no change, but are written all the same.
    contracts["has_updates"] = (contracts[CHANGE_COUNTS].sum(axis=1) > 0) | (
        contracts["items_renumbered"] > 0
    )
    changes = pd.concat([header_changes, found.changes], ignore_index=True)
    return Comparison(contracts.reset_index(drop=True), found.items, changes)
