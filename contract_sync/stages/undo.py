"""Undo: the plan that puts back the contracts a run wrote as they were before it.

An undo is a re-import whose "ERP" is the store as it was before the run: the run's field
changes taken back (their `before`), the items it added removed, the items it removed
added again, the positions it moved moved back; every other value is the store's now. Its
baseline, the side a re-import's three-way compare starts from, is the store as the run
left it (the changes' `after`). So compare, the gates and apply are a re-import's: a field
the run wrote and someone changed since is a conflict, refused as `changed_since` unless
the undo overwrites (policy erp_wins), and each contract is written all or nothing, with
its audit rows, on every store. The baseline written is the one from before the run (its
undo image): the next sync sees the ERP's change again, as before the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pandas as pd

from contract_sync.columns import BASELINE_HEADER_FIELDS, HEADER_FIELDS, ITEM_FIELDS, display
from contract_sync.model import COUNT_COLUMNS, Comparison, ErpFrames, Plan, StoreState
from contract_sync.stages.compare import CONTENT_FIELDS, compare, same_values
from contract_sync.stages.gate import evaluate_gates
from contract_sync.stages.plan import audit_rows, outcomes
from contract_sync.stages.undo_images import (
    baseline_headers,
    baseline_rows,
    position_moves,
    typed,
    undo_images,
)
from contract_sync.store.state import NO_ITEMS_DIGEST, items_digests
from contract_sync.vocabulary import ConflictPolicy, ItemChange, Outcome, Reason

KEY = ["contract_no", "item_no"]


@dataclass(frozen=True)
class UndoPlan:
    plan: Plan
    # What the run wrote that changed since: contract_no, item_no (NA for the header),
    # what (in words), written (the run's value), now (the store's).
    changed_since: pd.DataFrame


def plan_undo(
    state: StoreState,
    erp_company: int,
    written: pd.DataFrame,
    changes: pd.DataFrame,
    images: dict[int, dict],
    later: pd.Series,
    overwrite: bool = False,
) -> UndoPlan:
    """The undo of these contracts of a run (`written`: its audit rows of them, contract_no
    and erp_hash; `changes`: its field changes and added and removed items; `images`: its
    undo images by contract_id, one for each; `later`: contract_no -> a run that wrote the
    contract since). `state` holds the store now, with these contracts' items."""
    stored = state.single_contracts()
    run_ids = stored["contract_no"].map(written.set_index("contract_no")["contract_id"])
    # A store contract made again since (another id than the run wrote) is not the run's.
    remade = stored.loc[run_ids.notna() & run_ids.ne(stored["contract_id"]), "contract_no"]
    stored = stored[
        stored["contract_no"].isin(written["contract_no"]) & ~stored["contract_no"].isin(remade)
    ]
    changes = changes[changes["contract_no"].isin(stored["contract_no"])]
    items = state.items[state.items["contract_no"].isin(stored["contract_no"])]
    ids = stored.set_index("contract_no")["contract_id"]
    moves = position_moves(images).assign(
        contract_no=lambda f: f["contract_id"].map(pd.Series(ids.index, ids.to_numpy()))
    )
    headers, header_base = _headers(stored, changes)
    target, base, since = _items(items, changes, moves, overwrite)
    before_run = baseline_headers({i: images[i] for i in ids if i in images})
    now_hash = ids.map(state.baselines.set_index("contract_id")["erp_hash"])
    run_hash = written.set_index("contract_no")["erp_hash"].reindex(ids.index)
    moved = now_hash.ne(run_hash).fillna(True).astype(bool)
    since = pd.concat([since, _rewritten(moved, later), _remade(remade)], ignore_index=True)
    as_left = replace(
        state,
        baselines=header_base.assign(erp_hash=header_base["contract_no"].map(run_hash)),
        baseline_items=base,
    )
    erp = ErpFrames(_as_erp(erp_company, written, headers, stored, state), target)
    comparison = compare(as_left, erp.contracts, target)
    since = pd.concat([since, _overwritten(comparison.changes, changes)], ignore_index=True)
    summary = comparison.contracts
    to_restore = (
        summary["contract_no"].map(ids).map(before_run.set_index("contract_id")["erp_hash"])
    )
    has_updates = summary["has_updates"] | to_restore.ne(summary["contract_no"].map(now_hash))
    # A contract already as before the run (undone already, say) has nothing to undo: what
    # changed since is no refusal then.
    settled = summary.loc[~has_updates, "contract_no"]
    since = since[~since["contract_no"].isin(settled)]
    summary = summary.assign(
        conflicts=summary["contract_no"].map(since.groupby("contract_no").size()).fillna(0),
        has_updates=has_updates,
    )
    comparison = replace(comparison, contracts=summary)
    policy = ConflictPolicy.erp_wins if overwrite else ConflictPolicy.block
    decisions = evaluate_gates(
        state, erp.contracts, pd.Series([], dtype="string"), comparison, policy
    )
    decisions["reasons"] = decisions["reasons"].str.replace(Reason.conflict, Reason.changed_since)
    not_compared = ~erp.contracts["contract_no"].isin(summary["contract_no"])
    refused = not_compared & decisions["eligible"]  # made again since: not the run's contract
    decisions.loc[refused, "reasons"] = str(Reason.changed_since)
    decisions["eligible"] &= ~not_compared
    return UndoPlan(_plan(state, erp, decisions, comparison, images, before_run, now_hash), since)


