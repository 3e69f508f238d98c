"""Canonical frames: the columns every stage agrees on.

Money and quantities travel as scaled integers (amounts in cents, quantities in
thousandths, unit costs in 1/100000), never as floats; nullable (Int64) so that a missing
ERP value reaches validation as missing instead of failing the read.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import numpy as np
import pandas as pd

from contract_sync.vocabulary import ERP_STATUS_LABELS, SCALES

CONTRACT_KEY = ["erp_company", "contract_no"]
ITEM_KEY = ["erp_company", "contract_no", "item_no"]

CONTRACT_COLUMNS = {
    "erp_company": "int64",
    "contract_no": "string",  # normal form: see normal_code
    "contract_code": "string",  # the ERP's exact text, padding included
    "job_no": "string",
    "title": "string",
    "erp_status": "string",
    "customer": "string",
    "retainage_pct": "Int64",  # percent, scale 2: 10.00 % -> 1000
    "start_date": "string",  # ISO date
    "projected_completion": "string",
    "original_amount": "Int64",  # cents
    "rejected_values": "string",  # see REJECTED
}

ITEM_COLUMNS = {
    "erp_company": "int64",
    "contract_no": "string",
    "item_no": "string",  # normal form
    "item_code": "string",  # the ERP's exact text, padding included
    "position": "int64",
    "description": "string",
    "cost_code": "string",
    "line_item_type": "string",
    "uom": "string",
    "quantity": "Int64",  # thousandths
    "unit_cost": "Int64",  # 1/100000
    "amount": "Int64",  # cents
    "tax_code": "string",
    "rejected_values": "string",  # see REJECTED
}

# Header fields the ERP owns and the store holds (job and status are matched, not copied).
HEADER_FIELDS = [
    "title",
    "customer",
    "retainage_pct",
    "start_date",
    "projected_completion",
    "original_amount",
]
# The header a baseline holds: the fields above, and the ERP status, which the store keeps
# in its own words (contract status) and a re-import does not write, but whose change in
# the ERP is a change to show and record.
BASELINE_HEADER_FIELDS = [*HEADER_FIELDS, "erp_status"]
# The ERP's exact text of a key: shown and written to the store's origin_id, never matched on.
CODE_COLUMNS = ["contract_code", "item_code"]
# A row's ERP values its connector could not take (a number with more decimals than its
# scale, or not a number; a date that is not one; a code the connector does not know), as
# JSON {field: what is wrong, naming the ERP's column and value}; the field itself is then
# missing. NA when every value was taken. Validation quarantines the row's contract.
REJECTED = "rejected_values"
ITEM_FIELDS = [
    c for c in ITEM_COLUMNS if c not in ITEM_KEY and c not in CODE_COLUMNS and c != REJECTED
]
# A baseline item (the ERP's item at the last import) is keyed by its store contract.
BASELINE_ITEM_KEY = ["contract_id", "item_no"]
# A row of the baseline items a write changes (stages/baselines.baseline_changes).
BASELINE_ROW = [*BASELINE_ITEM_KEY, *ITEM_FIELDS, "gone"]

# What a re-import changes, counted per contract (the audit, previews and reports).
CHANGE_COUNTS = ["items_added", "items_changed", "items_removed", "header_changes"]


# The padding a code's normal form drops: spaces only, as SQL's TRIM does (other blanks in
# a code fail validation). Vista pads codes with its input masks (' 1001-', items
# right-justified in 16 characters); exports and people trim them.
CODE_PADDING = " "


def normal_code(codes: pd.Series) -> pd.Series:
    """The normal form ERP codes (contracts, jobs, items) are matched on: surrounding
    CODE_PADDING removed."""
    return codes.astype("string").str.strip(CODE_PADDING)


def normal_text(code: str) -> str:
    """One code in its normal form: normal_code for a single code (a code asked for, a job
    of the directory file)."""
    return code.strip(CODE_PADDING)


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """`table`'s value for each of `keys` (missing where it has none), aligned with `keys`
    and in `table`'s own dtype. Series.map infers a dtype instead: with Arrow text keys a
    column of lists (failed expectations) comes back as an Arrow list column of arrays."""
    found = table.reindex(keys.to_numpy()).to_numpy()
    return pd.Series(found, index=keys.index, dtype=table.dtype)


def is_in(values: pd.Series, among: Iterable) -> pd.Series:
    """values.isin(among), the same answer. For text held by Arrow, pandas 3.1 first makes
    an Arrow scalar of each of `among` in Python (5 ms per 5,000 contract numbers, 0.6 s of
    a full refresh of 1M items); here `among` reaches Arrow's set lookup as one array."""
    if not text_in_arrow(values):
        return values.isin(among)
    value_set = _text_array(among)
    if value_set is None:  # not text alone: as pandas finds it
        return values.isin(among)
    import pyarrow as pa
    import pyarrow.compute as pc

    held = pa.array(values.array)
    found = pc.is_in(held, value_set=value_set.cast(held.type))
    return pd.Series(np.asarray(found, dtype=bool), index=values.index)


