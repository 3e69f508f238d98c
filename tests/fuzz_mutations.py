"""Mutations of ERP values, generated from the canonical columns and the store's limits
(contract_sync.stages.store_limits) with the suites' own bounds: per column, every class
of bad or legitimately odd value that fits its kind. A column added to the frames and the
store is fuzzed without a word more. A source (tests/fuzz_sources.py) says which values it
can hold at all: a PostgreSQL ERP holds no NUL and no text longer than its column."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import pandas as pd

from contract_sync.erp.frames import BLANK_IS_ZERO
from contract_sync.stages.store_limits import CODES, column_limits
from contract_sync.stages.validate import SUITES
from contract_sync.vocabulary import SCALES

SUITE_DIR = Path(__file__).resolve().parent.parent / "expectations"


class Expect(StrEnum):
    invalid = "invalid"  # the contract is quarantined (invalid_erp_data), the store untouched
    valid = "valid"  # not quarantined; the value lands as the connector read it
    either = "either"  # a value the connector defaults (a blank quantity is zero)


@dataclass(frozen=True)
class Column:
    """A canonical column as the fuzz sees it: its kind and its effective limits."""

    frame: str
    name: str
    kind: str  # text, key, coded, number, date
    required: bool
    max_length: int | None = None  # the tightest of the store's and the suites'
    low: int | None = None  # numbers, scaled as the canonical field
    high: int | None = None
    allowed: tuple | None = None  # codes, or the suites' value set

    @property
    def scale(self) -> int:
        return SCALES[self.name]


@dataclass(frozen=True)
class Mutation:
    kind: str  # the mutation class
    column: Column
    contract: str  # normal form
    item: str | None  # normal form, for an item's column
    value: object  # text, a Decimal (a number's meaning), or None (a missing value)
    expect: Expect


class Source(Protocol):
    """What a source can hold, and the codes it does not map."""

    def holds(self, column: Column, value: object) -> bool: ...
    def unmapped(self, column: Column) -> list: ...
    def can_be_missing(self, column: Column) -> bool: ...
    def unique(self, column: Column) -> bool: ...  # a key of its table: no value twice


def _suite_bounds() -> dict[tuple[str, str], dict]:
    """(frame, column) -> the suites' length maximum, value range and value set."""
    found: dict[tuple[str, str], dict] = {}
    for stem, (frame, _keys) in SUITES.items():
        for expectation in json.loads((SUITE_DIR / f"{stem}.json").read_text())["expectations"]:
            kwargs = expectation["kwargs"]
            if "row_condition" in kwargs or "column" not in kwargs:
                continue
            bounds = found.setdefault((frame, kwargs["column"]), {})
            kind = expectation["type"]
            if kind == "expect_column_value_lengths_to_be_between":
                bounds["max_length"] = kwargs.get("max_value")
            elif kind == "expect_column_values_to_be_between":
                bounds["low"], bounds["high"] = kwargs.get("min_value"), kwargs.get("max_value")
            elif kind == "expect_column_values_to_be_in_set" and isinstance(
                kwargs["value_set"], list
            ):
                bounds["allowed"] = tuple(kwargs["value_set"])
    return found


def conditions() -> list[tuple[str, object, str, tuple]]:
    """The suites' row conditions on items: (column, value it equals, column checked, the
    values allowed there): a lump-sum item (UM LS) has no units and no unit price."""
    found = []
    for expectation in json.loads((SUITE_DIR / "line_items.json").read_text())["expectations"]:
        condition = expectation["kwargs"].get("row_condition")
        if condition:
            found.append(
                (
                    condition["column"]["name"],
                    condition["parameter"],
                    expectation["kwargs"]["column"],
                    tuple(expectation["kwargs"]["value_set"]),
                )
            )
    return found


def fuzzed_columns(frame: str, mapped: list[str], dates: list[str]) -> list[Column]:
    """The columns of `frame` a source maps, with their kinds and effective limits."""
    bounds = _suite_bounds()
    limits = column_limits(frame)
    found = []
    for name in mapped:
        limit = limits.get(name)
        suite = bounds.get((frame, name), {})
        allowed = (limit.codes and tuple(limit.codes)) if limit else None
        allowed = allowed or suite.get("allowed")
        lengths = [n for n in (limit and limit.max_length, suite.get("max_length")) if n]
        required = bool(limit and limit.required)
        if name in SCALES:
            largest = limit.largest
            low = max(-largest, suite.get("low", -largest))
            high = min(largest, suite.get("high", largest))
            found.append(Column(frame, name, "number", required, low=low, high=high))
            continue
        kind = (
            "date" if name in dates else "key" if name in CODES else "coded" if allowed else "text"
        )
        found.append(
            Column(frame, name, kind, required, min(lengths, default=None), allowed=allowed)
        )
    return found


