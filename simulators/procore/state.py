"""The simulator's state: companies, projects, users, OAuth clients and tokens, prime contracts,
their line items and prime change orders, all in plain Python structures behind one lock.

Every rule here follows Procore's public reference where it says something (cited at each
rule); where it is silent the comment says so and the rule is the conservative one.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

DEFAULT_FIXTURE = Path(__file__).with_name("fixture.json")

# Procore's developer documentation, "Rate Limiting"
# (github.com/procore/documentation api_essentials/rate_limiting.md,
# https://developers.procore.com/documentation/rate-limiting): 3,600 requests an hour.
DEFAULT_RATE_LIMIT = 3600
DEFAULT_RATE_WINDOW = 3600.0
# "expires_in": 5400 (1.5 hours): oauth/oauth_client_credentials.md of the same repository.
DEFAULT_TOKEN_TTL = 5400.0
# api_essentials/pagination.md: "The highest value you can specify for the per_page parameter
# on paginated endpoints is 10,000." The default page size is not stated there: 100 is the
# value Procore's generated clients show; the reference is silent, so 100 is our choice.
MAX_PER_PAGE = 10_000
DEFAULT_PER_PAGE = 100
# guides/using_sync_actions.md (https://developers.procore.com/documentation/using-sync-actions):
# "Attributes for a maximum of 1000 resources within a collection may be passed with each call."
SYNC_MAX_RECORDS = 1000

# Prime contract statuses: the v1.0 Show Prime Contract response enumerates "Draft, Out For Bid,
# Out For Signature, Approved, Complete, Terminated"; the v2.0 list filter adds "Void" (both in
# Procore's REST reference, https://developers.procore.com/reference/rest/prime-contracts).
PRIME_CONTRACT_STATUSES = (
    "Draft",
    "Out For Bid",
    "Out For Signature",
    "Approved",
    "Complete",
    "Terminated",
    "Void",
)
# filters[status] of GET /rest/v1.0/projects/{project_id}/prime_change_orders
# (https://developers.procore.com/reference/rest/prime-change-orders).
PRIME_CHANGE_ORDER_STATUSES = (
    "draft",
    "pricing",
    "not_pricing",
    "pending",
    "revised",
    "proceeding",
    "not_proceeding",
    "pending_billable",
    "no_charge",
    "approved",
    "rejected",
    "void",
)
# The writable attributes of a prime contract: the `prime_contract` object of Create / Update
# Prime Contract (Procore's generated SDK, weigandconstruction/procore_python_sdk
# docs/PrimeContract.md). `origin_code` is returned by List Prime Contracts
# (docs/RestV10PrimeContractsGet200ResponseInner.md) but is not among the writable ones, so
# it is read-only here: set by the fixture or the Python handle, ignored on writes, as Rails
# ignores an unpermitted parameter.
PRIME_CONTRACT_WRITABLE = (
    "accounting_method",
    "actual_completion_date",
    "approval_letter_date",
    "architect_id",
    "contract_date",
    "contract_estimated_completion_date",
    "contract_start_date",
    "contractor_id",
    "description",
    "exclusions",
    "executed",
    "execution_date",
    "inclusions",
    "issued_on_date",
    "letter_of_intent_date",
    "number",
    "origin_data",
    "origin_id",
    "retainage_percent",
    "returned_date",
    "signed_contract_received_date",
    "status",
    "title",
    "vendor_id",
)
# The writable attributes of a line item: the `updates` items of Sync Prime Contract Line
# Items and the `line_item` of Create / Update (docs/LineItem1.md of the generated SDK).
LINE_ITEM_WRITABLE = (
    "amount",
    "cost_code_id",
    "description",
    "extended_type",
    "line_item_type_id",
    "origin_data",
    "origin_id",
    "quantity",
    "tax_code_id",
    "unit_cost",
    "uom",
    "wbs_code_id",
)
DECIMAL_FIELDS = ("amount", "quantity", "unit_cost")


class ProcoreError(Exception):
    """An answer other than 2xx, with Procore's usual body: {"errors": ...}."""

    def __init__(self, status: int, errors: Any):
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors


