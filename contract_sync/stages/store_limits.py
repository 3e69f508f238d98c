"""The expectations the store's schema implies, added to the suites at validation time:
every text that is written to the store fits its column and holds no control character,
and every code is one the store knows. Derived from the schema itself, so the suites and
the store never disagree (and the outcome never depends on the database)."""

from __future__ import annotations

import sqlalchemy as sa

from contract_sync.erp.vista_schema import BILL_TYPES
from contract_sync.store import schema as s

# Control characters (tab, line feed and carriage return are text): NUL and the like.
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# In a code no blank but the space: a tab or a no-break space would make two codes that
# read alike match differently in Python and in SQL.
CODE_CHARACTERS = r"[\x00-\x1f\x7f\x85\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]"
CODES = {"contract_no", "contract_code", "job_no", "item_no", "item_code"}

# frame -> canonical column -> the store column it is written to
WRITTEN_TO: dict[str, dict[str, sa.Column]] = {
    "contracts": {
        "contract_no": s.main_contracts.c.number,
        "contract_code": s.main_contracts.c.origin_id,
        "job_no": s.synced_jobs.c.erp_job_no,
        "title": s.main_contracts.c.title,
        "customer": s.main_contracts.c.customer,
    },
    "items": {
        "item_no": s.baseline_items.c.item_no,
        "item_code": s.line_items.c.origin_id,
        "description": s.line_items.c.description,
        "cost_code": s.line_items.c.cost_code,
        "line_item_type": s.line_items.c.line_item_type,
        "uom": s.line_items.c.uom,
        "tax_code": s.line_items.c.tax_code,
    },
}
KNOWN_CODES = {"items": {"line_item_type": sorted(BILL_TYPES.values())}}


def store_expectations(frame: str) -> list[dict]:
    """Expectation configurations (as in a suite's JSON) for one frame."""
    found = []
    for column, target in WRITTEN_TO.get(frame, {}).items():
        where = {"store_column": f"{target.table.name}.{target.name}"}
        found.append(
            {
                "type": "expect_column_value_lengths_to_be_between",
                "kwargs": {"column": column, "max_value": target.type.length},
                "meta": where,
            }
        )
        found.append(
            {
                "type": "expect_column_values_to_not_match_regex",
                "kwargs": {
                    "column": column,
                    "regex": CODE_CHARACTERS if column in CODES else CONTROL_CHARACTERS,
                },
                "meta": where,
            }
        )
    for column, codes in KNOWN_CODES.get(frame, {}).items():
        found.append(
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": column, "value_set": codes},
            }
        )
    return found
