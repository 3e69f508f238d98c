"""The expectations the store's schema implies, added to the suites at validation time.

Derived from the schema itself, so that the suites and the store never disagree, the
outcome never depends on the database, and a column added later is covered: a canonical
field is held by the store columns of its own name in the contract (or item) tables, and
a key by the columns KEYS_HELD_IN names. Of every such column:

- NOT NULL means required: a value must be there, and text must not be blank (empty,
  spaces or other white space only);
- a String's length bounds the text, which holds no control character (no blank but the
  space in a code: a tab or a no-break space would make two codes that read alike match
  differently in Python and in SQL);
- a Scaled number's precision bounds the value (its scale is the canonical one: the
  connectors reject a value with more decimals, never rounding it);
- a coded field holds one of the codes the store knows (KNOWN_CODES).

And every value was taken by the connector (contract_sync.columns.REJECTED is empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from contract_sync.columns import CONTRACT_COLUMNS, ITEM_COLUMNS, REJECTED
from contract_sync.erp.vista_schema import BILL_TYPES
from contract_sync.store import schema as s
from contract_sync.store.types import Scaled
from contract_sync.vocabulary import SCALES, ErpStatus

# Control characters (tab, line feed and carriage return are text): NUL and the like.
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# In a code no blank but the space.
CODE_CHARACTERS = r"[\x00-\x1f\x7f\x85\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]"
# Text that says nothing: empty, or white space (and the invisible spaces) only.
BLANK = r"^[\s\u200b\u2060\ufeff]*$"
CODES = {"contract_no", "contract_code", "job_no", "item_no", "item_code"}

FRAME_COLUMNS = {"contracts": CONTRACT_COLUMNS, "items": ITEM_COLUMNS}
# frame -> the store tables that hold its fields under their own names (the store's
# contracts and items, and their last-import baselines)
FIELD_TABLES = {
    "contracts": (s.main_contracts, s.import_baselines),
    "items": (s.line_items, s.baseline_items),
}
# frame -> key -> the store columns that hold it (or are matched with it) under other names
KEYS_HELD_IN: dict[str, dict[str, tuple[sa.Column, ...]]] = {
    "contracts": {
        "contract_no": (s.main_contracts.c.number, s.audit_contracts.c.contract_no),
        "contract_code": (s.main_contracts.c.origin_id,),
        "job_no": (s.synced_jobs.c.erp_job_no,),
    },
    "items": {
        "item_no": (s.baseline_items.c.item_no, s.audit_changes.c.item_no),
        "item_code": (s.line_items.c.origin_id,),
    },
}
# Required although the store column may be NULL: a contract or item made in the store may
# lack these, one from the ERP never does. The ERP's exact text of its keys (origin ids); a
# contract's title and status (its status gives the store contract's, which is NOT NULL);
# an item's description, bill type and unit. Not required: customer, retainage and dates
# (a contract may be set up before they are known), an item's cost code (users often add
# budget codes in the store after import) and tax code (blank for an untaxed item).
ERP_REQUIRED = {
    "contracts": {"contract_code", "title", "erp_status"},
    "items": {"item_code", "description", "line_item_type", "uom"},
}
# frame -> coded field -> the codes the store knows
KNOWN_CODES = {
    "contracts": {"erp_status": [str(status) for status in ErpStatus]},
    "items": {"line_item_type": sorted(BILL_TYPES.values())},
}


@dataclass(frozen=True)
class Limits:
    """What the store holds of one canonical column: the tightest of its store columns."""

    held_in: tuple[sa.Column, ...]
    required: bool
    max_length: int | None = None  # text
    largest: int | None = None  # a number's largest magnitude, scaled as the canonical field
    codes: list[str] | None = None

    @property
    def where(self) -> str:
        return ", ".join(f"{c.table.name}.{c.name}" for c in self.held_in)


def column_limits(frame: str) -> dict[str, Limits]:
    """Limits of every column of a canonical frame the store holds, requires or codes (none
    for a frame validation derives, such as the contracts' aggregates)."""
    found = {}
    for column in FRAME_COLUMNS.get(frame, ()):
        held_in = KEYS_HELD_IN[frame].get(column) or tuple(
            t.c[column] for t in FIELD_TABLES[frame] if column in t.c
        )
        held_in = tuple(c for c in held_in if isinstance(c.type, sa.String | Scaled))
        codes = KNOWN_CODES[frame].get(column)
        required = column in ERP_REQUIRED[frame] or any(not c.nullable for c in held_in)
        if held_in or codes or required:
            found[column] = Limits(
                held_in, required, _max_length(held_in), _largest(column, held_in), codes
            )
    return found


def _max_length(held_in: tuple[sa.Column, ...]) -> int | None:
    lengths = [c.type.length for c in held_in if isinstance(c.type, sa.String) and c.type.length]
    return min(lengths, default=None)


def _largest(field: str, held_in: tuple[sa.Column, ...]) -> int | None:
    """The largest magnitude every Scaled column of `held_in` holds, at the field's scale."""
    numbers = [c for c in held_in if isinstance(c.type, Scaled)]
    for column in numbers:
        if column.type.scale < SCALES[field]:
            raise ValueError(
                f"{column.table.name}.{column.name} keeps {column.type.scale} decimals, "
                f"fewer than {field}'s {SCALES[field]}: values would be rounded"
            )
    return min(
        ((10**c.type.precision - 1) // 10 ** (c.type.scale - SCALES[field]) for c in numbers),
        default=None,
    )


def store_expectations(frame: str) -> list[dict]:
    """Expectation configurations (as in a suite's JSON) for one frame."""
    if frame not in FRAME_COLUMNS:
        return []
    found = [
        {
            "type": "expect_column_values_to_be_null",
            "kwargs": {"column": REJECTED},
            "meta": {"notes": "every ERP value taken by the connector"},
        }
    ]
    for column, limits in column_limits(frame).items():
        found += _expectations(column, limits)
    return found


def _expectations(column: str, limits: Limits) -> list[dict]:
    """A column's expectations, each with its rule in words (the report shows it). Text is
    checked by one regex, for its length, characters and (required) blankness at once:
    each expectation costs Great Expectations a pass of its own."""
    where = f" ({limits.where})" if limits.held_in else ""
    found = []

    def add(kind: str, rule: str, **kwargs: object) -> None:
        found.append(
            {"type": kind, "kwargs": {"column": column, **kwargs}, "meta": {"notes": rule + where}}
        )

    if limits.required:
        add("expect_column_values_to_not_be_null", "required")
    if limits.codes is not None:  # a code fits its column (tests/test_validate_limits.py)
        add("expect_column_values_to_be_in_set", "a code the store knows", value_set=limits.codes)
        return found
    if limits.largest is not None:
        add(
            "expect_column_values_to_be_between",
            "within the store's precision",
            min_value=-limits.largest,
            max_value=limits.largest,
        )
    if limits.max_length is not None:
        code = column in CODES
        rule = [f"at most {limits.max_length} characters"]
        rule.append("no blank but the space" if code else "no control characters")
        regex = [
            f"^(?s:.){{{limits.max_length + 1}}}",
            CODE_CHARACTERS if code else CONTROL_CHARACTERS,
        ]
        if limits.required:
            rule.insert(0, "not blank")
            regex.append(BLANK)
        add("expect_column_values_to_not_match_regex", ", ".join(rule), regex="|".join(regex))
    return found