def _headers(stored: pd.DataFrame, changes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contracts' headers as before the run (the target) and as the run left them (the
    base): the store's now, with the run's header changes taken back, or as it wrote them."""
    header = changes[changes["item_no"].isna() & changes["field"].isin(HEADER_FIELDS)]
    sides = []
    for side in ("before", "after"):
        frame = stored[["contract_no", "contract_id", *HEADER_FIELDS]].set_index("contract_no")
        for field, rows in header.groupby("field"):
            values = typed(rows.assign(**{field: rows[side]}), [field])[field]
            frame.loc[rows["contract_no"].to_numpy(), field] = values.to_numpy()
        sides.append(frame.reset_index())
    return sides[0], sides[1].assign(erp_status=pd.NA)


def _items(
    items: pd.DataFrame, changes: pd.DataFrame, moves: pd.DataFrame, overwrite: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The items as before the run (target: ERP-side columns), as the run left them (base:
    baseline-side columns), and what the run wrote to them that changed since."""
    now = items.set_index(KEY)
    added = _presence(changes, ItemChange.added, "after")
    removed = _presence(changes, ItemChange.removed, "before")
    staying = now[~now.index.isin(added.index)]
    field_changes = changes[changes["item_no"].notna() & changes["change"].eq(ItemChange.changed)]
    target, base = staying[ITEM_FIELDS].copy(), staying[ITEM_FIELDS].copy()
    for field, rows in field_changes.groupby("field"):
        keys = pd.MultiIndex.from_frame(rows[KEY])
        there = keys.isin(staying.index)
        for frame, side in ((target, "before"), (base, "after")):
            values = typed(rows.assign(**{field: rows[side]}), [field])[field]
            frame.loc[keys[there], field] = values.to_numpy()[there]
    move_keys = pd.MultiIndex.from_frame(moves[KEY])
    there = move_keys.isin(staying.index)
    target.loc[move_keys[there], "position"] = moves["before"].to_numpy()[there]
    base.loc[move_keys[there], "position"] = moves["after"].to_numpy()[there]
    back = removed[~removed.index.isin(staying.index) | overwrite]
    target = pd.concat([target[~target.index.isin(back.index)], back[ITEM_FIELDS]])
    since = pd.concat(
        [
            _edited(now, added),
            _gone(field_changes, staying.index),
            _there(removed, staying.index),
        ],
        ignore_index=True,
    )
    ids = now["contract_id"].groupby(level="contract_no").first()
    base = base.reset_index()
    return (
        _erp_items(target.reset_index()),
        base.assign(contract_id=base["contract_no"].map(ids)),
        since,
    )