def text_in_arrow(values: pd.Series | pd.Index | pd.api.extensions.ExtensionArray) -> bool:
    """Whether `values` are text held by Arrow (pandas' string dtype on pyarrow)."""
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def _text_array(values: Iterable):  # noqa: ANN202 - a pyarrow array, or None
    """`values` as one Arrow array of text (nulls for missing values), or None where they
    are not all text."""
    import pyarrow as pa

    if isinstance(values, pd.Series | pd.Index) and text_in_arrow(values):
        held = pa.array(values.array)
        return held.combine_chunks() if isinstance(held, pa.ChunkedArray) else held
    if isinstance(values, pd.Series | pd.Index | np.ndarray):
        values = values.tolist()
    elif not isinstance(values, list):
        values = list(values)
    try:
        held = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return held if held.type in (pa.string(), pa.large_string(), pa.null()) else None


def run_starts(values: np.ndarray | pd.Series) -> np.ndarray:
    """Positions where a run of equal values begins (missing values equal to each other):
    where each contract starts in rows kept in contract order. A Series is compared on its
    plain objects: comparing string arrays costs five times as much."""
    if isinstance(values, pd.Series):
        values = values.to_numpy(dtype=object, na_value=None)
    if not len(values):
        return np.array([], dtype=np.intp)
    return np.flatnonzero(np.r_[True, values[1:] != values[:-1]])


def item_order(items: pd.DataFrame) -> pd.DataFrame:
    """Items in the order Vista lists them: right-justified codes sort as (length, text) of
    their normal form, so a padded database and a trimmed export agree."""
    return (
        items.assign(_length=items["item_no"].str.len())
        .sort_values(["erp_company", "contract_no", "_length", "item_no"], kind="stable")
        .drop(columns="_length")
    )


def conform(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Select and type a frame's columns in canonical order; keys in their normal form, the
    exact text kept beside them (the key itself where a source gives no other)."""
    keys = {"contract_code": "contract_no", "item_code": "item_no"}
    frame = frame.assign(
        **{
            code: frame[code].fillna(frame[key]) if code in frame else frame[key]
            for code, key in keys.items()
            if code in columns
        }
    )
    if REJECTED in columns and REJECTED not in frame:  # a source that took every value
        frame = frame.assign(**{REJECTED: pd.NA})
    frame = frame.assign(
        **{
            key: normal_code(frame[key])
            for key in ("contract_no", "job_no", "item_no")
            if key in frame
        }
    )
    return frame.loc[:, list(columns)].astype(columns).reset_index(drop=True)


def empty(columns: dict[str, str]) -> pd.DataFrame:
    return conform(pd.DataFrame({c: [] for c in columns}), columns)


def to_decimal(value: int | None, field: str) -> Decimal | None:
    """A scaled integer as the exact decimal it stands for."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, float) and not value.is_integer():
        raise TypeError(f"{field}: {value!r} is not a scaled integer (money is never a float)")
    return Decimal(int(value)).scaleb(-SCALES[field])


# The fewest decimals a person reads of a scaled field: the money format is thousands
# separators and cents, always; quantities, unit costs and percentages drop the zeros their
# scale adds past that (1,000 units at 12.50, 10 %), never a digit that is not zero.
PERSON_DECIMALS = {"amount": 2, "original_amount": 2, "unit_cost": 2}  # others: 0


def display(value: object, field: str) -> str:
    """A field value as a person reads it, in the one money format: a scaled integer (an
    int) or the audit's exact decimal text of one ('83041.08') both read '83,041.08'."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if field == "erp_status":
        return ERP_STATUS_LABELS.get(str(value), str(value))
    if field not in SCALES:
        return str(value)
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except ArithmeticError:
            return value  # not a number (a rejected value's text): shown as it is
        if not number.is_finite():
            return value
    else:
        number = to_decimal(value, field)
    keep = PERSON_DECIMALS.get(field, 0)
    trimmed = number.normalize()
    if trimmed.as_tuple().exponent > -keep:  # fewer decimals than a person reads
        try:
            trimmed = number.quantize(Decimal(1).scaleb(-keep))
        except ArithmeticError:  # more digits than a decimal context holds: as it is
            return value if isinstance(value, str) else f"{number:f}"
    return f"{trimmed:,}" + (" %" if field == "retainage_pct" else "")


# Below this many values scaled_text formats each one: a compare calls it once per field
# and group on a few changed items, where the vectorised form's ten pandas operations cost
# 1 ms against 0.2 ms; from about 3,000 values on, the vectorised form is the faster.
FORMAT_EACH_BELOW = 2_000


def scaled_text(values: pd.Series, scale: int) -> pd.Series:
    """Scaled integers as exact decimal text (1234 at scale 2 -> '12.34')."""
    values = values.astype("Int64")
    if len(values) < FORMAT_EACH_BELOW:
        return _each_scaled_text(values, scale)
    magnitude = values.abs()
    whole = (magnitude // 10**scale).astype("string")
    fraction = (magnitude % 10**scale).astype("string").str.zfill(scale)
    sign = pd.Series("", index=values.index, dtype="string").mask(values < 0, "-")
    return (sign + whole + "." + fraction).where(values.notna())


def _each_scaled_text(values: pd.Series, scale: int) -> pd.Series:
    """scaled_text of nullable integers, one value at a time."""
    unit = 10**scale
    text = [
        None
        if value is pd.NA
        else f"{'-' * (value < 0)}{abs(value) // unit}.{abs(value) % unit:0{scale}d}"
        for value in values.tolist()
    ]
    return pd.Series(text, index=values.index, dtype="string")


def field_text(values: pd.Series, field: str) -> pd.Series:
    """A field's values as text for the audit log: exact decimals for scaled fields."""
    if field in SCALES:
        return scaled_text(values, SCALES[field])
    return values.astype("string")
