"""Exact decimal text to scaled integers, vectorised, never through float."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MAX_DIGITS = 18  # an int64 holds any 18-digit number


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written in an export."""

    thousands: str | None = None  # "," in 9,999,999.99
    decimal: str = "."
    parentheses_negative: bool = False  # (12.50) is -12.50
    trailing_minus: bool = False  # 12.50- is -12.50


PLAIN = NumberFormat()


@dataclass(frozen=True)
class Parsed:
    values: pd.Series  # Int64, NA where missing or wrong
    problems: pd.Series  # string, NA where the value is fine (or missing)


def parse_scaled(text: pd.Series, scale: int, fmt: NumberFormat = PLAIN) -> Parsed:
    """'1,234.5' at scale 2 -> 123450; '1.234' at scale 2 is a problem, not a rounding."""
    s = text.astype("string").str.strip()
    missing = s.isna() | s.eq("")
    negative = pd.Series(False, index=s.index)
    if fmt.parentheses_negative:
        wrapped = s.str.startswith("(") & s.str.endswith(")")
        s = s.mask(wrapped, s.str.slice(1, -1).str.strip())
        negative |= wrapped.fillna(False)
    if fmt.trailing_minus:
        trailing = s.str.endswith("-")
        s = s.mask(trailing, s.str.slice(0, -1).str.strip())
        negative |= trailing.fillna(False)
    leading = s.str.startswith("-")
    s = s.mask(leading, s.str.slice(1)).str.removeprefix("+")
    negative ^= leading.fillna(False)
    if fmt.thousands:
        s = s.str.replace(fmt.thousands, "", regex=False)
    if fmt.decimal != ".":
        s = s.str.replace(fmt.decimal, ".", regex=False)
    parts = s.str.extract(r"^(?P<whole>\d*)(?:\.(?P<fraction>\d*))?$")
    whole = parts["whole"].str.lstrip("0")
    fraction = parts["fraction"].fillna("").str.rstrip("0")
    well_formed = parts["whole"].notna() & (parts["whole"].ne("") | parts["fraction"].ne(""))
    too_precise = well_formed & (fraction.str.len() > scale)
    too_large = well_formed & (whole.str.len() > MAX_DIGITS - scale)
    problems = pd.Series(pd.NA, index=s.index, dtype="string")
    problems = problems.mask(~missing & ~well_formed, "is not a number")
    problems = problems.mask(~missing & too_precise, f"has more than {scale} decimals")
    problems = problems.mask(~missing & too_large, "is too large")
    good = ~missing & problems.isna()
    digits = (whole.fillna("") + fraction.str.ljust(scale, "0").str.slice(0, scale)).where(
        good, "0"
    )
    magnitude = digits.mask(digits.eq(""), "0").astype("int64")
    values = magnitude.where(~negative, -magnitude).astype("Int64").where(good)
    return Parsed(values=values, problems=problems)
