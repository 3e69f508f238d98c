"""Text in Arrow or in Python objects: the product answers the same in either storage.

pandas keeps text in Arrow as soon as pyarrow is importable; `make test-arrow` runs the
whole suite so. Here both storages meet in one process where pyarrow is installed (the
Arrow cases are skipped where it is not; every other test then uses Python storage).
"""

from __future__ import annotations

import importlib.util
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_sync import columns
from contract_sync.columns import is_in, lookup
from contract_sync.model import ErpFrames
from contract_sync.stages.compare import compare, same_values
from contract_sync.stages.validate import validate
from contract_sync.store.validation_cache import ValidationCache
from tests.frames import contracts_frame, item, items_frame, make_state
from tests.test_validate import SUITES, broken_company

HAS_ARROW = importlib.util.find_spec("pyarrow") is not None
ARROW = pytest.mark.skipif(not HAS_ARROW, reason="pyarrow is not installed")
STORAGES = ["python", pytest.param("pyarrow", marks=ARROW)]


def stored_as(frame: pd.DataFrame, storage: str) -> pd.DataFrame:
    """`frame` with every text column kept in `storage`, its missing-value marker kept."""
    text = {
        column: pd.StringDtype(storage, na_value=dtype.na_value)
        for column, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.StringDtype)
    }
    assert text, "a frame with no text column proves nothing here"
    return frame.astype(text)


@pytest.mark.parametrize("storage", STORAGES)
def test_text_is_the_same_value_or_missing_on_both_sides(storage):
    left = pd.array(["a", None, "b", None, ""], dtype=pd.StringDtype(storage))
    right = pd.array(["a", None, "c", "x", None], dtype=pd.StringDtype(storage))
    assert same_values(left, right).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("storage", STORAGES)
def test_a_lookup_keeps_lists_as_lists(storage):
    keys = pd.Series(["C2", "C9", "C1"], dtype=pd.StringDtype(storage, na_value=float("nan")))
    failures = pd.Series([[{"field": "uom"}], []], index=["C1", "C2"], dtype=object)
    found = lookup(keys, failures)
    assert found.tolist()[0] == [] and found.tolist()[2] == [{"field": "uom"}]
    assert pd.isna(found.iloc[1]) and found.dtype == object
    assert all(isinstance(value, list) for value in found.dropna())


CONTRACTS = contracts_frame("C1", "C2")
ITEMS = items_frame(
    item("C1", "10", description="Concrete"),
    item("C1", "20", cost_code="01-100"),
    item("C2", "10"),
)
EDITED = items_frame(
    item("C1", "10", description=None),  # a description emptied in the ERP
    item("C1", "30", description="Rebar"),  # added; 20 removed
    item("C2", "10", cost_code="02-200"),
)


def _compared(storage: str) -> dict[str, list]:
    state = make_state(CONTRACTS, ITEMS)
    comparison = compare(state, stored_as(CONTRACTS, storage), stored_as(EDITED, storage))
    items = comparison.items.sort_values(["contract_no", "item_no"])
    changes = comparison.changes.sort_values(["contract_no", "item_no", "field"])
    return {
        "items": items.astype(object).where(items.notna(), None).to_dict("records"),
        "changes": changes.astype(object).where(changes.notna(), None).to_dict("records"),
    }


@pytest.mark.parametrize("storage", [pytest.param("pyarrow", marks=ARROW)])
def test_compare_gives_the_same_answer_in_either_storage(storage):
    python = _compared("python")
    assert python == _compared(storage)
    changed = {(row["contract_no"], row["item_no"]) for row in python["changes"]}
    assert {("C1", "10"), ("C1", "20"), ("C1", "30"), ("C2", "10")} <= changed


@pytest.mark.parametrize("storage", [pytest.param("pyarrow", marks=ARROW)])
def test_validation_and_its_cache_give_the_same_verdicts_in_either_storage(storage, tmp_path):
    frames = broken_company()

    def verdicts(frames: ErpFrames, cache: ValidationCache) -> dict[str, list[str]]:
        found = validate(frames, SUITES, cache=cache).failures
        return {
            str(number): sorted(json.dumps(detail, sort_keys=True) for detail in details)
            for number, details in zip(
                found["contract_no"], found["failed_expectations"], strict=True
            )
        }

    python = verdicts(frames, ValidationCache(tmp_path / "python.sqlite"))
    arrow_frames = ErpFrames(stored_as(frames.contracts, storage), stored_as(frames.items, storage))
    arrow_cache = ValidationCache(tmp_path / "arrow.sqlite")
    assert python and verdicts(arrow_frames, arrow_cache) == python
    assert verdicts(arrow_frames, arrow_cache) == python  # the second time from the cache


TEXT_OR_MISSING = st.one_of(st.none(), st.sampled_from(["", " ", "A-1", "a-1", "é", "24017-"]))
AMONG = st.one_of(
    st.lists(TEXT_OR_MISSING, max_size=6),
    st.lists(st.one_of(TEXT_OR_MISSING, st.integers(0, 3), st.just(float("nan"))), max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(TEXT_OR_MISSING, max_size=8),
    AMONG,
    st.sampled_from(["list", "set", "object series", "python text", "arrow text", "index"]),
    st.sampled_from(STORAGES[:1] + (["pyarrow"] if HAS_ARROW else [])),
)
def test_is_in_answers_as_pandas_isin(
    values: list[str | None], among: list, kind: str, storage: str
) -> None:
    """is_in is Series.isin without its Python step per value for Arrow text: the same
    answer for missing values, empty sets, and sets holding numbers or NaN (left to pandas)."""
    series = pd.Series(values, dtype=pd.StringDtype(storage), index=range(10, 10 + len(values)))
    texts = [v for v in among if v is None or isinstance(v, str)]
    given_as = {
        "list": among,
        "set": set(among),
        "object series": pd.Series(among, dtype=object),
        "python text": pd.Series(texts, dtype=pd.StringDtype("python")),
        "arrow text": pd.Series(texts, dtype=pd.StringDtype("pyarrow")) if HAS_ARROW else texts,
        "index": pd.Index(texts, dtype=pd.StringDtype(storage)),
    }[kind]
    found = is_in(series, given_as)
    expected = series.isin(given_as)
    assert found.dtype == bool
    assert found.index.equals(series.index)
    assert found.tolist() == expected.tolist()


@ARROW
def test_is_in_gives_arrow_text_to_arrow_whole() -> None:
    """The set of a text lookup reaches Arrow as one array, whatever holds it."""
    arrow = pd.StringDtype("pyarrow")
    for among in (["A-1", None], pd.Series(["A-1"], dtype=arrow), pd.Index(["A-1"], dtype=object)):
        assert columns._text_array(among) is not None
    assert columns._text_array(["A-1", 5]) is None
