"""Undo images: what a re-import writes over that its audit rows do not say. The audit
records every field it changes and every item it adds or removes with all their values,
but not the positions it moves (a renumbering is no change of its own) nor the baseline
(the ERP's values at the last import) it replaces. An image keeps those, per contract
written, as JSON of exact text: `contract-sync undo` restores a contract from its image
and its audit rows (contract_sync.stages.undo)."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd

from contract_sync.columns import BASELINE_HEADER_FIELDS, BASELINE_ITEM_KEY, ITEM_FIELDS
from contract_sync.exact import parse_scaled
from contract_sync.model import StoreState
from contract_sync.vocabulary import SCALES, ItemChange

_MOVABLE = [ItemChange.renumbered, ItemChange.changed]  # an unchanged item kept its place


def undo_images(
    state: StoreState,
    items: pd.DataFrame,
    baseline_item_changes: pd.DataFrame,
    contract_ids: pd.Series,
) -> pd.DataFrame:
    """contract_id, image: the JSON text of each contract of `contract_ids` about to be
    written. `items`: its compared items (contract_id, item_no, change, target position);
    `baseline_item_changes`: the baseline rows the write changes. An image holds the
    baseline as it is (`baseline`: erp_hash and header fields; null without one), those
    baseline items as they are (`baseline_items`: item_no -> fields, null for one the
    baseline lacks), and the positions the write moves (`positions`: item_no -> [before,
    after])."""
    ids = pd.Index(contract_ids.astype("int64").unique())
    if ids.empty:  # a dry run, or nothing to write in this group
        return pd.DataFrame(
            {"contract_id": pd.Series(dtype="int64"), "image": pd.Series(dtype="string")}
        )
    baselines = state.baselines[state.baselines["contract_id"].isin(ids)]
    headers = _texts(baselines, ["erp_hash", *BASELINE_HEADER_FIELDS])
    changing = baseline_item_changes[baseline_item_changes["contract_id"].isin(ids)]
    held = state.baseline_items[state.baseline_items["contract_id"].isin(ids)]
    before = changing[BASELINE_ITEM_KEY].merge(
        held, on=BASELINE_ITEM_KEY, how="left", indicator=True
    )
    before_texts = _texts(before, ITEM_FIELDS)
    compared = items[items["contract_id"].isin(ids) & items["change"].isin(_MOVABLE)]
    stored = state.items[state.items["contract_id"].isin(compared["contract_id"].unique())]
    moves = _moves(stored, compared)
    images = {int(i): {"baseline": None, "baseline_items": {}, "positions": {}} for i in ids}
    for contract_id, header in zip(baselines["contract_id"], headers, strict=True):
        images[int(contract_id)]["baseline"] = header
    held = before["_merge"].eq("both").to_numpy()
    for contract_id, item_no, fields, found in zip(
        before["contract_id"], before["item_no"], before_texts, held, strict=True
    ):
        images[int(contract_id)]["baseline_items"][str(item_no)] = fields if found else None
    for contract_id, item_no, before_write, after_write in moves.itertuples(index=False):
        images[int(contract_id)]["positions"][str(item_no)] = [int(before_write), int(after_write)]
    return pd.DataFrame(
        {
            "contract_id": pd.array(list(images), dtype="int64"),
            "image": pd.array([json.dumps(i, sort_keys=True) for i in images.values()], "string"),
        }
    )


def _moves(store_items: pd.DataFrame, compared: pd.DataFrame) -> pd.DataFrame:
    """contract_id, item_no, and the position before and after the write of each item
    staying whose position it moves (a moved item is renumbered, or changed besides)."""
    moving = compared.loc[compared["change"].isin(_MOVABLE), ["contract_id", "item_no", "position"]]
    key = ["contract_id", "item_no"]
    moving = moving.astype({"contract_id": "int64", "item_no": "string"})
    now = store_items[[*key, "position"]]
    both = now.astype({"contract_id": "int64", "item_no": "string"}).merge(
        moving, on=key, suffixes=("_before", "_after")
    )
    moved = both["position_before"].astype("Int64").ne(both["position_after"].astype("Int64"))
    return both.loc[moved.fillna(False).astype(bool), [*key, "position_before", "position_after"]]


def _texts(frame: pd.DataFrame, fields: list[str]) -> list[dict[str, str]]:
    """Each row's fields as exact text (scaled numbers as decimals), missing ones left out.
    Value by value: the frames are a group's few written contracts, where pandas' cost per
    column is most of the work."""
    columns = [[_text(v, f) for v in frame[f].astype(object).tolist()] for f in fields]
    return [
        {f: v for f, v in zip(fields, row, strict=True) if v is not None}
        for row in zip(*columns, strict=True)
    ]


def _text(value: object, field: str) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if field in SCALES:
        return str(Decimal(int(value)).scaleb(-SCALES[field]))
    return str(value)


# --- read back -------------------------------------------------------------------------------


def typed(texts: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Exact text (images, the audit's before and after) back into the canonical dtypes:
    scaled numbers as Int64 (a text that is not one raises, never rounds), positions as
    Int64, the rest as text."""
    columns = {}
    for field in fields:
        text = texts[field].astype("string")
        if field in SCALES:
            parsed = parse_scaled(text, SCALES[field])
            bad = parsed.problems.notna()
            if bad.any():
                raise ValueError(f"{field}: {text[bad].iloc[0]!r} {parsed.problems[bad].iloc[0]}")
            columns[field] = parsed.values
        elif field == "position":
            columns[field] = pd.to_numeric(text).astype("Int64")
        else:
            columns[field] = text
    return texts.assign(**columns)


def baseline_headers(images: dict[int, dict]) -> pd.DataFrame:
    """contract_id, erp_hash and the baseline header fields each image holds."""
    rows = [{"contract_id": i, **image["baseline"]} for i, image in images.items()]
    frame = pd.DataFrame(rows, columns=["contract_id", "erp_hash", *BASELINE_HEADER_FIELDS])
    return typed(frame.astype({"contract_id": "int64"}), ["erp_hash", *BASELINE_HEADER_FIELDS])


def baseline_rows(images: dict[int, dict]) -> pd.DataFrame:
    """The baseline rows that put each image's baseline items back (BASELINE_ROW: a row the
    baseline lacked then is `gone`)."""
    rows = [
        {"contract_id": i, "item_no": item_no, **(fields or {}), "gone": fields is None}
        for i, image in images.items()
        for item_no, fields in image["baseline_items"].items()
    ]
    frame = pd.DataFrame(rows, columns=[*BASELINE_ITEM_KEY, *ITEM_FIELDS, "gone"])
    return typed(frame.astype({"contract_id": "int64", "gone": bool}), ITEM_FIELDS)


def position_moves(images: dict[int, dict]) -> pd.DataFrame:
    """contract_id, item_no, before, after: the positions each image's write moved."""
    rows = [
        (i, item_no, before, after)
        for i, image in images.items()
        for item_no, (before, after) in image["positions"].items()
    ]
    frame = pd.DataFrame(rows, columns=["contract_id", "item_no", "before", "after"])
    return frame.astype(
        {"contract_id": "int64", "item_no": "string", "before": "Int64", "after": "Int64"}
    )