LEGIT = [
    "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "'; DROP TABLE line_items;--",
    "O'Brien & Sons \"Ltd\"", "=SUM(A1:A9)", "+1 (555) 010-9999", "@SUM(1)", "-2+3", "NULL",
    "None", "nan", "N/A", "#N/A", "TRUE", "0", "1e5", "${jndi:ldap://x}", "{{7*7}}",
    "%s%n%x", "\\N", "a,b;c\td", "Line 1\nLine 2", "Line 1\r\nLine 2", "C:\\temp\\x",
    "  padded  ",
]  # fmt: skip
UNICODE = [
    "Façade – Level 2 (€)", "Béton coulé en place", "日本語の説明", "Ελληνικά", "עברית ימין",
    "العربية", "🏗️ crane 👷", "e\u0301te\u0301 (NFD)", "\U0001d538\U0001d539 math", "a\u200db",
    "\ufeffBOM first", "Straße", "İstanbul", "ǅ titlecase", "\u202eevil", "Ω≈ç√∫ ½ ²",
]  # fmt: skip
WHITESPACE = [" ", "   ", "\t", "\u00a0", "\u3000", " \t ", "\u2003", "\u200b"]
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x0b", "\x1f", "\x01"]
CODE_BLANKS = ["\t", "\u00a0", "\x00", "\u2028", "\x1b"]  # no blank but the space in a code
NOT_NUMBERS = ["12a", "1.2.3", "--5", "N/A", "1,2,3.4.5", "ten"]
NOT_DATES = ["31/31/2025", "2025-13-01", "tomorrow", "13/45/2024", "00/00/0000"]

# A value generator: (random, column, the value there now, the source) -> a candidate value.
Make = Callable[[random.Random, Column, object, Source], object]


def _within(text: str, column: Column, source: Source) -> str | None:
    """Legitimate text cut to what the store and the suites take (never to blanks)."""
    cut = text[: column.max_length] if column.max_length else text
    return cut if cut.strip() and source.holds(column, cut) else None


def _text(old: object, default: str) -> str:
    """The value there now as text (`default` where there is none)."""
    return default if old is None or pd.isna(old) or old == "" else str(old)


def _insert(rng: random.Random, old: object, characters: list[str]) -> str:
    old = _text(old, "Text")
    at = rng.randint(1, max(1, len(old) - 1))
    return old[:at] + rng.choice(characters) + old[at:]


def _longer(rng: random.Random, column: Column, old: object) -> str:
    return _text(old, "x").ljust(column.max_length + 1 + rng.randint(0, 20), "X")


def _beyond(rng: random.Random, column: Column, _old: object, _source: Source) -> Decimal:
    edge = rng.choice([column.high + 1, column.low - 1, column.high + rng.randint(2, 10**6)])
    if rng.random() < 0.1:
        edge = 10 ** rng.randint(19, 25)  # beyond int64 too
    return Decimal(edge).scaleb(-column.scale)


def _finer(rng: random.Random, column: Column, old: object, _source: Source) -> Decimal:
    scaled = int(old) if old is not None and not pd.isna(old) else 1234
    return (Decimal(scaled) + Decimal(rng.randint(1, 9)) / 10).scaleb(-column.scale)


CLASSES: dict[str, tuple[tuple[str, ...], Make]] = {
    # name -> (kinds of column it applies to, value)
    "null": (("text", "key", "coded", "number", "date"), lambda r, c, o, s: None),
    "blank": (("text", "key", "coded"), lambda r, c, o, s: ""),
    "whitespace": (("text", "key", "coded"), lambda r, c, o, s: r.choice(WHITESPACE)),
    "control": (("text",), lambda r, c, o, s: _insert(r, o, CONTROLS)),
    "code_blank": (("key",), lambda r, c, o, s: _insert(r, o, CODE_BLANKS)),
    "over_length": (("text", "key"), lambda r, c, o, s: c.max_length and _longer(r, c, o)),
    "legit_text": (("text",), lambda r, c, o, s: _within(r.choice(LEGIT), c, s)),
    "unicode": (("text",), lambda r, c, o, s: _within(r.choice(UNICODE), c, s)),
    "unmapped": (("coded",), lambda r, c, o, s: r.choice(s.unmapped(c) or [None])),
    "out_of_range": (("number",), _beyond),
    "over_precision": (("number",), _finer),
    "not_a_number": (("number",), lambda r, c, o, s: r.choice(NOT_NUMBERS)),
    "not_a_date": (("date",), lambda r, c, o, s: r.choice(NOT_DATES)),
}
ROW_CLASSES = ("duplicate_key", "lump_sum_terms")  # made from other rows: see plan


