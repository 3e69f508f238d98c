"""One normal form of an ERP code: normal_code for a column, normal_text for one code, both
the same rule, and no module trimming a code its own way."""

from __future__ import annotations

import ast

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from contract_sync.columns import normal_code, normal_text
from tests.sources import modules

TRIMS = {"strip", "lstrip", "rstrip"}


def test_normal_text_drops_surrounding_spaces_only():
    assert normal_text("  1001-  ") == "1001-"
    assert normal_text(" 10 20 ") == "10 20"
    assert normal_text("\t1001-\n") == "\t1001-\n"  # other blanks fail validation, kept
    assert normal_text("") == ""


@given(st.lists(st.text(alphabet=" \t-0123456789AB", max_size=12), max_size=8))
def test_normal_code_is_normal_text_over_a_column(codes):
    assert normal_code(pd.Series(codes, dtype="string")).tolist() == [normal_text(c) for c in codes]


def _hand_trims(tree: ast.Module) -> list[ast.Call]:
    """Calls that trim spaces by hand: x.strip(" "), x.str.lstrip(" "), ..."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TRIMS
        and [getattr(a, "value", None) for a in node.args] == [" "]
    ]


def test_no_module_trims_a_code_by_hand():
    """A code is trimmed by normal_text or normal_code, never by a strip(" ") of its own:
    one that drifted once left padded rows in the store."""
    found = [
        f"{path}:{call.lineno}: {ast.unparse(call)} (use normal_text or normal_code)"
        for path, tree in modules().items()
        for call in _hand_trims(tree)
    ]
    assert not found, "\n".join(found)