class Clock:
    """Wall-clock time, which tests may move forward (token expiry, rate-limit windows)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def iso(ts: float | None) -> str | None:
    """Procore's timestamps: ISO 8601 in UTC, whole seconds ("2016-09-01T21:33:54Z")."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal as Procore's examples print it ("1000.0", "83041.08"): no trailing zeros
    beyond the first decimal place, never an exponent."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def to_decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(name)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(name) from error
    if not number.is_finite():
        raise ValueError(name)
    return number


def parse_range(text: str) -> tuple[float, float]:
    """`FROM...TO` of filters[updated_at] / filters[created_at] (guides/filtering_on_list_actions
    .md and the endpoints' parameter text: `YYYY-MM-DD...YYYY-MM-DD`,
    `YYYY-MM-DDTHH:MM:SSZ...`, `YYYY-MM-DDTHH:MM:SS+XX:00...`), as Unix times, both ends
    inclusive. The reference does not say whether the ends are inclusive, nor what a date
    alone covers: both ends are inclusive and a date covers its whole day (UTC)."""
    parts = text.strip().strip('"').strip("'").split("...")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ProcoreError(400, {"filters": ["a range must read FROM...TO"]})

    def one(part: str, end: bool) -> float:
        part = part.strip()
        try:
            if len(part) == 10:
                day = datetime.combine(date.fromisoformat(part), datetime.min.time(), UTC)
                return (day + timedelta(days=1)).timestamp() - 1 if end else day.timestamp()
            moment = datetime.fromisoformat(part.replace("Z", "+00:00"))
        except ValueError as error:
            raise ProcoreError(
                400, {"filters": [f"not an ISO 8601 date or time: {part}"]}
            ) from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()

    return one(parts[0], False), one(parts[1], True)


@dataclass
class Client:
    client_id: str
    client_secret: str
    company_ids: list[int]
    user_id: int | None = None


@dataclass
class Token:
    access_token: str
    client_id: str
    created_at: float
    expires_at: float


@dataclass
class Project:
    id: int
    company_id: int
    name: str
    project_number: str | None = None
    origin_id: str | None = None
    origin_code: str | None = None
    origin_data: str | None = None
    active: bool = True
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class PrimeContract:
    id: int
    company_id: int
    project_ids: list[int]  # the first is the contract's own; more only by the fault
    fields: dict[str, Any]
    created_by: int | None
    created_at: float
    updated_at: float
    origin_code: str | None = None


@dataclass
class LineItem:
    id: int
    company_id: int
    contract_id: int
    position: int
    created_at: float
    updated_at: float
    description: str | None = None
    amount: Decimal = Decimal("0")
    quantity: Decimal | None = None
    unit_cost: Decimal | None = None
    uom: str | None = None
    extended_type: str = "manual"
    cost_code_id: int | None = None
    line_item_type_id: int | None = None
    wbs_code_id: int | None = None
    tax_code_id: int | None = None
    origin_id: str | None = None
    origin_data: str | None = None


@dataclass
class PrimeChangeOrder:
    id: int
    project_id: int
    contract_id: int
    number: str
    title: str
    status: str
    grand_total: Decimal
    executed: bool
    created_at: float
    updated_at: float
    reviewed_at: float | None = None


@dataclass
class SimConfig:
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window: float = DEFAULT_RATE_WINDOW
    token_ttl: float = DEFAULT_TOKEN_TTL
    # quantity and unit_cost: numbers in the generated SDK's line item (docs/Default.md:
    # `float`), "string(float)" in the newer reference text. Numbers by default; True makes
    # them strings, for a client that must cope with both.
    numbers_as_strings: bool = False


