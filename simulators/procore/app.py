"""The HTTP face: Procore's endpoints (each with its reference), and the `/_sim` control API.

One middleware does what every Procore call goes through, in this order: the call is counted;
edits scheduled after an earlier call are made; injected faults fire (a delay, or an answer of
their own); then OAuth bearer check (401), Procore-Company-Id (400 / 403), the hourly budget
(429), and the endpoint, whose answer gets the rate-limit headers.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match

from .faults import FaultRule
from .simulator import RATE_LIMIT_BODY
from .state import DEFAULT_PER_PAGE, MAX_PER_PAGE, ProcoreError, parse_range
from .views import (
    change_order_view,
    contract_list_view,
    contract_show_view,
    line_item_view,
    project_view,
)

if TYPE_CHECKING:
    from .simulator import ProcoreSimulator

COMPANY_HEADER = "procore-company-id"
UNAUTHORIZED = "The access token is invalid"  # api_essentials/error_reference.md


def create_app(sim: ProcoreSimulator) -> FastAPI:
    app = FastAPI(
        title="Procore simulator (test equipment)", docs_url=None, redoc_url=None, openapi_url=None
    )
    state = sim.state

    @app.exception_handler(ProcoreError)
    async def procore_error(_request: Request, error: ProcoreError) -> JSONResponse:
        return JSONResponse({"errors": error.errors}, status_code=error.status)

    # -- the gate every Procore call goes through --------------------------------------------

    @app.middleware("http")
    async def gate(request: Request, call_next):
        path = request.url.path
        if path.startswith("/_sim"):
            return await call_next(request)
        record = sim.log.start(request.method, path, _endpoint(app, request.scope))
        for edit in sim.faults.due_edits(record.call):
            if edit.line_item_id in state.store.line_items:
                state.edit_line_item(edit.line_item_id, edit.changes)
        token = _bearer(request)
        company_id = _int(request.headers.get(COMPANY_HEADER))
        live = state.valid_token(token) if token else None
        key = (live.client_id, company_id) if live and company_id is not None else token

        fired = sim.faults.match(record.call, request.method, path)
        for rule in fired:
            if rule.kind == "delay":
                await asyncio.sleep(rule.delay)
        injected = next((r for r in fired if r.kind == "status"), None)
        if injected is not None:
            response = _injected(injected, sim.rate.peek(key) if live else {})
        elif path.startswith("/oauth/"):
            response = await call_next(request)
        elif live is None:
            # 401 on a missing, expired or unknown token (error_reference.md: "The access token
            # is invalid" -- tokens last 90 minutes). No rate-limit headers: no budget is
            # known for a request without a valid token.
            response = JSONResponse(
                {"errors": UNAUTHORIZED},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        elif company_id is None:
            # Every endpoint used here lists `Procore-Company-Id` [header] (required) in the
            # reference; what Procore answers without it is not stated: 400.
            response = JSONResponse(
                {"errors": "The Procore-Company-Id header is required"}, status_code=400
            )
        elif company_id not in state.client_companies(live.client_id):
            # error_reference.md: 403 "App is not connected to this company".
            response = JSONResponse({"errors": "App is not connected to this company"}, 403)
        else:
            allowed, headers = sim.rate.consume(key)
            if not allowed:
                response = PlainTextResponse(RATE_LIMIT_BODY, status_code=429)
                headers["Retry-After"] = str(sim.rate.retry_after(key))
            else:
                request.state.company_id = company_id
                request.state.user_id = state.store.clients[live.client_id].user_id
                response = await call_next(request)
            response.headers.update(headers)
        record.status = response.status_code
        return response

    # -- OAuth -----------------------------------------------------------------------------------

    @app.post("/oauth/token")
    async def oauth_token(request: Request):
        """Get an access token, client credentials grant.
        Reference: procore/documentation oauth/oauth_client_credentials.md and
        oauth/oauth_endpoints.md (https://developers.procore.com/documentation/
        oauth-client-credentials); SDK docs/OauthTokenPostRequest.md, OauthTokenPost200Response.md.
        Form fields (curl -F) or JSON. The answer: access_token, token_type "bearer",
        expires_in 5400, created_at (Unix time); no refresh token in this grant. The error
        bodies are not in the reference: OAuth 2.0's own (RFC 6749 section 5.2)."""
        data = await _form_or_json(request)
        if data.get("grant_type") != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "client_credentials only"},
                status_code=400,
            )
        token = state.issue_token(
            str(data.get("client_id", "")), str(data.get("client_secret", ""))
        )
        if token is None:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status_code=401,
            )
        return {
            "access_token": token.access_token,
            "token_type": "bearer",
            "expires_in": int(token.expires_at - token.created_at),
            "created_at": int(token.created_at),
        }

    # -- companies and projects ------------------------------------------------------------------

    @app.get("/rest/v1.0/companies")
    async def list_companies(request: Request):
        """List companies the app may reach. Reference: oauth_client_credentials.md (GET
        /rest/v1.0/companies with Procore-Company-Id). Not paginated here (the reference
        shows no pagination headers for it)."""
        client = _client_of(request, state)
        return [
            {"id": c, "name": state.store.companies[c]["name"], "is_active": True}
            for c in client.company_ids
            if c in state.store.companies
        ]

    @app.get("/rest/v1.0/projects")
    @app.get("/rest/v1.1/projects")
    async def list_projects(request: Request):
        """List projects. Reference: SDK docs/CorePortfolioProjectsApi.md (GET /rest/v1.0/projects
        and /rest/v1.1/projects: company_id [query, required], page, per_page, filters[id],
        filters[origin_id], filters[updated_at], filters[by_status] Active|Inactive|All);
        response docs/Project1.md (origin_id, origin_code, origin_data). The default of
        filters[by_status] is not stated: Active (the client-credentials guide calls this list
        "the active projects in our company")."""
        company_id = _required_int(request, "company_id")
        if company_id != request.state.company_id:
            raise ProcoreError(403, "company_id is not the company of Procore-Company-Id")
        rows = [p for p in state.store.projects.values() if p.company_id == company_id]
        status = request.query_params.get("filters[by_status]", "Active")
        if status not in ("Active", "Inactive", "All"):
            raise ProcoreError(400, {"filters[by_status]": ["must be Active, Inactive or All"]})
        if status != "All":
            rows = [p for p in rows if p.active == (status == "Active")]
        origin = request.query_params.get("filters[origin_id]")
        if origin is not None:
            rows = [p for p in rows if p.origin_id == origin]
        rows = _filter_common(request, sorted(rows, key=lambda p: p.id))
        return _page(request, [project_view(state, p) for p in rows])

    # -- prime contracts -------------------------------------------------------------------------

    @app.get("/rest/v1.0/prime_contracts")
    async def list_prime_contracts(request: Request):
        """List all Prime Contracts of a project. Reference: SDK
        docs/ConstructionFinancialsPrimeContractPrimeContractsApi.md (GET
        /rest/v1.0/prime_contracts: project_id [query, required], page, per_page, filters[id],
        filters[updated_at]; 200 with Per-Page, Total, Link); body
        docs/RestV10PrimeContractsGet200ResponseInner.md."""
        project_id = _required_int(request, "project_id")
        rows = _filter_common(request, state.contracts_of(request.state.company_id, project_id))
        return _page(request, [contract_list_view(state, c) for c in rows])

    @app.get("/rest/v1.0/prime_contract")
    async def show_first_prime_contract(request: Request):
        """Show First Prime Contract (the first created in the project). Reference: same SDK
        page, GET /rest/v1.0/prime_contract."""
        project_id = _required_int(request, "project_id")
        rows = state.contracts_of(request.state.company_id, project_id)
        if not rows:
            raise ProcoreError(404, "Prime Contract not found")
        return contract_show_view(state, rows[0])

    @app.get("/rest/v1.0/prime_contract/{id}")
    async def show_prime_contract(id: int, request: Request):
        """Show Prime Contract. Reference: same SDK page, GET /rest/v1.0/prime_contract/{id}
        (project_id [query, required]); body docs/RestV10PrimeContractGet200Response.md (no
        origin_code in it). The plural path /rest/v1.0/prime_contracts/{id} is not in the
        reference and answers 404 here."""
        project_id = _required_int(request, "project_id")
        with state.lock:
            contract = state.contract(request.state.company_id, project_id, id)
            return contract_show_view(state, contract)

    @app.post("/rest/v1.0/prime_contract", status_code=201)
    async def create_prime_contract(request: Request):
        """Create Prime Contract: 201. Reference: same SDK page, POST /rest/v1.0/prime_contract,
        body docs/Body44.md {project_id (required), prime_contract: docs/PrimeContract.md}.
        Errors listed: 400 (a duplicate origin_id and an unknown status answer 400 here; the
        reference does not give their bodies)."""
        body = await _json(request)
        project_id = _body_project(body)
        with state.lock:
            contract = state.create_contract(
                request.state.company_id,
                project_id,
                body.get("prime_contract"),
                request.state.user_id,
            )
            return contract_show_view(state, contract)

    @app.patch("/rest/v1.0/prime_contract/{id}")
    async def update_prime_contract(id: int, request: Request):
        """Update Prime Contract: 200. Reference: same SDK page, PATCH
        /rest/v1.0/prime_contract/{id}, body as for create. Only the supplied attributes change;
        updated_at moves only when something changed (not stated; what Rails does)."""
        body = await _json(request)
        project_id = _body_project(body)
        with state.lock:
            contract = state.update_contract(
                request.state.company_id, project_id, id, body.get("prime_contract")
            )
            return contract_show_view(state, contract)

    # -- line items ------------------------------------------------------------------------------

    @app.get("/rest/v1.0/prime_contracts/{prime_contract_id}/line_items")
    async def list_line_items(prime_contract_id: int, request: Request):
        """List Prime Contract line items. Reference: SDK
        docs/ConstructionFinancialsPrimeContractPrimeContractLineItemsApi.md (project_id
        [query, required], page, per_page, filters[id], filters[created_at],
        filters[updated_at]; 200 with Per-Page, Total, Link); body docs/Default.md: amount a
        string, quantity and unit_cost numbers."""
        project_id = _required_int(request, "project_id")
        with state.lock:
            contract = state.contract(request.state.company_id, project_id, prime_contract_id)
            rows = _filter_common(request, state.items_of(contract.id), created=True)
            return _page(request, [line_item_view(state, i) for i in rows])

    @app.patch("/rest/v1.0/prime_contracts/{prime_contract_id}/line_items/sync")
    async def sync_line_items(prime_contract_id: int, request: Request):
        """Sync Prime Contract Line Items. Reference: SDK page above (PATCH
        .../line_items/sync, project_id [query, required], body docs/LineItemSyncBody1.md
        {updates: [LineItem1]}, answers 200 / 400 / 401 / 403 / 413); response
        docs/RestV10WorkOrderContractsWorkOrderContractIdLineItemsSyncPatch200Response.md
        {entities, errors: [supplied attributes + errors: {field: [messages]}]}; behaviour
        procore/documentation guides/using_sync_actions.md (at most 1000 records, "always
        return an HTTP status of 200", upsert by id or origin_id, origin_id unique in a
        company). More than 1000 records: 413, as the SDK lists."""
        project_id = _required_int(request, "project_id")
        body = await _json(request)
        updates = body.get("updates")
        origin_ids = [
            str(u["origin_id"]) for u in updates or [] if isinstance(u, dict) and u.get("origin_id")
        ]
        injected = sim.faults.take_sync_errors(origin_ids) if isinstance(updates, list) else {}
        with state.lock:
            entities, errors = state.sync_items(
                request.state.company_id, project_id, prime_contract_id, updates, injected
            )
            return {"entities": [line_item_view(state, i) for i in entities], "errors": errors}

    @app.delete("/rest/v1.0/prime_contracts/{prime_contract_id}/line_items/{id}")
    async def delete_line_item(prime_contract_id: int, id: int, request: Request):
        """Delete a Prime Contract line item. Reference: SDK page above (DELETE
        .../line_items/{id}, project_id [query, required]; 200 with an empty body, 400 /
        401 / 403). An id this contract does not hold: 404, as for any unknown record."""
        project_id = _required_int(request, "project_id")
        with state.lock:
            state.delete_item(request.state.company_id, project_id, prime_contract_id, id)
        return Response(status_code=200)

    # -- prime change orders ---------------------------------------------------------------------

    @app.get("/rest/v1.0/projects/{project_id}/prime_change_orders")
    async def list_prime_change_orders(project_id: int, request: Request):
        """Show All Prime Change Orders. Reference: SDK
        docs/ConstructionFinancialsChangeOrdersPrimeChangeOrdersApi.md and
        https://developers.procore.com/reference/rest/prime-change-orders (filters[id],
        filters[contract_id], filters[status], filters[updated_at]; no page / per_page, no
        pagination headers: not paginated here). The 200 body is given as "oneOf(object |
        object)" (the default and extended views of one order); a list is the only reading
        that fits a list endpoint, so a JSON array it is."""
        rows = state.change_orders_of(request.state.company_id, project_id)
        q = request.query_params
        if "filters[contract_id]" in q:
            rows = [o for o in rows if o.contract_id == _int(q["filters[contract_id]"])]
        if "filters[status]" in q:
            rows = [o for o in rows if o.status == q["filters[status]"]]
        rows = _filter_common(request, rows)
        return [change_order_view(o) for o in rows]

    _control_api(app, sim)
    return app


