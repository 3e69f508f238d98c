"""What every ERP connector returns, and the errors it raises."""

from __future__ import annotations

import json

import pandas as pd

from contract_sync.columns import ITEM_COLUMNS, conform, item_order
from contract_sync.errors import UserError
from contract_sync.exact import PLAIN, NumberFormat, parse_scaled

MAX_LISTED = 10
# Fields a connector takes as zero when the ERP leaves them blank, as Vista does: a lump
# sum has neither units nor a unit price.
BLANK_IS_ZERO = ("quantity", "unit_cost")


class ErpReadError(UserError, RuntimeError):
    """The ERP cannot be read: a missing table, column or file, bad credentials."""


class ErpTransientError(ErpReadError):
    """The ERP could not be reached this time; the same read may succeed later."""


class ErpDataError(UserError, ValueError):
    """ERP values that cannot be taken exactly; the message names every place."""


def finish_items(raw: pd.DataFrame) -> pd.DataFrame:
    """Canonical items in Vista's order, position counted within each contract."""
    items = item_order(conform(raw.assign(position=0), ITEM_COLUMNS))
    return items.assign(position=items.groupby("contract_no").cumcount() + 1).reset_index(drop=True)


def parse_numbers(
    source: str,
    frame: pd.DataFrame,
    columns: dict[str, tuple[str, int]],
    fmt: NumberFormat = PLAIN,
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Replace text columns by scaled integers, never rounded: a value that cannot be
    taken exactly is left missing, and said in the rejections returned (see rejected).

    `columns` maps a canonical field to (the column's name at the source, its scale).
    """
    parsed, found = {}, {}
    for field, (source_column, scale) in columns.items():
        result = parse_scaled(frame[field], scale, fmt)
        parsed[field] = result.values
        bad = result.problems.notna()
        if bad.any():
            values = frame.loc[bad, field].astype(str).map(repr)
            found[field] = (
                f"{source}, column {source_column}: " + values + " " + result.problems[bad]
            ).astype("string")
    return frame.assign(**parsed), found


def rejected(index: pd.Index, found: dict[str, pd.Series]) -> pd.Series:
    """The REJECTED column of the rows of `index`: per row, JSON {field: what is wrong} of
    the fields in `found` (each a text Series on some of those rows); NA where none is."""
    column = pd.Series(pd.NA, index=index, dtype="string")
    by_row: dict = {}  # rows with a rejected value only: a few, when any
    for field, what in found.items():
        for row, text in what.dropna().items():
            by_row.setdefault(row, {})[field] = text
    if by_row:
        column.loc[list(by_row)] = [json.dumps(r, ensure_ascii=False) for r in by_row.values()]
    return column


def unknown_codes(
    source: str, codes: pd.Series, mapped: pd.Series, source_column: str, known: list
) -> pd.Series:
    """What is wrong with each code `mapped` left missing though the source gave one: a
    code the source's mapping lacks."""
    unknown = mapped.isna() & codes.notna()
    listed = ", ".join(map(str, known))
    return (
        f"{source}, column {source_column}: "
        + codes[unknown].astype(str).map(repr)
        + f" is not one of its codes ({listed})"
    ).astype("string")
