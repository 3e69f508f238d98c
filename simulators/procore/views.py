"""The JSON bodies, shaped as Procore's reference shows them (a subset of each one's fields:
the ones an ERP re-import reads or writes, and the identifiers around them).

References: Procore's generated Python SDK (weigandconstruction/procore_python_sdk, generated
from Procore's OpenAPI documents) docs/RestV10PrimeContractsGet200ResponseInner.md (list),
docs/RestV10PrimeContractGet200Response.md (show), docs/Default.md (line item),
docs/RestV10ProjectsProjectIdPrimeChangeOrdersGet200Response.md, docs/Project1.md; and
https://developers.procore.com/reference/rest/prime-contracts and .../prime-change-orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .state import (
    LineItem,
    PrimeChangeOrder,
    PrimeContract,
    ProcoreState,
    Project,
    decimal_text,
    iso,
)

CURRENCY = {"currency_iso_code": "USD"}


def project_view(state: ProcoreState, project: Project) -> dict[str, Any]:
    company = state.store.companies[project.company_id]
    return {
        "id": project.id,
        "name": project.name,
        "display_name": project.name,
        "project_number": project.project_number,
        "active": project.active,
        "origin_id": project.origin_id,
        "origin_code": project.origin_code,
        "origin_data": project.origin_data,
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
        "company": {"id": company["id"], "name": company["name"]},
    }


def _number(state: ProcoreState, value: Decimal | None) -> float | str | None:
    # docs/Default.md: quantity and unit_cost are `float`; amount is `str`.
    if value is None:
        return None
    return decimal_text(value) if state.config.numbers_as_strings else float(value)


def line_item_view(state: ProcoreState, item: LineItem) -> dict[str, Any]:
    store = state.store
    contract = store.contracts[item.contract_id]
    project = store.projects[contract.project_ids[0]]
    company = store.companies[item.company_id]
    cost_code = store.cost_codes.get(item.cost_code_id)
    item_type = store.line_item_types.get(item.line_item_type_id)
    wbs = store.wbs_codes.get(item.wbs_code_id)
    return {
        "id": item.id,
        "amount": decimal_text(item.amount),
        "company": {"id": company["id"], "name": company["name"]},
        "cost_code": cost_code
        and {k: cost_code.get(k) for k in ("id", "code", "full_code", "name", "origin_id")},
        "created_at": iso(item.created_at),
        "description": item.description,
        "extended_type": item.extended_type,
        "holder": {"id": contract.id, "holder_type": "PrimeContract"},
        "line_item_type": item_type
        and {k: item_type.get(k) for k in ("id", "name", "code", "base_type", "origin_id")},
        "origin_data": item.origin_data,
        "origin_id": item.origin_id,
        "position": item.position,
        "project": {"id": project.id, "name": project.name},
        "quantity": _number(state, item.quantity),
        "tax_code_id": item.tax_code_id,
        "unit_cost": _number(state, item.unit_cost),
        "uom": item.uom,
        "wbs_code": wbs and {k: wbs.get(k) for k in ("id", "flat_code", "description")},
        "updated_at": iso(item.updated_at),
        "currency_configuration": CURRENCY,
    }


def _party(party_id: Any) -> dict | None:
    return None if party_id is None else {"id": party_id}


def _totals(state: ProcoreState, contract: PrimeContract) -> dict[str, Decimal]:
    items = state.items_of(contract.id)
    orders = [o for o in state.store.change_orders.values() if o.contract_id == contract.id]

    def orders_total(*statuses: str) -> Decimal:
        return sum((o.grand_total for o in orders if o.status in statuses), Decimal("0"))

    grand_total = sum((i.amount for i in items), Decimal("0"))
    approved = orders_total("approved")
    pending = orders_total("pending", "revised")
    return {
        "grand_total": grand_total,
        "approved_change_orders": approved,
        "pending_change_orders_amount": pending,
        "draft_change_orders_amount": orders_total("draft"),
        "revised_contract_amount": grand_total + approved,
        "pending_revised_contract_amount": grand_total + approved + pending,
    }


def _user(state: ProcoreState, user_id: int | None) -> dict | None:
    user = state.store.users.get(user_id)
    return user and {k: user.get(k) for k in ("id", "login", "name")}


def contract_list_view(state: ProcoreState, contract: PrimeContract) -> dict[str, Any]:
    """An item of GET /rest/v1.0/prime_contracts (RestV10PrimeContractsGet200ResponseInner)."""
    f = contract.fields
    totals = _totals(state, contract)
    return {
        "id": contract.id,
        "accounting_method": f.get("accounting_method"),
        "actual_completion_date": f.get("actual_completion_date"),
        "approval_letter_date": f.get("approval_letter_date"),
        "approved_change_orders": decimal_text(totals["approved_change_orders"]),
        "contract_date": f.get("contract_date"),
        "contract_estimated_completion_date": f.get("contract_estimated_completion_date"),
        "contract_start_date": f.get("contract_start_date"),
        "contract_termination_date": None,
        "created_at": iso(contract.created_at),
        "deleted_at": None,
        "description": f.get("description"),
        "executed": bool(f.get("executed", False)),
        "execution_date": f.get("execution_date"),
        "exclusions": f.get("exclusions"),
        "grand_total": decimal_text(totals["grand_total"]),
        "inclusions": f.get("inclusions"),
        "issued_on_date": f.get("issued_on_date"),
        "letter_of_intent_date": f.get("letter_of_intent_date"),
        "number": f.get("number"),
        "origin_code": contract.origin_code,
        "origin_data": f.get("origin_data"),
        "origin_id": f.get("origin_id"),
        "private": False,
        "retainage_percent": _text(f.get("retainage_percent")),
        "returned_date": f.get("returned_date"),
        "signed_contract_received_date": f.get("signed_contract_received_date"),
        "show_line_items_to_non_admins": False,
        "status": f.get("status"),
        "title": f.get("title"),
        "updated_at": iso(contract.updated_at),
        "architect": _party(f.get("architect_id")),
        "contractor": _party(f.get("contractor_id")),
        "created_by": _user(state, contract.created_by),
        "vendor": _party(f.get("vendor_id")),
        "currency_configuration": CURRENCY,
    }


def contract_show_view(state: ProcoreState, contract: PrimeContract) -> dict[str, Any]:
    """GET /rest/v1.0/prime_contract/{id} (RestV10PrimeContractGet200Response): the list's
    fields but origin_code (the show response of the reference has none), the totals, and
    the line items."""
    view = contract_list_view(state, contract)
    view.pop("origin_code")
    totals = _totals(state, contract)
    items = state.items_of(contract.id)
    view.update(
        {
            "line_items_total": view["grand_total"],
            "line_items_extended_total": view["grand_total"],
            "pending_change_orders_amount": decimal_text(totals["pending_change_orders_amount"]),
            "draft_change_orders_amount": decimal_text(totals["draft_change_orders_amount"]),
            "revised_contract_amount": decimal_text(totals["revised_contract_amount"]),
            "pending_revised_contract_amount": decimal_text(
                totals["pending_revised_contract_amount"]
            ),
            "type": "PrimeContract",
            "line_items": [line_item_view(state, i) for i in items],
        }
    )
    return view


def change_order_view(order: PrimeChangeOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "contract_id": order.contract_id,
        "number": order.number,
        "title": order.title,
        "status": order.status,
        "executed": order.executed,
        "grand_total": decimal_text(order.grand_total),
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "reviewed_at": iso(order.reviewed_at),
        "type": "PrimeChangeOrder",
        "currency_configuration": CURRENCY,
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
