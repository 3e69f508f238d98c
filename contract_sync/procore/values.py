"""Procore's numbers to the product's exact scaled integers and back, through Decimal.

Procore answers a line item's `amount` as a string and `quantity` / `unit_cost` as numbers
(Procore's generated SDK, docs/Default.md; the newer reference text writes "string(float)"
for them), so both forms are taken. The answers are parsed with JSON numbers as Decimal
(never float), and a value is scaled as contract_sync.vocabulary.SCALES says: amounts in
cents, quantities in thousandths, unit costs in 1/100000, percents at scale 2.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from contract_sync.exact import MAX_DIGITS
from contract_sync.vocabulary import SCALES

from .errors import ProcoreValueError


def scaled(value: Any, scale: int, *, record: str, field: str) -> int | None:
    """'1234.56' (or Decimal 1234.56, or 1234) at scale 2 -> 123456; None or '' -> None.
    A value with more decimals than `scale`, too large for the product, or not a number is
    a ProcoreValueError naming `record` and `field`: never a rounding."""
    if value is None or value == "":
        return None
    if isinstance(value, bool | float):
        # A float has already lost exactness; answers are parsed with Decimal numbers.
        raise ProcoreValueError(f"{record}: {field} {value!r} is not an exact number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ProcoreValueError(f"{record}: {field} {value!r} is not a number") from None
    if not number.is_finite():
        raise ProcoreValueError(f"{record}: {field} {value!r} is not a number")
    shifted = number.scaleb(scale)
    if shifted != shifted.to_integral_value():
        raise ProcoreValueError(
            f"{record}: {field} {value} has more than {scale} decimals (not rounded)"
        )
    result = int(shifted)
    if abs(result) >= 10**MAX_DIGITS:
        raise ProcoreValueError(f"{record}: {field} {value} is too large")
    return result


def decimal_text(value: int | None, scale: int) -> str | None:
    """A scaled integer as the exact decimal text Procore is sent: 123456 at scale 2 ->
    '1234.56'."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a scaled integer is expected, not {value!r}")
    return format(Decimal(value).scaleb(-scale), "f")


def field_scale(field: str) -> int:
    return SCALES[field]
