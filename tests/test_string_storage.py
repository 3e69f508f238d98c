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

from contract_sync.columns import lookup
from contract_sync.model import ErpFrames
from contract_sync.stages.compare import compare, same_values
from contract_sync.stages.validate import validate
from contract_sync.store.validation_cache import ValidationCache
from tests.frames import contracts_frame, item, items_frame, make_state
from tests.test_validate import SUITES, broken_company

ARROW = pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None, reason="pyarrow is not installed"
)
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
