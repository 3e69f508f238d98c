"""The Procore records the pipeline reads, typed, with their numbers as the product's exact
scaled integers (see values.py). Each keeps Procore's whole answer in `raw` for what it does
not name. Fields follow Procore's REST reference as its generated SDK carries it
(weigandconstruction/procore_python_sdk: docs/Project1.md, docs/Default.md (line item),
docs/RestV10PrimeContractsGet200ResponseInner.md, docs/RestV10PrimeContractGet200Response.md,
docs/RestV10ProjectsProjectIdPrimeChangeOrdersGet200Response.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contract_sync.vocabulary import AMOUNT_SCALE, PERCENT_SCALE, QUANTITY_SCALE, UNIT_COST_SCALE

from .values import scaled


def _id_of(value: Any) -> int | None:
    """The id of a nested object ({"id": 301, ...}) or None."""
    return value.get("id") if isinstance(value, dict) else None


def _name(kind: str, data: dict) -> str:
    origin = data.get("origin_id")
    return f"{kind} {data.get('id')}" + (f" (origin_id {origin!r})" if origin else "")


@dataclass(frozen=True)
class Project:
    id: int
    name: str | None
    project_number: str | None
    active: bool | None
    origin_id: str | None
    origin_code: str | None
    origin_data: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict) -> Project:
        return cls(
            id=data["id"],
            name=data.get("name"),
            project_number=data.get("project_number"),
            active=data.get("active"),
            origin_id=data.get("origin_id"),
            origin_code=data.get("origin_code"),
            origin_data=data.get("origin_data"),
            raw=data,
        )


@dataclass(frozen=True)
class LineItem:
    """A prime contract's line item: amount in cents, quantity in thousandths, unit_cost in
    1/100000."""

    id: int
    origin_id: str | None
    origin_data: str | None
    description: str | None
    amount: int | None
    quantity: int | None
    unit_cost: int | None
    uom: str | None
    position: int | None
    cost_code_id: int | None
    line_item_type_id: int | None
    wbs_code_id: int | None
    tax_code_id: int | None
    updated_at: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict) -> LineItem:
        record = _name("line item", data)
        return cls(
            id=data["id"],
            origin_id=data.get("origin_id"),
            origin_data=data.get("origin_data"),
            description=data.get("description"),
            amount=scaled(data.get("amount"), AMOUNT_SCALE, record=record, field="amount"),
            quantity=scaled(data.get("quantity"), QUANTITY_SCALE, record=record, field="quantity"),
            unit_cost=scaled(
                data.get("unit_cost"), UNIT_COST_SCALE, record=record, field="unit_cost"
            ),
            uom=data.get("uom"),
            position=data.get("position"),
            cost_code_id=_id_of(data.get("cost_code")),
            line_item_type_id=_id_of(data.get("line_item_type")),
            wbs_code_id=_id_of(data.get("wbs_code")),
            tax_code_id=data.get("tax_code_id"),
            updated_at=data.get("updated_at"),
            raw=data,
        )


@dataclass(frozen=True)
class PrimeContract:
    """A prime contract: grand_total in cents, retainage_percent at scale 2 (10.00 % ->
    1000); line_items only from the show call (the list has none)."""

    id: int
    number: str | None
    title: str | None
    status: str | None
    executed: bool | None
    origin_id: str | None
    origin_data: str | None
    origin_code: str | None
    retainage_percent: int | None
    grand_total: int | None
    updated_at: str | None
    line_items: tuple[LineItem, ...]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict) -> PrimeContract:
        record = _name("prime contract", data)
        return cls(
            id=data["id"],
            number=data.get("number"),
            title=data.get("title"),
            status=data.get("status"),
            executed=data.get("executed"),
            origin_id=data.get("origin_id"),
            origin_data=data.get("origin_data"),
            origin_code=data.get("origin_code"),
            retainage_percent=scaled(
                data.get("retainage_percent"),
                PERCENT_SCALE,
                record=record,
                field="retainage_percent",
            ),
            grand_total=scaled(
                data.get("grand_total"), AMOUNT_SCALE, record=record, field="grand_total"
            ),
            updated_at=data.get("updated_at"),
            line_items=tuple(LineItem.from_api(i) for i in data.get("line_items") or ()),
            raw=data,
        )


@dataclass(frozen=True)
class PrimeChangeOrder:
    id: int
    contract_id: int | None
    number: str | None
    title: str | None
    status: str | None
    executed: bool | None
    grand_total: int | None  # cents
    updated_at: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict) -> PrimeChangeOrder:
        return cls(
            id=data["id"],
            contract_id=data.get("contract_id"),
            number=data.get("number"),
            title=data.get("title"),
            status=data.get("status"),
            executed=data.get("executed"),
            grand_total=scaled(
                data.get("grand_total"),
                AMOUNT_SCALE,
                record=_name("prime change order", data),
                field="grand_total",
            ),
            updated_at=data.get("updated_at"),
            raw=data,
        )


@dataclass(frozen=True)
class SyncError:
    """A record the line-items sync refused: what was sent, and Procore's errors per
    attribute ({"origin_id": ["has already been taken"]})."""

    origin_id: str | None
    id: int | None
    errors: dict[str, list[str]]
    record: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict) -> SyncError:
        errors = data.get("errors")
        if not isinstance(errors, dict):
            errors = {"base": [str(errors)]}
        record = {k: v for k, v in data.items() if k != "errors"}
        return cls(data.get("origin_id"), data.get("id"), errors, record)


@dataclass(frozen=True)
class SyncResult:
    """What a line-items sync did: the line items written, the records refused, and the
    number of sync calls it took (1,000 records a call)."""

    entities: list[LineItem]
    errors: list[SyncError]
    calls: int
