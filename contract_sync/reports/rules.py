"""The validation rules in a person's words: each expectation of the suites and of the
store's limits as a sentence ("each item's amount equals quantity × unit cost"), made
from its type and arguments, and each failing row as contract, item, field, value and the
rule it breaks. Read from the suites' JSON: Great Expectations is not imported."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from contract_sync.columns import REJECTED, display
from contract_sync.stages.store_limits import store_expectations
from contract_sync.stages.validate import SUITES
from contract_sync.vocabulary import ERP_STATUS_LABELS, label

# What one row of each suite is, and the suite's heading in a report.
ROW_OF_SUITE = {
    "contract_headers": "contract",
    "line_items": "item",
    "contract_aggregates": "contract",
}
SUITE_TITLES = {
    "contract_headers": "Each contract header",
    "line_items": "Each contract item",
    "contract_aggregates": "Each contract's total",
}
# Keys read better as numbers than as the heading their label is.
NUMBER_NAMES = {"contract_no": "contract number", "item_no": "item number", "job_no": "job number"}
# Derived columns are money: shown as amounts.
AMOUNT_LIKE = {"extended_amount": "amount", "items_total": "amount"}
SHOWN_CODES = 8  # codes a sentence lists of a longer set
MISSING = "(missing)"
# The store columns a store limit's notes end with: what the person reading needs not.
_WHERE = re.compile(r" \((?:[a-z_]+\.[a-z_]+(?:, )?)+\)$")
CHECK_COLUMNS = ["suite", "type", "columns", "sentence", "note"]
FAILURE_COLUMNS = ["contract", "item", "field", "value", "rule"]


def _name(column: str) -> str:
    return NUMBER_NAMES.get(column) or label(column)


def _value(value: object, column: str) -> str:
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return MISSING
    if column == "erp_status":
        return ERP_STATUS_LABELS.get(str(value), str(value))
    return display(value, AMOUNT_LIKE.get(column, column))


def _codes(values: object, column: str) -> str:
    if isinstance(values, dict) and "$PARAMETER" in values:
        if values["$PARAMETER"] == "erp_contract_nos":
            return "one of the ERP's contracts (it has a contract header)"
        return f"one of the values of {values['$PARAMETER'].replace('_', ' ')}"
    values = list(values or [])
    if len(values) == 1:
        return _value(values[0], column)
    shown = ", ".join(_value(v, column) for v in values[:SHOWN_CODES])
    more = f", … ({len(values)} in all)" if len(values) > SHOWN_CODES else ""
    return f"one of {shown}{more}"


def _between(low: object, high: object, column: str, unit: str = "") -> str:
    if low is not None and high is not None:
        return f"between {_value(low, column)} and {_value(high, column)}{unit}"
    if low is not None:
        return f"at least {_value(low, column)}{unit}"
    return f"at most {_value(high, column)}{unit}"


def _pattern(subject: str, kwargs: dict, notes: str | None, negated: bool) -> str:
    if notes:
        return f"{subject}: {_WHERE.sub('', notes)}"
    verb = "does not match" if negated else "matches"
    return f"{subject} {verb} the pattern {kwargs.get('regex')}"


def _not_null(subject: str, row: str, kw: dict, notes: str | None) -> str:
    return f"{subject} is filled in"


def _null(subject: str, row: str, kw: dict, notes: str | None) -> str:
    if kw.get("column") == REJECTED:
        return f"every value of each {row} was read from the ERP (none was rejected)"
    return f"{subject} is empty"


def _unique(subject: str, row: str, kw: dict, notes: str | None) -> str:
    columns = kw.get("column_list") or [kw.get("column")]
    return f"no two {row}s have the same {' and '.join(map(_name, columns))}"


def _in_set(subject: str, row: str, kw: dict, notes: str | None) -> str:
    return f"{subject} is {_codes(kw.get('value_set'), kw.get('column', ''))}"


def _range(subject: str, row: str, kw: dict, notes: str | None) -> str:
    column = kw.get("column", "")
    return f"{subject} is {_between(kw.get('min_value'), kw.get('max_value'), column)}"


def _lengths(subject: str, row: str, kw: dict, notes: str | None) -> str:
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is not None and high is not None:
        return f"{subject} is {low} to {high} characters long"
    return f"{subject} is {_between(low, high, '', ' characters')} long"


def _pair(subject: str, row: str, kw: dict, notes: str | None) -> str:
    return f"each {row}'s {_name(kw['column_A'])} equals {_name(kw['column_B'])}"


# expectation type -> its sentence from (the row's field, the row, kwargs, notes)
SENTENCES: dict[str, Callable[[str, str, dict, str | None], str]] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_null": _null,
    "expect_column_values_to_be_unique": _unique,
    "expect_compound_columns_to_be_unique": _unique,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_between": _range,
    "expect_column_value_lengths_to_be_between": _lengths,
    "expect_column_values_to_match_regex": lambda s, r, kw, n: _pattern(s, kw, n, False),
    "expect_column_values_to_not_match_regex": lambda s, r, kw, n: _pattern(s, kw, n, True),
    "expect_column_pair_values_to_be_equal": _pair,
}


def columns_of(kwargs: dict) -> tuple[str, ...]:
    """The columns an expectation checks, in the order a failing row's values name them."""
    named = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    return (*named, *(kwargs.get("column_list") or []))