# -- the control API: the simulator's own, not Procore's -------------------------------------


def _control_api(app: FastAPI, sim: ProcoreSimulator) -> None:
    @app.post("/_sim/reset")
    async def reset(request: Request):
        body = await request.body()
        sim.reset(json.loads(body) if body.strip() else None)
        return {"reset": True}

    @app.get("/_sim/faults")
    async def faults():
        return {
            "rules": [r.describe() for r in sim.faults.rules],
            "sync_errors": {k: list(v) for k, v in sim.faults.sync_errors.items()},
            "edits": [e.__dict__ for e in sim.faults.edits],
        }

    @app.post("/_sim/faults", status_code=201)
    async def add_fault(request: Request):
        """{"kind": "status"|"delay", "status", "at_call", "path", "method", "nth", "times",
        "retry_after", "delay"}"""
        body = await _json(request)
        allowed = set(FaultRule.__dataclass_fields__) - {"id", "seen", "fired"}
        try:
            rule = sim.faults.add(FaultRule(**{k: v for k, v in body.items() if k in allowed}))
        except (TypeError, ValueError) as error:
            raise ProcoreError(400, str(error)) from error
        return rule.describe()

    @app.delete("/_sim/faults")
    async def clear_faults():
        sim.faults.clear()
        return {"cleared": True}

    @app.post("/_sim/sync_errors", status_code=201)
    async def add_sync_error(request: Request):
        """{"origin_id", "message", "field" (default "base"), "times" (default: always)}"""
        body = await _json(request)
        sim.sync_error(
            str(body["origin_id"]),
            body.get("message", "could not be saved"),
            field=body.get("field", "base"),
            times=body.get("times"),
        )
        return {"origin_id": str(body["origin_id"])}

    @app.post("/_sim/tokens/expire")
    async def expire_tokens():
        return {"expired": sim.expire_tokens()}

    @app.post("/_sim/line_items/{line_item_id}/edit")
    async def edit_line_item(line_item_id: int, request: Request):
        """{"changes": {...}, "after_call": n (optional: now)}"""
        body = await _json(request)
        try:
            item = sim.edit_line_item(
                line_item_id, after_call=body.get("after_call"), **body.get("changes", {})
            )
        except (KeyError, ValueError) as error:
            raise ProcoreError(400, str(error)) from error
        return {"scheduled": item is None}

    @app.post("/_sim/prime_contracts/{contract_id}/attach")
    async def attach(contract_id: int, request: Request):
        """{"project_id", "duplicate": false}"""
        body = await _json(request)
        try:
            contract = sim.attach_contract(
                contract_id, int(body["project_id"]), duplicate=bool(body.get("duplicate"))
            )
        except (KeyError, ValueError) as error:
            raise ProcoreError(400, str(error)) from error
        return {"id": contract.id, "project_ids": contract.project_ids}

    @app.post("/_sim/prime_change_orders", status_code=201)
    async def add_change_order(request: Request):
        """{"contract_id", "status", "grand_total", "title", "number", "executed"}"""
        body = await _json(request)
        try:
            order = sim.add_change_order(int(body.pop("contract_id")), **body)
        except (KeyError, TypeError, ValueError) as error:
            raise ProcoreError(400, str(error)) from error
        return change_order_view(order)

    @app.post("/_sim/clock/advance")
    async def advance(request: Request):
        body = await _json(request)
        sim.advance_clock(float(body["seconds"]))
        return {"offset": sim.clock.offset}

    @app.get("/_sim/requests")
    async def requests():
        return {
            "calls": sim.calls,
            "counts": sim.request_counts(),
            "by_status": sim.log.counts_by_status(),
        }


