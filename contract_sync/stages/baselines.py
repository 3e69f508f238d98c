"""The baseline rows a write changes: after a re-import (or a settle) a contract's baseline
items are its ERP items, and only the rows that differ are written. A re-import changes a
few items of a contract; rewriting all of them cost most of its write on PostgreSQL."""

from __future__ import annotations

import pandas as pd

from contract_sync.columns import BASELINE_ITEM_KEY, ITEM_COLUMNS, ITEM_FIELDS
from contract_sync.stages.compare import same_values


def baseline_changes(
    contract_ids: pd.Series, erp_items: pd.DataFrame, baseline_items: pd.DataFrame
) -> pd.DataFrame:
    """The rows that make these contracts' `baseline_items` equal their `erp_items` (both:
    contract_id, item_no, item fields): an ERP item the baseline lacks or holds with
    another value in any field, and, `gone` with no values, a baseline item the ERP lacks.
    Missing values equal each other only."""
    wanted = pd.Index(contract_ids.astype("int64").unique())
    sides = [
        _typed(frame[frame["contract_id"].isin(wanted)]) for frame in (erp_items, baseline_items)
    ]
    both = sides[0].merge(
        sides[1], on=BASELINE_ITEM_KEY, how="outer", suffixes=("", "_base"), indicator=True
    )
    in_erp = both["_merge"].ne("right_only").to_numpy()
    differs = both["_merge"].ne("both").to_numpy(copy=True)
    for field in ITEM_FIELDS:
        differs |= ~same_values(both[field].array, both[f"{field}_base"].array)
    rows = both.loc[differs, BASELINE_ITEM_KEY + ITEM_FIELDS].assign(gone=~in_erp[differs])
    return rows.sort_values(BASELINE_ITEM_KEY, kind="stable").reset_index(drop=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Keys and fields in the nullable dtypes both sides are compared in (converted only
    where a side holds another)."""
    wanted = {
        "contract_id": "int64",
        "item_no": "string",
        **{f: "Int64" if ITEM_COLUMNS[f].lower() == "int64" else "string" for f in ITEM_FIELDS},
    }
    frame = frame[BASELINE_ITEM_KEY + ITEM_FIELDS]
    return frame.astype({c: t for c, t in wanted.items() if frame[c].dtype != t})
