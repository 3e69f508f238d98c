"""The suites' expectations checked over the frames directly, as Great Expectations' pandas
engine checks them, without loading GX or paying its costs per expectation (its graph of
metrics, a hash of the whole frame per batch, a Python call per value for a range).

Only what is known to give GX's answer is checked here (`checkable`): the expectation types
of NATIVE, with the arguments listed, and no `mostly`. A suite holding anything else is run
in GX as before (validate.run_suites decides). The answers are GX's, row for row: each
check is GX 1.x's own pandas expression over the rows GX's domain keeps (nulls left out of a
column's check, a pair's rows both missing, a compound's rows all missing, a row condition
applied first), and tests/test_suite_checks.py compares both on fuzzed frames.

The checks take the frames in their own types (pandas' nullable integers and text), where
GX takes their plain_values: converting every number to a Python object, and back for a
range, took half of a validation. Where a plain value could answer otherwise (a set of
mixed values, a pair of two kinds, a row condition), the check takes the plain values of
its columns alone. A failing row is given as GX's `unexpected_index_list` gives it, in
plain values: the key columns and the checked columns, by name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

# suite document and expectation fields this module understands (anything else: GX)
DOCUMENT_FIELDS = {"name", "id", "meta", "notes", "expectations"}
EXPECTATION_FIELDS = {"type", "kwargs", "meta", "id", "notes"}
COLUMN = {"column", "row_condition"}
# expectation type -> the kwargs it may have here
NATIVE: dict[str, set[str]] = {
    "expect_column_values_to_not_be_null": COLUMN,
    "expect_column_values_to_be_null": COLUMN,
    "expect_column_values_to_be_unique": COLUMN,
    "expect_column_values_to_be_in_set": COLUMN | {"value_set"},
    "expect_column_values_to_be_between": COLUMN
    | {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_value_lengths_to_be_between": COLUMN
    | {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_values_to_match_regex": COLUMN | {"regex"},
    "expect_column_values_to_not_match_regex": COLUMN | {"regex"},
    "expect_column_pair_values_to_be_equal": {
        "column_A",
        "column_B",
        "ignore_row_if",
        "row_condition",
    },
    "expect_compound_columns_to_be_unique": {
        "column_list",
        "ignore_row_if",
        "row_condition",
    },
}
PAIR_IGNORED = {"both_values_are_missing": "all", "either_value_is_missing": "any", "neither": None}
COMPOUND_IGNORED = {"all_values_are_missing": "all", "any_value_is_missing": "any", "never": None}
CONDITION_OPERATORS = {"==": np.equal, "!=": np.not_equal}
# GX takes a range's bounds as floats: integers up to this one are the same as floats.
EXACT_IN_FLOAT = 2**53


def plain_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Values GX compares without tripping on pandas' NA: text as `str`, exact numbers as
    Python ints with None where missing (pd.NA makes GX's pair and set checks raise inside,
    and a check that raised reports no failing row)."""
    strings = frame.select_dtypes(include=["string"]).columns
    numbers = frame.select_dtypes(include=["Int64"]).columns
    plain = frame.astype(dict.fromkeys(strings, "str"))
    return plain.assign(
        **{c: plain[c].astype(object).where(plain[c].notna(), None) for c in numbers}
    )


def _plain(values: pd.Series) -> pd.Series:
    """One column's plain_values."""
    return plain_values(values.to_frame())[values.name]


class Outcome(NamedTuple):
    """A failed expectation and the rows it names, as GX reports them."""

    type: str
    kwargs: dict
    meta: dict
    failing: list[dict]


def checkable(document: object, frame: pd.DataFrame, parameters: dict) -> bool:
    """Whether every expectation of the suite `document` (its JSON, the store's limits
    added) is checked here with GX's answer, on `frame`'s columns."""
    return known(document) and all(
        _fits(e["type"], e.get("kwargs", {}), frame, parameters) for e in document["expectations"]
    )


def known(document: object) -> bool:
    """Whether the suite `document` holds only expectation types, arguments and forms of
    them that are checked here, in a document GX takes (whatever the frame: its columns are
    checked by `checkable`)."""
    if not isinstance(document, dict) or not set(document) <= DOCUMENT_FIELDS:
        return False
    expectations = document.get("expectations", [])
    return (
        _text(document.get("name"))
        and _described(document)
        and isinstance(expectations, list)
        and all(_known(e) for e in expectations)
    )


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _described(part: dict) -> bool:
    """Its meta, id and notes of the forms GX takes."""
    return (
        isinstance(part.get("meta", {}), dict)
        and (part.get("id") is None or isinstance(part["id"], str))
        and (part.get("notes") is None or isinstance(part["notes"], str | list))
    )