# -- helpers -----------------------------------------------------------------------------------


def _endpoint(app: FastAPI, scope: dict) -> str:
    """The route template a request goes to ("GET /rest/v1.0/prime_contracts"), for counting."""
    partial = None
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return f"{scope['method']} {route.path}"
        if match == Match.PARTIAL and partial is None:
            partial = route.path
    return f"{scope['method']} {partial or scope['path']}"


def _injected(rule: FaultRule, headers: dict[str, str]) -> Response:
    """An injected 429 (Procore's body) or 5xx. Retry-After on a 429 and a 503 (Procore under
    load answers 503 with Retry-After; error_reference.md asks for a backoff on both). It
    carries the rate-limit headers when the token is valid, and uses none of the budget (an
    answer from in front of the API; the reference is silent on whether those count)."""
    headers = dict(headers)
    if rule.retry_after is not None and rule.status in (429, 503):
        headers["Retry-After"] = str(rule.retry_after)
    if rule.status == 429:
        return PlainTextResponse(RATE_LIMIT_BODY, status_code=429, headers=headers)
    text = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return JSONResponse({"errors": text[rule.status]}, status_code=rule.status, headers=headers)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _required_int(request: Request, name: str) -> int:
    value = _int(request.query_params.get(name))
    if value is None:
        raise ProcoreError(400, {name: ["is missing or not an integer"]})
    return value


