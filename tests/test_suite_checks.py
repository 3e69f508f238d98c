"""The suites checked without Great Expectations (stages/suite_checks.py) give GX's answer:
on fuzzed ERP frames, with the project's suites and with suites using the other arguments
the native checks accept, validate's failures (each contract, expectation, item, values and
rule, in order) are the same as when GX runs them. And a suite holding anything the checks
do not know runs in GX."""

from __future__ import annotations

import json
import shutil
from contextlib import nullcontext
from pathlib import Path
from unittest.mock import patch

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_sync.demo.generator import generate_company
from contract_sync.model import ErpFrames
from contract_sync.stages import validate as validate_module
from contract_sync.stages.suite_checks import known
from contract_sync.stages.validate import SuiteFileError, checked_without_gx, run_suites

SUITES = Path(__file__).resolve().parent.parent / "expectations"

# Text that each check treats apart: blanks and invisible spaces, control characters, a
# no-break space, long text, codes of the suites' sets, a lump sum, odd Unicode.
TEXTS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\t",
            "\u00a0",
            "\u200b",
            "\x00",
            "LS",
            "EA",
            "ls",
            "open",
            "hard_close",
            "progress",
            "24001-",
            "00005",
            "A" * 61,
            "Ä" * 30,
            "é\u0301",
            "x\ny",
            "💡",
            "-1",
        ]
    ),
    st.text(max_size=70),
)
NUMBERS = st.one_of(
    st.sampled_from(
        [0, -1, 1, 10_000, 10_001, 10**17, -(10**17), 10**18 - 1, 2**53, 2**53 + 1, -(2**53) - 1]
    ),
    st.integers(min_value=-(2**62), max_value=2**62),
)


def _company(seed: int) -> ErpFrames:
    data = generate_company(3, 4, 3, seed=seed)
    return ErpFrames(data.contracts.copy(), data.items.copy())


@st.composite
def fuzzed(draw: st.DrawFn) -> ErpFrames:
    """A small company with cells set to what the checks treat apart, rows copied (their
    keys then repeat) and rows dropped."""
    erp = _company(draw(st.integers(0, 3)))
    frames = {"contracts": erp.contracts, "items": erp.items}
    for _ in range(draw(st.integers(0, 12))):
        name = draw(st.sampled_from(sorted(frames)))
        frame = frames[name]
        row = draw(st.integers(0, len(frame) - 1))
        action = draw(st.sampled_from(["set", "set", "set", "missing", "copy", "drop"]))
        if action == "copy":
            frames[name] = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
            continue
        if action == "drop" and len(frame) > 1:
            frames[name] = frame.drop(frame.index[row]).reset_index(drop=True)
            continue
        column = draw(st.sampled_from([c for c in frame.columns if c != "erp_company"]))
        if column in ("start_date", "projected_completion"):
            continue
        if column == "position":  # int64: never missing
            frame.loc[frame.index[row], column] = draw(NUMBERS)
        elif action == "missing":
            frame.loc[frame.index[row], column] = pd.NA
        elif str(frame[column].dtype) == "Int64":
            frame.loc[frame.index[row], column] = draw(NUMBERS)
        elif column == "rejected_values":
            frame.loc[frame.index[row], column] = json.dumps({"amount": "abc"})
        else:
            frame.loc[frame.index[row], column] = draw(TEXTS)
    return ErpFrames(frames["contracts"], frames["items"])


def _said(erp: ErpFrames, suites: Path, *, in_gx: bool, here: bool = True) -> tuple[list, list]:
    """What validate finds, in GX or without it (asserted, where `here`)."""
    without_gx = not in_gx and here
    with patch.object(validate_module, "_failed_in_gx", _never) if without_gx else nullcontext():
        found = run_suites(erp, suites, in_gx=in_gx)
    failures = [
        (None if pd.isna(number) else number, details)
        for number, details in zip(
            found.failures["contract_no"], found.failures["failed_expectations"], strict=True
        )
    ]
    return list(found.invalid_contracts), failures