def _condition(kwargs: dict) -> str:
    condition = kwargs.get("row_condition")
    if not condition:
        return ""
    if isinstance(condition, dict) and condition.get("type") == "comparison":
        column = (condition.get("column") or {}).get("name", "")
        value = condition.get("parameter")
        operator = {"==": "is", "!=": "is not"}.get(condition.get("operator"))
        if operator:
            return f" when its {_name(column)} {operator} {_value(value, column)}"
    return f" (where {condition})"


def sentence(suite: str, expectation: dict) -> str:
    """One expectation (as in a suite's JSON) as a sentence; a type without words of its
    own reads as its name and arguments."""
    kind, kwargs = expectation.get("type", ""), expectation.get("kwargs") or {}
    notes = (expectation.get("meta") or {}).get("notes")
    row = ROW_OF_SUITE.get(suite, "row")
    columns = columns_of(kwargs)
    subject = f"each {row}'s {' and '.join(map(_name, columns)) or 'row'}"
    words = SENTENCES.get(kind)
    if words is None:
        said = kind.removeprefix("expect_").replace("_", " ")
        rest = [
            f"{k.replace('_', ' ')} {v}"
            for k, v in kwargs.items()
            if k not in ("column", "column_A", "column_B", "column_list", "row_condition")
        ]
        text = f"{subject}: {said}" + (f" ({', '.join(rest)})" if rest else "")
    else:
        text = words(subject, row, kwargs, notes)
    return text + _condition(kwargs)


def checks(suites_dir: Path | None) -> pd.DataFrame:
    """Every expectation a validation checks, suite by suite (its own, then the store's
    limits it does not say already), each with its sentence and the suite's note on it
    where the sentence does not say it already."""
    rows = []
    for suite, (frame, _keys) in SUITES.items():
        path = None if suites_dir is None else suites_dir / f"{suite}.json"
        own = json.loads(path.read_text()).get("expectations", []) if path else []
        said = {_key(e) for e in own}
        limits = [e for e in store_expectations(frame) if _key(e) not in said]
        for expectation in [*own, *limits]:
            said = sentence(suite, expectation)
            notes = (expectation.get("meta") or {}).get("notes") or ""
            note = "" if expectation not in own or _WHERE.sub("", notes) in said else notes
            kwargs = expectation.get("kwargs") or {}
            rows.append((suite, expectation.get("type"), columns_of(kwargs), said, note))
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


def _key(expectation: dict) -> str:
    """What an expectation checks: the store's limits leave out one a suite says already
    (as stages.validate.load_suite does)."""
    return json.dumps([expectation.get("type"), expectation.get("kwargs")], sort_keys=True)


def failure_rows(
    failures: list[tuple[str, dict]], known: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Failing rows (contract number, a failed_expectations detail) as contract, item,
    field, value and the rule in words; a value the ERP connector rejected is one row per
    field with what was wrong. `known`: checks(), whose sentences say each rule with its
    arguments (without, the rule reads from the type and the row's columns alone)."""
    sentences: dict[tuple, str] = {}
    if known is not None:
        keyed = known[["suite", "type", "columns", "sentence"]].itertuples(index=False)
        for suite, kind, columns, said in keyed:
            sentences.setdefault((suite, kind, columns), said)
    rows = []
    for contract, detail in failures:
        suite, kind = detail.get("suite", ""), detail.get("expectation", "")
        values = detail.get("values") or {}
        item = detail.get("item_no") or ""
        if kind == "expect_column_values_to_be_null" and REJECTED not in values and values:
            rule = sentence(suite, {"type": kind, "kwargs": {"column": REJECTED}})
            rows += [(contract, item, _name(f), str(said), rule) for f, said in values.items()]
            continue
        columns = tuple(values)
        rule = sentences.get((suite, kind, columns)) or sentence(
            suite, {"type": kind, "kwargs": _guessed(kind, columns)}
        )
        rows.append((contract, item, *_field_and_value(kind, values), rule))
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


def _guessed(kind: str, columns: tuple[str, ...]) -> dict:
    """An expectation's arguments as far as a failing row's columns tell them."""
    if kind == "expect_column_pair_values_to_be_equal" and len(columns) == 2:
        return {"column_A": columns[0], "column_B": columns[1]}
    if len(columns) == 1:
        return {"column": columns[0]}
    return {"column_list": list(columns)}


def _field_and_value(kind: str, values: dict) -> tuple[str, str]:
    if not values:
        return "", ""
    columns = list(values)
    if kind == "expect_column_pair_values_to_be_equal" and len(columns) == 2:
        first, second = columns
        other = f"{_name(second)}: {_value(values[second], second)}"
        return _name(first), f"{_value(values[first], first)} ({other})"
    shown = ", ".join(_value(values[c], c) for c in columns)
    return ", ".join(map(_name, columns)), shown