def expected(kind: str, column: Column) -> Expect:
    if kind in ("legit_text", "unicode"):
        return Expect.valid
    if kind in ("null", "blank", "whitespace"):
        if column.required:
            return Expect.either if column.name in BLANK_IS_ZERO else Expect.invalid
        return Expect.valid
    return Expect.invalid


def combinations(columns: list[Column]) -> list[tuple[Column, str]]:
    """Every (column, class) that applies, the row classes on the items' keys and codes."""
    found = [(c, k) for c in columns for k, (kinds, _make) in CLASSES.items() if c.kind in kinds]
    for column in columns:
        if column.frame == "items" and column.name == "item_no":
            found.append((column, "duplicate_key"))
        if column.frame == "items" and column.name in {c[0] for c in conditions()}:
            found.append((column, "lump_sum_terms"))
    return found


GIVE_UP = (
    8  # failed tries in a row after which a (column, class) counts as one the source cannot hold
)


def plan(
    rng: random.Random,
    size: int,
    columns: list[Column],
    source: Source,
    frames: dict[str, pd.DataFrame],
    targets: list[str],
) -> list[Mutation]:
    """`size` mutations, each on a contract of its own (of `targets`), going round every
    (column, class) in a shuffled order; a combination the source cannot hold is dropped."""
    combos = combinations(columns)
    items = dict(iter(frames["items"].groupby("contract_no")))
    headers = frames["contracts"].set_index("contract_no")
    mutations: list[Mutation] = []
    taken: set[tuple[str, object]] = set()  # the values of columns the source keeps unique
    failures = dict.fromkeys(range(len(combos)), 0)
    order: list[int] = []
    while len(mutations) < min(size, len(targets)):
        if not order:
            order = [n for n, failed in failures.items() if failed < GIVE_UP]
            if not order:
                break
            rng.shuffle(order)
        number = order.pop()
        column, kind = combos[number]
        contract = targets[len(mutations)]
        made = _made(rng, column, kind, source, headers.loc[contract], items.get(contract))
        unique = made is not None and source.unique(column)
        if made is None or (unique and (column.name, made[1]) in taken):
            failures[number] += 1
            continue
        failures[number] = 0
        item, value = made
        if unique:
            taken.add((column.name, value))
        mutations.append(Mutation(kind, column, contract, item, value, expected(kind, column)))
    return mutations


def _made(
    rng: random.Random,
    column: Column,
    kind: str,
    source: Source,
    header: pd.Series,
    items: pd.DataFrame | None,
) -> tuple[str | None, object] | None:
    """(item, value) of one mutation on this contract, or None when it cannot be made."""
    if column.frame == "items":
        if items is None or items.empty:
            return None
        if kind == "duplicate_key":
            if len(items) < 2:
                return None
            first, second = items.sample(2, random_state=rng.randint(0, 2**31)).itertuples()
            return first.item_no, ("duplicate", second.item_no)
        if kind == "lump_sum_terms":
            for where, equals, checked, allowed in conditions():
                if where != column.name:
                    continue
                rows = items[~items[checked].isin(allowed) & items[where].ne(equals)]
                if rows.empty:
                    return None
                return rows.sample(1, random_state=rng.randint(0, 2**31))["item_no"].iloc[0], equals
        row = items.sample(1, random_state=rng.randint(0, 2**31)).iloc[0]
        item, old = row["item_no"], row[column.name]
    else:
        item, old = None, header[column.name]
    if kind == "null" and not source.can_be_missing(column):
        return None
    value = CLASSES[kind][1](rng, column, old, source)
    if value is None and kind != "null":
        return None
    if not source.holds(column, value):
        return None
    return item, value