# Suites with the other arguments the native checks take: strict bounds, lengths, a
# not-equal row condition, the ways a pair or compound leaves out missing values, a pair of
# two kinds.
OTHER_ARGUMENTS = [
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "position", "min_value": 1, "max_value": 2**53},
    },
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "amount", "min_value": -(2**53), "max_value": 2**53 - 1},
    },
    {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {
            "column": "unit_cost",
            "value_set": [0, None, True, "0", 25662000],
            "row_condition": {
                "type": "comparison",
                "column": {"name": "quantity"},
                "operator": "==",
                "parameter": 0,
            },
        },
    },
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "quantity", "min_value": 0, "max_value": 10**9, "strict_min": True},
    },
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "unit_cost", "max_value": 10**8, "strict_max": True},
    },
    {
        "type": "expect_column_value_lengths_to_be_between",
        "kwargs": {"column": "item_no", "min_value": 5, "max_value": 5, "strict_min": False},
    },
    {
        "type": "expect_column_values_to_match_regex",
        "kwargs": {"column": "cost_code", "regex": r"^\d\d-\d{4}$"},
    },
    {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {
            "column": "tax_code",
            "value_set": ["ST", "EX"],
            "row_condition": {
                "type": "comparison",
                "column": {"name": "line_item_type"},
                "operator": "!=",
                "parameter": "progress",
            },
        },
    },
    {
        "type": "expect_column_pair_values_to_be_equal",
        "kwargs": {
            "column_A": "item_no",
            "column_B": "item_code",
            "ignore_row_if": "either_value_is_missing",
        },
    },
    {
        "type": "expect_column_pair_values_to_be_equal",
        "kwargs": {"column_A": "cost_code", "column_B": "tax_code", "ignore_row_if": "neither"},
    },
    {  # a pair of two kinds: a number never equals a text
        "type": "expect_column_pair_values_to_be_equal",
        "kwargs": {
            "column_A": "quantity",
            "column_B": "cost_code",
            "ignore_row_if": "either_value_is_missing",
        },
    },
    {
        "type": "expect_compound_columns_to_be_unique",
        "kwargs": {
            "column_list": ["contract_no", "description"],
            "ignore_row_if": "any_value_is_missing",
        },
    },
    {
        "type": "expect_compound_columns_to_be_unique",
        "kwargs": {"column_list": ["uom", "cost_code"], "ignore_row_if": "never"},
    },
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "item_code"}},
    {
        "type": "expect_column_values_to_be_null",
        "kwargs": {"column": "tax_code"},
        "meta": {"notes": "untaxed"},
    },
]


@pytest.fixture(scope="module")
def other_suites(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("suites")
    shutil.copytree(SUITES, folder, dirs_exist_ok=True)
    path = folder / "line_items.json"
    document = json.loads(path.read_text())
    document["expectations"] += OTHER_ARGUMENTS
    path.write_text(json.dumps(document))
    return folder


FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(erp=fuzzed())
def test_the_project_suites_give_gx_answer_on_fuzzed_frames(erp):
    assert _said(erp, SUITES, in_gx=False) == _said(erp, SUITES, in_gx=True)


@FUZZ
@given(erp=fuzzed())
def test_suites_with_the_other_arguments_give_gx_answer_on_fuzzed_frames(erp, other_suites):
    here = erp.items["position"].abs().max() <= 2**53  # beyond, GX compares floats: GX runs
    assert _said(erp, other_suites, in_gx=False, here=here) == _said(erp, other_suites, in_gx=True)


def test_the_project_suites_are_checked_without_gx(monkeypatch):
    """With every expectation known, GX is never asked (the fuzz above then compares)."""
    monkeypatch.setattr(validate_module, "_failed_in_gx", _never)
    erp = _company(1)
    erp.items.loc[0, "uom"] = "BOX"
    invalid, _failures = _said(erp, SUITES, in_gx=False)
    assert invalid == [erp.items.loc[0, "contract_no"]]


@pytest.mark.parametrize(
    "unknown",
    [
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "uom", "value_set": ["LS"], "mostly": 0.5},
        },
        {
            "type": "expect_column_mean_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0},
        },
        {  # GX takes the bound as a float, 1e17: only GX gives GX's answer then
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "quantity", "max_value": 10**17 + 1},
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {
                "column": "quantity",
                "value_set": [0, 0.5],
                "row_condition": {
                    "type": "comparison",
                    "column": {"name": "uom"},
                    "operator": "==",
                    "parameter": "LS",
                },
            },
        },
    ],
)
def test_a_suite_with_what_the_checks_do_not_know_runs_in_gx(unknown, tmp_path, monkeypatch):
    shutil.copytree(SUITES, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "line_items.json"
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "expectations": [*document["expectations"], unknown]}))
    asked = []
    real = validate_module._failed_in_gx
    monkeypatch.setattr(
        validate_module, "_failed_in_gx", lambda *a: asked.append(a[1].stem) or real(*a)
    )
    run_suites(_company(2), tmp_path)
    assert asked == ["contract_headers", "line_items", "contract_aggregates"]