def _known(expectation: object) -> bool:
    if not isinstance(expectation, dict) or not set(expectation) <= EXPECTATION_FIELDS:
        return False
    kind, kwargs = expectation.get("type"), expectation.get("kwargs", {})
    if kind not in NATIVE or not isinstance(kwargs, dict) or not set(kwargs) <= NATIVE[kind]:
        return False
    columns = _columns(kwargs)
    return (
        _described(expectation)
        and bool(columns)
        and all(isinstance(c, str) for c in columns)
        and _arguments_known(kind, kwargs)
    )


def _fits(kind: str, kwargs: dict, frame: pd.DataFrame, parameters: dict) -> bool:
    """The expectation's columns are in `frame`, with values of the kind it checks."""
    if not all(c in frame.columns for c in _columns(kwargs)):
        return False
    if "row_condition" in kwargs and _condition(kwargs["row_condition"], frame) is None:
        return False
    if kind == "expect_column_values_to_be_in_set":
        return _value_set(kwargs.get("value_set"), parameters) is not None
    if kind == "expect_column_values_to_be_between":
        return _whole_numbers(frame[kwargs["column"]])
    return True


def _arguments_known(kind: str, kwargs: dict) -> bool:
    """The arguments are of the forms whose answer here is GX's (else GX runs, and says
    what is wrong with them)."""
    if "row_condition" in kwargs and not _condition_known(kwargs["row_condition"]):
        return False
    if kind == "expect_column_values_to_be_in_set":
        value_set = kwargs.get("value_set")
        return _parameter_name(value_set) is not None or _value_set(value_set, {}) is not None
    if kind == "expect_column_values_to_be_between":
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        numbers = [b for b in bounds if b is not None]
        return (
            bool(numbers)
            and all(type(b) is int and abs(b) <= EXACT_IN_FLOAT for b in numbers)
            and (len(numbers) < 2 or numbers[0] <= numbers[1])
            and _flags(kwargs)
        )
    if kind == "expect_column_value_lengths_to_be_between":
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        numbers = [b for b in bounds if b is not None]
        return bool(numbers) and all(type(b) is int for b in numbers) and _flags(kwargs)
    if kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        return isinstance(kwargs.get("regex"), str) and _compiles(kwargs["regex"])
    if kind == "expect_column_pair_values_to_be_equal":
        return kwargs.get("ignore_row_if", "both_values_are_missing") in PAIR_IGNORED
    if kind == "expect_compound_columns_to_be_unique":
        return (
            len(kwargs["column_list"]) >= 2
            and kwargs.get("ignore_row_if", "all_values_are_missing") in COMPOUND_IGNORED
        )
    return True


def _compiles(regex: str) -> bool:
    try:
        re.compile(regex)
    except re.error:
        return False
    return True


def _flags(kwargs: dict) -> bool:
    return all(type(kwargs.get(f, False)) is bool for f in ("strict_min", "strict_max"))


def _whole_numbers(column: pd.Series) -> bool:
    """A column of Python integers and missing values, as validate's frames hold exact
    numbers (GX compares each with its bound, a float, in Python: exactly, as here); or of
    a numpy integer dtype within EXACT_IN_FLOAT (GX compares those in float64)."""
    if isinstance(column.dtype, pd.Int64Dtype):  # exact numbers: Python integers to GX
        return True
    if pd.api.types.is_integer_dtype(column.dtype):
        return bool(column.abs().max() <= EXACT_IN_FLOAT) if len(column.dropna()) else True
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in (
        "integer",
        "empty",
    )


def _columns(kwargs: dict) -> list:
    if "column_list" in kwargs:
        listed = kwargs["column_list"]
        return list(listed) if isinstance(listed, list) and listed else []
    if "column_A" in kwargs or "column_B" in kwargs:
        return [kwargs.get("column_A"), kwargs.get("column_B")]
    return [kwargs.get("column")]


def _parameter_name(value_set: object) -> str | None:
    if isinstance(value_set, dict) and set(value_set) == {"$PARAMETER"}:
        name = value_set["$PARAMETER"]
        return name if isinstance(name, str) else None
    return None


def _value_set(value_set: object, parameters: dict) -> list | None:
    if (name := _parameter_name(value_set)) is not None:
        value_set = parameters.get(name)
    if not isinstance(value_set, list) or not all(
        type(v) in (str, int, bool) or v is None for v in value_set
    ):
        return None
    return value_set


def _condition_known(condition: object) -> bool:
    """A row condition of GX 1.x's form `{"type": "comparison", "column": {"name": c},
    "operator": "==" | "!=", "parameter": v}`, v a text or an integer."""
    if not isinstance(condition, dict) or condition.get("type") != "comparison":
        return False
    if set(condition) != {"type", "column", "operator", "parameter"}:
        return False
    column = condition["column"]
    return (
        isinstance(column, dict)
        and set(column) == {"name"}
        and isinstance(column["name"], str)
        and condition["operator"] in CONDITION_OPERATORS
        and type(condition["parameter"]) in (str, int)
    )


