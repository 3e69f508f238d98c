"""What every ERP connector returns, and the errors it raises."""

from __future__ import annotations

import pandas as pd

from contract_sync.columns import ITEM_COLUMNS, conform, item_order
from contract_sync.errors import UserError
from contract_sync.exact import PLAIN, NumberFormat, parse_scaled

MAX_LISTED = 10


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
) -> pd.DataFrame:
    """Replace text columns by scaled integers; raise ErpDataError naming each bad value.

    `columns` maps a canonical field to (the column's name at the source, its scale).
    """
    parsed, lines, count = {}, [], 0
    for field, (source_column, scale) in columns.items():
        result = parse_scaled(frame[field], scale, fmt)
        parsed[field] = result.values
        bad = result.problems.notna()
        count += int(bad.sum())
        for index in bad[bad].index[: MAX_LISTED - len(lines)]:
            lines.append(
                f"{source}: {place(frame.loc[index])}, column {source_column}: "
                f"{frame.at[index, field]!r} {result.problems[index]}"
            )
    if count:
        more = f"\n... and {count - len(lines)} more" if count > len(lines) else ""
        raise ErpDataError("\n".join(lines) + more)
    return frame.assign(**parsed)


def place(row: pd.Series) -> str:
    """'contract 24001-, item 00010' for a row of contracts or items."""
    text = f"contract {row.get('contract_no')}"
    if "item_no" in row.index:
        text += f", item {row.get('item_no')}"
    return text
