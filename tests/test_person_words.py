"""What a person reads: one money format for every scaled value, words for codes."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract_sync.columns import FORMAT_EACH_BELOW, display, scaled_text, to_decimal
from contract_sync.vocabulary import SCALES, label


@given(st.integers(-(10**15), 10**15), st.sampled_from(sorted(SCALES)))
def test_a_person_reads_every_value_exactly_in_one_format(value: int, field: str) -> None:
    """The one format loses no digit, the scaled integer and its audit text read alike, and
    money always shows its cents."""
    shown = display(value, field)
    assert Decimal(shown.removesuffix(" %").replace(",", "")) == to_decimal(value, field)
    assert display(str(to_decimal(value, field)), field) == shown
    if field in ("amount", "original_amount"):
        assert shown[-3] == "."


def test_labels_read_as_words() -> None:
    assert display(8304108, "amount") == "83,041.08"
    assert display("83041.08", "original_amount") == "83,041.08"
    assert display(1250000, "unit_cost") == "12.50"
    assert display(1000000, "quantity") == "1,000"
    assert display(1000, "retainage_pct") == "10 %"
    assert display("not a number", "amount") == "not a number"
    assert display("1e30", "amount") == "1e30"  # too long to format: as it is, not an error
    with pytest.raises(TypeError, match="never a float"):
        display(12.7, "amount")
    assert [label(c) for c in ("uom", "original_amount", "would_reimport", "odd")] == [
        "unit",
        "contract amount",
        "would re-import",
        "odd",
    ]


@given(
    st.lists(st.one_of(st.none(), st.integers(-(2**63) + 1, 2**63 - 1)), max_size=40),
    st.integers(0, 5),
    st.sampled_from([0, 1, FORMAT_EACH_BELOW - 1]),
)
def test_audit_text_of_scaled_values_is_one_text_at_any_length(
    values: list[int | None], scale: int, padding: int
) -> None:
    """Few values are formatted one at a time, many vectorised: both give the same exact
    decimal text, signs, zeros and missing values alike."""
    few = pd.Series(pd.array(values, dtype="Int64"))
    many = pd.concat([few, pd.Series(pd.array([7] * padding, dtype="Int64"))], ignore_index=True)
    for series in (few, many):
        text = scaled_text(series, scale)
        assert text.dtype == "string"
        assert text.isna().tolist() == series.isna().tolist()
        for value, shown in zip(series.dropna(), text.dropna(), strict=True):
            assert Decimal(shown) == Decimal(int(value)).scaleb(-scale)
            assert len(shown.split(".")[1]) == max(scale, 1)
    assert scaled_text(few, scale).tolist() == scaled_text(many, scale).head(len(few)).tolist()