def _presence(changes: pd.DataFrame, change: ItemChange, side: str) -> pd.DataFrame:
    """The items the run added (their values then) or removed (their values before it),
    indexed by KEY, in the canonical dtypes."""
    rows = changes[changes["change"].eq(change)]
    values = pd.DataFrame(
        [json.loads(text) for text in rows[side]], columns=ITEM_FIELDS, index=rows.index
    )
    frame = typed(pd.concat([rows[KEY], values.astype("string")], axis=1), ITEM_FIELDS)
    return frame.set_index(KEY)


def _erp_items(target: pd.DataFrame) -> pd.DataFrame:
    """The target items as a re-import reads the ERP's: codes as the store holds them."""
    return target.assign(item_code=target["item_no"]).astype(
        {"position": "int64", "item_no": "string", "contract_no": "string"}
    )


def _edited(now: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
    """Items the run added whose values someone changed since (the undo would remove them)."""
    both = now.join(added.add_suffix("_run"), how="inner")
    parts = []
    for field in CONTENT_FIELDS:
        differs = ~same_values(
            both[field].array, both[f"{field}_run"].astype(both[field].dtype).array
        )
        if differs.any():
            rows = both[differs]
            parts.append(
                _since(
                    rows.index,
                    f"{field} of an item it added",
                    rows[f"{field}_run"],
                    rows[field],
                    field,
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else _no_changes()


def _gone(field_changes: pd.DataFrame, staying: pd.Index) -> pd.DataFrame:
    """Items the run changed that are gone from the store since."""
    keys = pd.MultiIndex.from_frame(field_changes[KEY]).unique()
    gone = keys[~keys.isin(staying)]
    return _since(gone, "an item it changed, removed since", None, None, "")


def _there(removed: pd.DataFrame, staying: pd.Index) -> pd.DataFrame:
    """Items the run removed that are in the store again."""
    back = removed.index[removed.index.isin(staying)]
    return _since(back, "an item it removed, added again since", None, None, "")


def _rewritten(moved: pd.Series, later: pd.Series) -> pd.DataFrame:
    """Contracts whose baseline another run wrote since (moved: by contract_no)."""
    numbers = pd.Series(moved.index[moved.to_numpy()], dtype="string")
    runs = numbers.map(later).astype("string")
    return (
        _no_changes()
        .reindex(range(len(numbers)))
        .assign(
            contract_no=numbers.to_numpy(),
            what=("written again since by run " + runs).fillna("written again since").to_numpy(),
        )
    )


def _remade(numbers: pd.Series) -> pd.DataFrame:
    """Contracts deleted in the store since and imported again (another store contract)."""
    return (
        _no_changes()
        .reindex(range(len(numbers)))
        .assign(
            contract_no=numbers.astype("string").to_numpy(),
            what="deleted in the store and imported again since",
        )
    )


def _overwritten(compared: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """Fields the run wrote that someone changed since: compare's conflicts."""
    rows = compared[compared["overwritten"].astype(bool)].astype({"item_no": "string"})
    run = changes.set_index([*KEY, "field"])["after"]
    keys = pd.MultiIndex.from_frame(rows[[*KEY, "field"]].astype("string"))
    fields = rows["field"].astype("string").tolist()
    written = [display(v, f) for v, f in zip(run.reindex(keys), fields, strict=True)]
    now = [display(v, f) for v, f in zip(rows["before"], fields, strict=True)]
    return pd.DataFrame(
        {
            "contract_no": rows["contract_no"].astype("string").to_numpy(),
            "item_no": rows["item_no"].to_numpy(),
            "what": fields,
            "written": written,
            "now": now,
        },
        dtype="string",
    )


def _since(keys: pd.Index, what: str, written, now, field: str) -> pd.DataFrame:  # noqa: ANN001
    """Changes since, one per key (contract_no, item_no); values shown as a person reads them."""
    frame = pd.DataFrame(list(keys), columns=KEY) if len(keys) else _no_changes()[KEY]

    def shown(values) -> list:  # noqa: ANN001
        if values is None:
            return [pd.NA] * len(frame)
        return [display(v, field) if field else v for v in values]

    return frame.astype("string").assign(what=what, written=shown(written), now=shown(now))


def _no_changes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in [*KEY, "what", "written", "now"]})


def _as_erp(
    erp_company: int,
    written: pd.DataFrame,
    headers: pd.DataFrame,
    stored: pd.DataFrame,
    state: StoreState,
) -> pd.DataFrame:
    """Every contract in scope as a re-import's ERP contract: the target header; the job
    synced to its project (the gates' job_not_synced); no ERP status (an undo changes none)."""
    job = state.synced_jobs.drop_duplicates("project_id").set_index("project_id")["job_no"]
    frame = written[["contract_no"]].merge(headers, on="contract_no", how="left")
    project = frame["contract_no"].map(stored.set_index("contract_no")["project_id"])
    return frame.assign(
        erp_company=erp_company,
        job_no=project.map(job).astype("string"),
        erp_status=pd.array([pd.NA] * len(frame), dtype="string"),
        contract_id=frame["contract_id"].astype("Int64"),
    )


def _plan(
    state: StoreState,
    erp: ErpFrames,
    decisions: pd.DataFrame,
    comparison: Comparison,
    images: dict[int, dict],
    before_run: pd.DataFrame,
    now_hash: pd.Series,
) -> Plan:
    """A re-import plan whose writes put the contracts back: outcome `undone`; the baseline
    from before the run (its header as the ERP contract's, its items as baseline rows)."""
    number = erp.contracts["contract_no"]
    stored = state.single_contracts().set_index("contract_no")
    summary = comparison.contracts.set_index("contract_no")
    counts = {c: number.map(summary[c]) for c in COUNT_COLUMNS}
    restored = number.map(stored["contract_id"]).map(
        before_run.set_index("contract_id")["erp_hash"]
    )
    audit = audit_rows(
        erp,
        decisions,
        outcomes(decisions, Outcome.undone),
        pd.DataFrame({"contract_no": [], "failed_expectations": []}),
        restored.astype("string"),
        project_id=number.map(stored["project_id"]),
        contract_id=number.map(stored["contract_id"]),
        counts=counts,
        amount_before=number.map(stored["original_amount"]),
        amount_if_written=number.map(summary["amount_after"]),
        version=number.map(stored["version"]),
    )
    eligible = number[decisions["eligible"].to_numpy()]
    ids = eligible.map(stored["contract_id"]).astype("int64")
    header = before_run.set_index("contract_id")
    as_erp = erp.contracts.assign(
        **{f: number.map(stored["contract_id"]).map(header[f]) for f in BASELINE_HEADER_FIELDS}
    )
    kept = state.items[state.items["contract_no"].isin(eligible)]
    baseline = baseline_rows({int(i): images[int(i)] for i in ids})
    return Plan(
        audit,
        comparison,
        ErpFrames(as_erp, erp.items),
        state.company_id,
        False,
        number.iloc[0:0],
        dict(zip(eligible, eligible.map(items_digests(kept)).fillna(NO_ITEMS_DIGEST), strict=True)),
        pd.Series(False, index=audit.index),
        baseline,
        pd.Series(now_hash.reindex(eligible).to_numpy(), index=ids.to_numpy(), dtype="string"),
        undo_images=undo_images(state, comparison.items, baseline, ids),
    )


def changed_since_lines(since: pd.DataFrame) -> list[str]:
    """Each change since, in words: `C-100 item 20: amount (the run wrote 1,200.00, now
    1,350.00)`."""
    lines = []
    for row in since.itertuples(index=False):
        where = row.contract_no + (f" item {row.item_no}" if not pd.isna(row.item_no) else "")
        values = []
        if not pd.isna(row.written):
            values.append(f"the run wrote {row.written}")
        if not pd.isna(row.now):
            values.append(f"now {row.now}")
        lines.append(f"{where}: {row.what}" + (f" ({', '.join(values)})" if values else ""))
    return lines