REFUSED_BY_GX = {
    "no name": lambda suite: {k: v for k, v in suite.items() if k != "name"},
    "an empty name": lambda suite: {**suite, "name": ""},
    "meta not an object": lambda suite: {**suite, "meta": ["a"]},
    "an id not a text": lambda suite: _with(
        suite,
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "uom"}, "id": {}},
    ),
    "a compound of one column": lambda suite: _with(
        suite,
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["item_no"]}},
    ),
    "a condition parser": lambda suite: _with(
        suite,
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "uom", "row_condition": 'uom=="LS"', "condition_parser": "foo"},
        },
    ),
}


def _with(suite: dict, expectation: dict) -> dict:
    return {**suite, "expectations": [*suite["expectations"], expectation]}


@pytest.mark.parametrize("refused", sorted(REFUSED_BY_GX))
def test_a_suite_gx_refuses_is_not_checked_here(refused, tmp_path):
    """GX's refusal, in its words, is what the run reports: never a verdict from here."""
    shutil.copytree(SUITES, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "line_items.json"
    suite = REFUSED_BY_GX[refused](json.loads(path.read_text()))
    assert not known(suite)
    path.write_text(json.dumps(suite))
    assert not checked_without_gx(tmp_path)
    with pytest.raises(SuiteFileError):
        run_suites(_company(0), tmp_path)


def test_two_suites_of_one_name_are_not_checked_here(tmp_path):
    shutil.copytree(SUITES, tmp_path, dirs_exist_ok=True)
    assert checked_without_gx(tmp_path)
    path = tmp_path / "line_items.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "name": "contract_headers"}))
    assert not checked_without_gx(tmp_path)


def test_a_regex_that_does_not_compile_is_left_to_gx():
    suite = {"name": "s", "expectations": []}
    bad = {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "uom", "regex": "("}}
    assert known(suite) and not known(_with(suite, bad))


def _never(*_args):
    raise AssertionError("Great Expectations was asked")


def test_a_row_whose_condition_column_is_missing_is_kept_by_a_not_equal_condition(other_suites):
    """GX compares a condition on plain values, where a missing one is not equal to any: the
    row is checked (on pandas' NA it would be left out)."""
    erp = _company(0)
    row = erp.items.index[0]
    erp.items.loc[row, "line_item_type"] = pd.NA  # != "progress": checked for its tax code
    erp.items.loc[row, "tax_code"] = "ZZ"
    invalid, failures = _said(erp, other_suites, in_gx=False)
    [details] = [d for number, d in failures if number == erp.items.loc[row, "contract_no"]]
    in_set = "expect_column_values_to_be_in_set"
    assert any(d["expectation"] == in_set and d["values"] == {"tax_code": "ZZ"} for d in details)
    assert (invalid, failures) == _said(erp, other_suites, in_gx=True)