@dataclass
class Store:
    """Everything a reset clears."""

    companies: dict[int, dict] = field(default_factory=dict)
    users: dict[int, dict] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    cost_codes: dict[int, dict] = field(default_factory=dict)
    line_item_types: dict[int, dict] = field(default_factory=dict)
    wbs_codes: dict[int, dict] = field(default_factory=dict)
    contracts: dict[int, PrimeContract] = field(default_factory=dict)
    line_items: dict[int, LineItem] = field(default_factory=dict)
    change_orders: dict[int, PrimeChangeOrder] = field(default_factory=dict)
    # Indexes, so that a company-sized run (thousands of contracts, hundreds of items each)
    # is served without scanning every line item: the items of a contract in order, and the
    # line item holding each (company, origin_id).
    items_by_contract: dict[int, list[int]] = field(default_factory=dict)
    item_origins: dict[tuple[int, str], int] = field(default_factory=dict)
    ids: dict[str, itertools.count] = field(
        default_factory=lambda: {
            "contract": itertools.count(5001),
            "line_item": itertools.count(700_001),
            "change_order": itertools.count(60_001),
        }
    )


class ProcoreState:
    """The data, and the rules Procore applies to it."""

    def __init__(self, clock: Clock, config: SimConfig) -> None:
        self.clock = clock
        self.config = config
        self.lock = threading.RLock()
        self.store = Store()

    # -- seeding ------------------------------------------------------------------------------

    def seed(self, fixture: dict | str | Path | None = None) -> None:
        """Replace everything with a fixture: a dict, a JSON file, or the default fixture."""
        if fixture is None or isinstance(fixture, str | Path):
            fixture = json.loads(Path(fixture or DEFAULT_FIXTURE).read_text())
        fixture = copy.deepcopy(fixture)
        now = self.clock.now()
        with self.lock:
            store = Store()
            for c in fixture.get("companies", []):
                store.companies[c["id"]] = {"id": c["id"], "name": c["name"]}
            for u in fixture.get("users", []):
                store.users[u["id"]] = u
            for c in fixture.get("clients", []):
                store.clients[c["client_id"]] = Client(**c)
            for p in fixture.get("projects", []):
                store.projects[p["id"]] = Project(created_at=now, updated_at=now, **p)
            for table in ("cost_codes", "line_item_types", "wbs_codes"):
                for row in fixture.get(table, []):
                    getattr(store, table)[row["id"]] = row
            self.store = store

    # -- OAuth ----------------------------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str) -> Token | None:
        with self.lock:
            client = self.store.clients.get(client_id)
            if client is None or not secrets.compare_digest(client.client_secret, client_secret):
                return None
            now = self.clock.now()
            token = Token(secrets.token_hex(24), client_id, now, now + self.config.token_ttl)
            self.store.tokens[token.access_token] = token
            return token

    def valid_token(self, access_token: str) -> Token | None:
        with self.lock:
            token = self.store.tokens.get(access_token)
            if token is None or self.clock.now() >= token.expires_at:
                return None
            return token

    def expire_tokens(self) -> int:
        with self.lock:
            now = self.clock.now()
            for token in self.store.tokens.values():
                token.expires_at = min(token.expires_at, now)
            return len(self.store.tokens)

    def client_companies(self, client_id: str) -> list[int]:
        return list(self.store.clients[client_id].company_ids)

    # -- look-ups -------------------------------------------------------------------------------

    def project(self, company_id: int, project_id: int) -> Project:
        project = self.store.projects.get(project_id)
        if project is None or project.company_id != company_id:
            # error_reference.md: 404 "The requested resource does not exist, or the
            # authenticated user does not have access to it."
            raise ProcoreError(404, "Project not found")
        return project

    def contract(self, company_id: int, project_id: int, contract_id: int) -> PrimeContract:
        self.project(company_id, project_id)
        contract = self.store.contracts.get(contract_id)
        if contract is None or project_id not in contract.project_ids:
            raise ProcoreError(404, "Prime Contract not found")
        return contract

    # -- prime contracts ------------------------------------------------------------------------

    def _contract_fields(self, body: Any, existing: dict | None) -> dict:
        if not isinstance(body, dict):
            raise ProcoreError(400, {"prime_contract": ["is missing"]})
        fields = dict(existing or {})
        fields.update({k: body[k] for k in PRIME_CONTRACT_WRITABLE if k in body})
        fields.setdefault("status", "Draft")
        fields.setdefault("accounting_method", "amount")
        if fields["status"] not in PRIME_CONTRACT_STATUSES:
            raise ProcoreError(
                400, {"status": [f"is not included in the list: {fields['status']}"]}
            )
        if fields["accounting_method"] not in ("amount", "unit"):
            raise ProcoreError(400, {"accounting_method": ["is not included in the list"]})
        return fields

    def _origin_taken(self, company_id: int, origin_id: Any, kind: str, own_id: int | None) -> bool:
        # using_sync_actions.md: "All Origin IDs are required to be unique within a single
        # company." (per kind of resource)
        if origin_id in (None, ""):
            return False
        if kind == "line_item":
            owner = self.store.item_origins.get((company_id, str(origin_id)))
            return owner is not None and owner != own_id
        return any(
            r.company_id == company_id and r.id != own_id and r.fields.get("origin_id") == origin_id
            for r in self.store.contracts.values()
        )

    def _insert_item(self, item: LineItem) -> None:
        self.store.line_items[item.id] = item
        self.store.items_by_contract.setdefault(item.contract_id, []).append(item.id)
        if item.origin_id:
            self.store.item_origins.setdefault((item.company_id, item.origin_id), item.id)

    def create_contract(self, company_id: int, project_id: int, body: Any, user: int | None):
        with self.lock:
            self.project(company_id, project_id)
            fields = self._contract_fields(body, None)
            if self._origin_taken(company_id, fields.get("origin_id"), "contract", None):
                raise ProcoreError(400, {"origin_id": ["has already been taken"]})
            if not fields.get("number"):
                fields["number"] = str(
                    1 + sum(project_id in c.project_ids for c in self.store.contracts.values())
                )
            now = self.clock.now()
            contract = PrimeContract(
                next(self.store.ids["contract"]), company_id, [project_id], fields, user, now, now
            )
            self.store.contracts[contract.id] = contract
            return contract

    def update_contract(self, company_id: int, project_id: int, contract_id: int, body: Any):
        with self.lock:
            contract = self.contract(company_id, project_id, contract_id)
            fields = self._contract_fields(body, contract.fields)
            if self._origin_taken(company_id, fields.get("origin_id"), "contract", contract.id):
                raise ProcoreError(400, {"origin_id": ["has already been taken"]})
            if fields != contract.fields:
                contract.fields = fields
                contract.updated_at = self.clock.now()
            return contract

    def contracts_of(self, company_id: int, project_id: int) -> list[PrimeContract]:
        with self.lock:
            self.project(company_id, project_id)
            rows = [c for c in self.store.contracts.values() if project_id in c.project_ids]
            return sorted(rows, key=lambda c: c.id)

    def attach_contract(self, contract_id: int, project_id: int, *, duplicate: bool = False):
        """Fault: the contract shows in a second project. With `duplicate`, a second contract
        record with the same origin_id and line items is made there instead (what a copy made
        in the web pages, outside the API's uniqueness check, looks like)."""
        with self.lock:
            contract = self.store.contracts[contract_id]
            project = self.store.projects[project_id]
            if project.company_id != contract.company_id:
                raise ValueError("the project belongs to another company")
            if not duplicate:
                if project_id not in contract.project_ids:
                    contract.project_ids.append(project_id)
                return contract
            now = self.clock.now()
            twin = PrimeContract(
                next(self.store.ids["contract"]),
                contract.company_id,
                [project_id],
                dict(contract.fields),
                contract.created_by,
                now,
                now,
                contract.origin_code,
            )
            self.store.contracts[twin.id] = twin
            for item in self.items_of(contract.id):
                copy_ = copy.copy(item)
                copy_.id, copy_.contract_id = next(self.store.ids["line_item"]), twin.id
                copy_.created_at = copy_.updated_at = now
                self._insert_item(copy_)  # its origin_id stays indexed to the original
            return twin

    def set_contract_origin_code(self, contract_id: int, origin_code: str | None) -> None:
        with self.lock:
            self.store.contracts[contract_id].origin_code = origin_code

    # -- line items -----------------------------------------------------------------------------

    def items_of(self, contract_id: int) -> list[LineItem]:
        ids = self.store.items_by_contract.get(contract_id, [])
        return sorted((self.store.line_items[i] for i in ids), key=lambda i: (i.position, i.id))

    def _apply_item(self, item: LineItem, record: dict) -> dict[str, list[str]]:
        """Write the supplied attributes onto the item (a PATCH: only what is supplied); the
        errors per attribute, nothing written when there are any."""
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for name in LINE_ITEM_WRITABLE:
            if name not in record:
                continue
            value = record[name]
            if name in DECIMAL_FIELDS:
                try:
                    value = to_decimal(value, name)
                except ValueError:
                    errors.setdefault(name, []).append("is not a number")
                    continue
            elif name == "extended_type" and value not in ("manual", "calculated"):
                errors.setdefault(name, []).append("is not included in the list")
                continue
            elif name in ("cost_code_id", "line_item_type_id", "wbs_code_id", "tax_code_id"):
                if value is not None and (isinstance(value, bool) or not _is_int(value)):
                    errors.setdefault(name, []).append("is not a number")
                    continue
                value = None if value is None else int(value)
                table = {
                    "cost_code_id": self.store.cost_codes,
                    "line_item_type_id": self.store.line_item_types,
                    "wbs_code_id": self.store.wbs_codes,
                }.get(name)
                # The reference does not list the errors for an unknown code; conservative:
                # refused (tax codes are not simulated, so any tax_code_id is kept as given).
                if value is not None and table is not None and value not in table:
                    errors.setdefault(name, []).append("is invalid")
                    continue
            elif name in ("origin_id", "origin_data", "description", "uom"):
                value = None if value is None else str(value)
            values[name] = value
        if "origin_id" in values and self._origin_taken(
            item.company_id, values["origin_id"], "line_item", item.id
        ):
            errors.setdefault("origin_id", []).append("has already been taken")
        if errors:
            return errors
        before = _item_values(item)
        if "origin_id" in values and values["origin_id"] != item.origin_id and item.id:
            origins = self.store.item_origins
            if item.origin_id and origins.get((item.company_id, item.origin_id)) == item.id:
                del origins[(item.company_id, item.origin_id)]
            if values["origin_id"]:
                origins[(item.company_id, values["origin_id"])] = item.id
        for name, value in values.items():
            setattr(item, name, value)
        calculated = item.extended_type == "calculated" or (
            "amount" not in record and bool({"quantity", "unit_cost"} & values.keys())
        )
        if (
            values.get("amount") is None
            and calculated
            and None not in (item.quantity, item.unit_cost)
        ):
            item.amount = item.quantity * item.unit_cost
        if item.amount is None:
            item.amount = Decimal("0")
        # Amounts are money: kept to the cent (the reference's examples print "1000.0"; how
        # Procore rounds a third decimal is not stated: half up).
        item.amount = item.amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
        if _item_values(item) != before:
            item.updated_at = self.clock.now()
        return {}

    def sync_items(
        self,
        company_id: int,
        project_id: int,
        contract_id: int,
        updates: Any,
        injected: dict[str, tuple[str, str]] | None = None,
    ) -> tuple[list[LineItem], list[dict]]:
        """PATCH /rest/v1.0/prime_contracts/{id}/line_items/sync, following
        using_sync_actions.md: by `id` (an unknown id is an error; with `origin_id` too, the
        only way to change an origin_id), else by `origin_id` (updated when found in this
        contract, created when not), else a new line item without an origin_id."""
        if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
            raise ProcoreError(400, {"updates": ["must be an array of objects"]})
        if len(updates) > SYNC_MAX_RECORDS:
            # 413 Payload Too Large: listed for this endpoint in the generated SDK
            # (docs/ConstructionFinancialsPrimeContractPrimeContractLineItemsApi.md); the body
            # is not described: Procore's usual {"errors": ...}.
            raise ProcoreError(
                413, f"At most {SYNC_MAX_RECORDS} records per call ({len(updates)} sent)"
            )
        with self.lock:
            contract = self.contract(company_id, project_id, contract_id)
            entities: list[LineItem] = []
            errors: list[dict] = []
            existing = self.items_of(contract.id)
            by_origin = {i.origin_id: i for i in existing if i.origin_id}
            position = max((i.position for i in existing), default=0)
            for record in updates:
                origin_id = record.get("origin_id")
                if injected and origin_id is not None and str(origin_id) in injected:
                    name, message = injected[str(origin_id)]
                    errors.append({**record, "errors": {name: [message]}})
                    continue
                item, created = None, False
                if record.get("id") is not None:
                    item = self.store.line_items.get(_int_or_none(record["id"]))
                    if item is None or item.contract_id != contract.id:
                        errors.append(
                            {**record, "errors": {"id": ["Entity with this ID not found"]}}
                        )
                        continue
                elif origin_id not in (None, ""):
                    item = by_origin.get(str(origin_id))
                if item is None:
                    now = self.clock.now()
                    item = LineItem(0, contract.company_id, contract.id, position + 1, now, now)
                    created = True
                previous_origin = item.origin_id
                problems = self._apply_item(item, record)
                if problems:
                    errors.append({**record, "errors": problems})
                    continue
                if previous_origin and by_origin.get(previous_origin) is item:
                    del by_origin[previous_origin]
                if created:
                    item.id = next(self.store.ids["line_item"])
                    self._insert_item(item)
                    position = item.position
                if item.origin_id:
                    by_origin[item.origin_id] = item
                entities.append(item)
            return entities, errors

    def delete_item(
        self, company_id: int, project_id: int, contract_id: int, line_item_id: int
    ) -> None:
        with self.lock:
            contract = self.contract(company_id, project_id, contract_id)
            item = self.store.line_items.get(line_item_id)
            if item is None or item.contract_id != contract.id:
                raise ProcoreError(404, "Line Item not found")
            del self.store.line_items[line_item_id]
            self.store.items_by_contract[contract.id].remove(line_item_id)
            origins = self.store.item_origins
            if item.origin_id and origins.get((item.company_id, item.origin_id)) == item.id:
                del origins[(item.company_id, item.origin_id)]

    def edit_line_item(self, line_item_id: int, changes: dict) -> LineItem:
        """A person editing a line item in Procore's pages: the fields change and so does
        updated_at. updated_at moves at least one second on, so that an edit is visible at
        the timestamps' whole-second resolution (a simulator's liberty)."""
        with self.lock:
            item = self.store.line_items[line_item_id]
            previous = item.updated_at
            problems = self._apply_item(item, changes)
            if problems:
                raise ValueError(problems)
            item.updated_at = max(self.clock.now(), int(previous) + 1)
            return item

    # -- prime change orders --------------------------------------------------------------------

    def add_change_order(
        self,
        contract_id: int,
        *,
        status: str = "approved",
        grand_total: Any = "0",
        title: str = "Change",
        number: str | None = None,
        executed: bool | None = None,
        project_id: int | None = None,
    ) -> PrimeChangeOrder:
        if status not in PRIME_CHANGE_ORDER_STATUSES:
            raise ValueError(f"status must be one of {PRIME_CHANGE_ORDER_STATUSES}")
        with self.lock:
            contract = self.store.contracts[contract_id]
            now = self.clock.now()
            existing = [
                o for o in self.store.change_orders.values() if o.contract_id == contract_id
            ]
            order = PrimeChangeOrder(
                next(self.store.ids["change_order"]),
                project_id or contract.project_ids[0],
                contract_id,
                number or f"{len(existing) + 1:03d}",
                title,
                status,
                to_decimal(grand_total, "grand_total") or Decimal("0"),
                status == "approved" if executed is None else executed,
                now,
                now,
                now if status in ("approved", "rejected") else None,
            )
            self.store.change_orders[order.id] = order
            return order

    def change_orders_of(self, company_id: int, project_id: int) -> list[PrimeChangeOrder]:
        with self.lock:
            self.project(company_id, project_id)
            rows = [o for o in self.store.change_orders.values() if o.project_id == project_id]
            return sorted(rows, key=lambda o: o.id)


def _item_values(item: LineItem) -> tuple:
    return tuple(getattr(item, name) for name in LINE_ITEM_WRITABLE)


def _is_int(value: Any) -> bool:
    try:
        int(str(value))
    except ValueError:
        return False
    return True


def _int_or_none(value: Any) -> int | None:
    return int(str(value)) if _is_int(value) else None