def _body_project(body: dict) -> int:
    value = _int(body.get("project_id"))
    if value is None:
        raise ProcoreError(400, {"project_id": ["is missing or not an integer"]})
    return value


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ProcoreError(400, "The request body is not valid JSON") from error
    if not isinstance(body, dict):
        raise ProcoreError(400, "The request body must be a JSON object")
    return body


async def _form_or_json(request: Request) -> dict:
    if "json" in request.headers.get("content-type", ""):
        return await _json(request)
    return dict(await request.form())


def _client_of(request: Request, state):
    token = state.valid_token(_bearer(request))
    return state.store.clients[token.client_id]


def _ids(request: Request) -> set[int] | None:
    """filters[id][]=1&filters[id][]=2, filters[id]=1,2 or filters[id]=[1,2] (the reference
    writes both the array form and, for the generated clients, comma-separated values)."""
    q = request.query_params
    values = q.getlist("filters[id][]") + q.getlist("filters[id]")
    if not values:
        return None
    ids = set()
    for value in values:
        for part in value.strip("[]").split(","):
            number = _int(part)
            if number is None:
                raise ProcoreError(400, {"filters[id]": [f"not an integer: {part}"]})
            ids.add(number)
    return ids


def _filter_common(request: Request, rows: list, *, created: bool = False) -> list:
    """filters[id], filters[updated_at] and (line items) filters[created_at]: timestamps are
    compared at the whole seconds the answers show."""
    ids = _ids(request)
    if ids is not None:
        rows = [r for r in rows if r.id in ids]
    names = ("updated_at", "created_at") if created else ("updated_at",)
    for name in names:
        text = request.query_params.get(f"filters[{name}]")
        if text is not None:
            low, high = parse_range(text)
            rows = [r for r in rows if low <= int(getattr(r, name)) <= high]
    return rows


