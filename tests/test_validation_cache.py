"""The validation cache: a verdict taken from it is the verdict a full validation gives,
and only content never validated under the same rules is validated again."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from contract_sync.model import ErpFrames
from contract_sync.stages.validate import validate
from contract_sync.store.validation_cache import ValidationCache
from tests.test_validate import SUITES, broken_company


def _verdicts(result) -> dict[str, list[str]]:
    """contract -> its failures as sorted JSON texts, whatever order they came in."""
    return {
        str(number): sorted(json.dumps(d, sort_keys=True) for d in details)
        for number, details in zip(
            result.failures["contract_no"], result.failures["failed_expectations"], strict=True
        )
    }


def _with_duplicate_number(frames: ErpFrames) -> ErpFrames:
    """The last contract's header twice: contract numbers must be unique."""
    twice = pd.concat([frames.contracts, frames.contracts.tail(1)], ignore_index=True)
    return ErpFrames(twice, frames.items)


def test_cached_verdicts_are_those_of_a_full_validation(tmp_path):
    frames = _with_duplicate_number(broken_company())
    cache = ValidationCache(tmp_path / "cache.sqlite")
    full = validate(frames, SUITES)

    first = validate(frames, SUITES, cache=cache)
    second = validate(frames, SUITES, cache=cache)

    duplicated = frames.contracts["contract_no"].iloc[-1]
    assert "expect_column_values_to_be_unique" in str(_verdicts(full)[duplicated])
    assert (first.reused, second.reused) == (0, len(frames.contracts) - 2)  # not the duplicates
    assert _verdicts(first) == _verdicts(second) == _verdicts(full)
    assert sorted(second.invalid_contracts) == sorted(full.invalid_contracts)
    assert "99999-" in _verdicts(second)  # the orphan item is checked every time


def test_only_content_new_under_the_same_rules_is_validated(tmp_path):
    frames = broken_company()
    cache = ValidationCache(tmp_path / "cache.sqlite")
    validate(frames, SUITES, cache=cache)

    padded = frames.items.copy()  # one item's exact ERP text changes: only its padding
    padded.loc[0, "item_code"] = f"   {padded.loc[0, 'item_code']}"
    again = validate(ErpFrames(frames.contracts, padded), SUITES, cache=cache)
    assert again.reused == len(frames.contracts) - 1

    suites = tmp_path / "suites"
    shutil.copytree(SUITES, suites)
    headers = suites / "contract_headers.json"
    longer_titles = headers.read_text().replace('"max_value": 30', '"max_value": 40')
    headers.write_text(longer_titles)
    edited = validate(frames, suites, cache=cache)
    assert edited.reused == 0
    assert frames.contracts["contract_no"][2] not in set(edited.invalid_contracts)
    assert _verdicts(edited) == _verdicts(validate(frames, suites))


def test_a_suite_that_compares_contracts_with_each_other_is_never_cached(tmp_path):
    suites = tmp_path / "suites"
    shutil.copytree(SUITES, suites)
    items = suites / "line_items.json"
    document = json.loads(items.read_text())
    document["expectations"].append(
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "quantity"}}
    )
    items.write_text(json.dumps(document))
    cache = ValidationCache(tmp_path / "cache.sqlite")
    frames = broken_company()

    runs = [validate(frames, suites, cache=cache) for _ in range(2)]

    assert [r.reused for r in runs] == [0, 0]
    assert not (tmp_path / "cache.sqlite").exists()


def test_a_broken_cache_file_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    frames = broken_company()

    result = validate(frames, SUITES, cache=ValidationCache(path))

    assert result.reused == 0
    assert _verdicts(result) == _verdicts(validate(frames, SUITES))
    assert "validation cache" in caplog.text and str(path) in caplog.text