def _condition(condition: dict, frame: pd.DataFrame) -> Callable | None:
    """A known row condition as a function of the frame giving the rows it keeps; None
    when its column is not in `frame`."""
    name = condition["column"]["name"]
    if name not in frame.columns:
        return None
    operator, value = CONDITION_OPERATORS[condition["operator"]], condition["parameter"]
    return lambda rows: rows[operator(_plain(rows[name]), value).fillna(False).astype(bool)]


def failed(
    expectations: list[dict], frame: pd.DataFrame, keys: list[str], parameters: dict
) -> list[Outcome]:
    """Each expectation `frame` fails, with its failing rows, in the order GX reports them."""
    found = []
    for expectation in in_gx_order(expectations):
        kwargs = expectation.get("kwargs", {})
        rows = frame
        if "row_condition" in kwargs:
            rows = _condition(kwargs["row_condition"], frame)(frame)
        unexpected, shown = _unexpected(expectation["type"], kwargs, rows, parameters)
        if unexpected.any():
            names = list(dict.fromkeys([k for k in keys if k in rows.columns] + shown))
            failing = plain_values(rows.loc[unexpected[unexpected].index, names])
            failing = failing.to_dict("records")
            found.append(Outcome(expectation["type"], kwargs, expectation.get("meta", {}), failing))
    return found


def in_gx_order(expectations: list[dict]) -> list[dict]:
    """The order GX 1.x validates a suite in (Validator.process_expectations_for_validation):
    grouped by `column` in the order each column first appears, those without one together
    where the first of them is."""
    groups: dict[object, list[dict]] = {}
    for expectation in expectations:
        column = expectation.get("kwargs", {}).get("column")
        groups.setdefault(column if isinstance(column, str) else None, []).append(expectation)
    return [expectation for group in groups.values() for expectation in group]


def _unexpected(
    kind: str, kwargs: dict, rows: pd.DataFrame, parameters: dict
) -> tuple[pd.Series, list[str]]:
    """Per row of `rows`: whether it is one GX finds unexpected; and the columns shown."""
    if kind == "expect_column_pair_values_to_be_equal":
        a, b = kwargs["column_A"], kwargs["column_B"]
        how = PAIR_IGNORED[kwargs.get("ignore_row_if", "both_values_are_missing")]
        kept = rows if how is None else rows.dropna(how=how, subset=[a, b])
        pair = kept[[a, b]] if kept[a].dtype == kept[b].dtype else plain_values(kept[[a, b]])
        equal = (pair[a] == pair[b]).fillna(False)  # a missing value equals nothing, as in GX
        return _on(rows, ~equal.astype(bool)), [a, b]
    if kind == "expect_compound_columns_to_be_unique":
        listed = kwargs["column_list"]
        how = COMPOUND_IGNORED[kwargs.get("ignore_row_if", "all_values_are_missing")]
        kept = rows if how is None else rows.dropna(how=how, subset=listed)
        return _on(rows, kept[listed].duplicated(keep=False)), listed
    column = kwargs["column"]
    values = rows[column]
    if kind == "expect_column_values_to_not_be_null":
        return values.isnull(), [column]
    if kind == "expect_column_values_to_be_null":
        return values.notnull(), [column]
    present = values[values.notnull()]
    return _on(rows, ~_expected(kind, kwargs, present, parameters)), [column]


def _expected(kind: str, kwargs: dict, values: pd.Series, parameters: dict) -> pd.Series:
    """GX's pandas expression for a column's values that are present."""
    if kind == "expect_column_values_to_be_unique":
        return ~values.duplicated(keep=False)
    if kind == "expect_column_values_to_be_in_set":  # among Python objects: 1 == True
        return _plain(values).isin(_value_set(kwargs.get("value_set"), parameters))
    if kind == "expect_column_values_to_be_between":
        return _between(values.astype("Int64"), kwargs)
    if kind == "expect_column_value_lengths_to_be_between":
        return _between(values.astype(str).str.len(), kwargs)
    contains = _contains(values.astype(str), kwargs["regex"])
    return contains if kind == "expect_column_values_to_match_regex" else ~contains


def _contains(text: pd.Series, regex: str) -> pd.Series:
    """GX's `str.contains(regex)`, searched once per distinct value (codes, units and
    descriptions repeat across a company's items)."""
    codes, distinct = pd.factorize(text)
    found = pd.Series(distinct).str.contains(regex).to_numpy(dtype=bool)
    return pd.Series(found[codes], index=text.index)


def _between(values: pd.Series, kwargs: dict) -> pd.Series:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    inside = pd.Series(True, index=values.index)
    if low is not None:
        inside &= (values > low) if kwargs.get("strict_min") else (values >= low)
    if high is not None:
        inside &= (values < high) if kwargs.get("strict_max") else (values <= high)
    return inside.astype(bool)


def _on(rows: pd.DataFrame, unexpected: pd.Series) -> pd.Series:
    """`unexpected` (over some of `rows`) over all of them: False where not checked."""
    return unexpected.astype(bool).reindex(rows.index, fill_value=False)