def _page(request: Request, rows: list) -> JSONResponse:
    """Procore's pagination (api_essentials/pagination.md): page and per_page (at most 10,000:
    more is taken as 10,000, as the reference does not say what happens past it); headers
    Total, Per-Page and Link. Link carries first and prev from page 2 on ("If page is set to 2,
    then the header will only include the first, next, and last link": no prev on page 2), and
    next and last until the last page. The links keep the request's other parameters (the
    documentation's example shows only page and per_page; following a link must give the next
    page of the same list)."""
    per_page = _int(request.query_params.get("per_page", DEFAULT_PER_PAGE))
    page = _int(request.query_params.get("page", 1))
    if per_page is None or per_page < 1 or page is None or page < 1:
        raise ProcoreError(400, {"page": ["page and per_page must be positive integers"]})
    per_page = min(per_page, MAX_PER_PAGE)
    total = len(rows)
    last = max(1, math.ceil(total / per_page))

    def link(number: int, rel: str) -> str:
        url = request.url.include_query_params(page=number, per_page=per_page)
        return f'<{url}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(link(1, "first"))
    if page > 2:
        links.append(link(min(page - 1, last), "prev"))
    if page < last:
        links.append(link(page + 1, "next"))
        links.append(link(last, "last"))
    headers = {"Total": str(total), "Per-Page": str(per_page)}
    if links:
        headers["Link"] = ", ".join(links)
    start = (page - 1) * per_page
    return JSONResponse(rows[start : start + per_page], headers=headers)
