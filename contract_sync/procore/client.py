"""The Procore REST client: every Procore call of the product goes through `ProcoreClient`.

What every call gets, each from Procore's public developer documentation
(github.com/procore/documentation, published at https://developers.procore.com/documentation):

- an OAuth2 client-credentials token (oauth/oauth_client_credentials.md: POST /oauth/token,
  a bearer token of about 90 minutes, no refresh token), kept, and fetched anew once when a
  call answers 401 (api_essentials/error_reference.md: "The access token is invalid");
- the `Procore-Company-Id` header (required by every endpoint used, as the REST reference
  lists it; a service account's rate limit is per company with it);
- the hourly budget read from X-Rate-Limit-* into `budget`; a 429 slept through when the
  window resets soon enough, else `RateLimited` (api_essentials/rate_limiting.md);
- 503 with Retry-After and transport errors retried a bounded number of times, for calls
  that are safe to repeat only (see `_call`);
- pagination (api_essentials/pagination.md): page / per_page (at most 10,000), Total, Link;
- a count of requests per endpoint (`requests`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from contract_sync.errors import UserError
from contract_sync.vocabulary import AMOUNT_SCALE, PERCENT_SCALE, QUANTITY_SCALE, UNIT_COST_SCALE

from .budget import RateBudget
from .errors import ProcoreError, ProcoreUnavailable, RateLimited, message_of
from .records import LineItem, PrimeChangeOrder, PrimeContract, Project, SyncError, SyncResult
from .values import decimal_text

if TYPE_CHECKING:
    from contract_sync.settings import Settings

# api_essentials/pagination.md: "The highest value you can specify for the per_page parameter
# on paginated endpoints is 10,000."
MAX_PER_PAGE = 10_000
# guides/using_sync_actions.md: "Attributes for a maximum of 1000 resources within a
# collection may be passed with each call" (the SDK lists 413 past it).
SYNC_MAX_RECORDS = 1_000

TOKEN = "/oauth/token"
PROJECTS = "/rest/v1.0/projects"
PRIME_CONTRACTS = "/rest/v1.0/prime_contracts"  # the list: plural
PRIME_CONTRACT = "/rest/v1.0/prime_contract"  # create: singular (the REST reference)
PRIME_CONTRACT_ID = "/rest/v1.0/prime_contract/{id}"  # show, update: singular
LINE_ITEMS = "/rest/v1.0/prime_contracts/{id}/line_items"
LINE_ITEMS_SYNC = "/rest/v1.0/prime_contracts/{id}/line_items/sync"
LINE_ITEM = "/rest/v1.0/prime_contracts/{contract_id}/line_items/{id}"
PRIME_CHANGE_ORDERS = "/rest/v1.0/projects/{project_id}/prime_change_orders"

# A line item's numbers: the product's scaled integers, sent as exact decimal text.
ITEM_SCALES = {"amount": AMOUNT_SCALE, "quantity": QUANTITY_SCALE, "unit_cost": UNIT_COST_SCALE}

Params = list[tuple[str, Any]]


def time_range(start: datetime | str, end: datetime | str) -> str:
    """`FROM...TO` of filters[updated_at] (guides/filtering_on_list_actions.md): ISO 8601,
    a datetime in UTC as 2026-01-02T03:04:05Z."""

    def text(moment: datetime | str) -> str:
        if isinstance(moment, str):
            return moment
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    return f"{text(start)}...{text(end)}"


def _filters(
    ids: Iterable[int] | None = None, updated: tuple[datetime | str, datetime | str] | None = None
) -> Params:
    """filters[id][]=1&filters[id][]=2 and filters[updated_at]=FROM...TO
    (guides/filtering_on_list_actions.md)."""
    params: Params = [("filters[id][]", i) for i in ids or ()]
    if updated is not None:
        params.append(("filters[updated_at]", time_range(*updated)))
    return params


class ProcoreClient:
    """Procore's REST API for one company, over httpx.

    `per_page`: the page size lists ask for (the largest allowed by default);
    `longest_wait`: the longest a 429 or a 503's Retry-After is waited out, in seconds;
    `retries`: how many times a safe call is repeated after a 503 or a transport error;
    `backoff`: the first wait between such repeats without Retry-After (doubling);
    `timeout`: httpx's, per request; `sleep` and `clock`: time.sleep and time.time (tests
    may count the sleeps); `login_url`: where the token is asked for (Procore's is
    https://login.procore.com; by default the base URL)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        company_id: int,
        *,
        login_url: str | None = None,
        per_page: int = MAX_PER_PAGE,
        longest_wait: float = 60.0,
        retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1 to {MAX_PER_PAGE}")
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self.client_id = client_id
        self._secret = (
            client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        )
        self.company_id = company_id
        self.token_url = f"{login_url.rstrip('/')}{TOKEN}" if login_url else TOKEN
        self.per_page = per_page
        self.longest_wait = longest_wait
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.budget = RateBudget()
        self.requests: Counter[str] = Counter()  # "GET /rest/v1.0/prime_contracts" -> n
        self._token: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ProcoreClient:
        """The client the settings describe (CONTRACT_SYNC_PROCORE_*)."""
        company_id = options.pop("company_id", settings.procore_company_id)
        missing = [
            f"CONTRACT_SYNC_{name.upper()}"
            for name in ("procore_client_id", "procore_client_secret")
            if getattr(settings, name) is None
        ] + (["CONTRACT_SYNC_PROCORE_COMPANY_ID"] if company_id is None else [])
        if missing:
            raise UserError(f"Procore is not configured: set {', '.join(missing)}")
        return cls(
            settings.procore_base_url,
            settings.procore_client_id,
            settings.procore_client_secret,
            company_id,
            **({"login_url": settings.procore_login_url} | options),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ProcoreClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request_counts(self) -> dict[str, int]:
        """Requests sent per endpoint, retries and token requests included."""
        return dict(self.requests)

    # -- the typed calls -------------------------------------------------------------------------

    def projects(
        self, *, status: str = "Active", ids: Iterable[int] | None = None
    ) -> list[Project]:
        """The company's projects (REST reference, List projects: GET /rest/v1.0/projects,
        company_id required, filters[by_status] Active | Inactive | All)."""
        params = [("company_id", self.company_id), ("filters[by_status]", status), *_filters(ids)]
        return [Project.from_api(p) for p in self._list(PROJECTS, params)]

    def prime_contracts(
        self,
        project_id: int,
        *,
        ids: Iterable[int] | None = None,
        updated: tuple[datetime | str, datetime | str] | None = None,
    ) -> list[PrimeContract]:
        """A project's prime contracts (List Prime Contracts: GET /rest/v1.0/prime_contracts,
        project_id required; the plural path)."""
        params = [("project_id", project_id), *_filters(ids, updated)]
        return [PrimeContract.from_api(c) for c in self._list(PRIME_CONTRACTS, params)]

    def prime_contract(self, project_id: int, contract_id: int) -> PrimeContract:
        """One prime contract with its line items (Show Prime Contract: GET
        /rest/v1.0/prime_contract/{id}; the singular path)."""
        response = self._call(
            "GET", PRIME_CONTRACT_ID, {"id": contract_id}, params=[("project_id", project_id)]
        )
        return PrimeContract.from_api(self._json(response))

    def create_prime_contract(self, project_id: int, fields: Mapping[str, Any]) -> PrimeContract:
        """Create a prime contract (POST /rest/v1.0/prime_contract, body {project_id,
        prime_contract}: 201). `fields` are Procore's attributes; retainage_percent is the
        product's integer at scale 2 (10.00 % -> 1000).

        A create is not idempotent: repeated blindly after a timeout, it could make a second
        contract. So when the answer is lost (a transport error, a timeout, a 503), the
        contract is first looked up by its origin_id (unique in a company:
        guides/using_sync_actions.md) and returned if the lost create made it; only if it
        is not there is the create sent again, and an "origin_id has already been taken"
        answer to that repeat (the lost create landed meanwhile) is looked up once more.
        Without an origin_id nothing can be looked up: the failure is raised, not
        retried."""
        body = {"project_id": project_id, "prime_contract": self._contract_body(fields)}
        origin_id = body["prime_contract"].get("origin_id")
        lost = 0
        while True:
            try:
                response = self._call("POST", PRIME_CONTRACT, json=body, safe=False)
                return PrimeContract.from_api(self._json(response))
            except ProcoreUnavailable as failure:
                too_long = (failure.retry_after or 0) > self.longest_wait
                if origin_id in (None, "") or lost >= self.retries or too_long:
                    raise
                lost += 1
                self.sleep(self._retry_wait(failure, lost))
                found = self._contract_by_origin(project_id, origin_id)
                if found is not None:
                    return found
            except RateLimited:
                raise
            except ProcoreError as error:
                if lost and error.status == 400 and "origin_id" in error.message:
                    found = self._contract_by_origin(project_id, origin_id)
                    if found is not None:
                        return found
                raise

    def update_prime_contract(
        self, project_id: int, contract_id: int, fields: Mapping[str, Any]
    ) -> PrimeContract:
        """Update a prime contract (PATCH /rest/v1.0/prime_contract/{id}: only the supplied
        attributes change). Safe to repeat: it sets values, so sending it twice leaves the
        contract as sending it once."""
        body = {"project_id": project_id, "prime_contract": self._contract_body(fields)}
        response = self._call("PATCH", PRIME_CONTRACT_ID, {"id": contract_id}, json=body)
        return PrimeContract.from_api(self._json(response))

    def line_items(
        self,
        project_id: int,
        contract_id: int,
        *,
        ids: Iterable[int] | None = None,
        updated: tuple[datetime | str, datetime | str] | None = None,
    ) -> list[LineItem]:
        """A prime contract's line items (List Prime Contract line items: GET
        /rest/v1.0/prime_contracts/{id}/line_items, filters[id], filters[updated_at])."""
        params = [("project_id", project_id), *_filters(ids, updated)]
        rows = self._list(LINE_ITEMS, params, {"id": contract_id})
        return [LineItem.from_api(i) for i in rows]

    def sync_line_items(
        self, project_id: int, contract_id: int, records: Sequence[Mapping[str, Any]]
    ) -> SyncResult:
        """Create or update line items in bulk (Sync Prime Contract Line Items: PATCH
        /rest/v1.0/prime_contracts/{id}/line_items/sync, {updates: [...]}), 1,000 records a
        call. Each record names Procore's attributes; amount, quantity and unit_cost are the
        product's scaled integers (cents, thousandths, 1/100000), sent as exact decimals.

        Procore answers 200 with `entities` and `errors` per record
        (guides/using_sync_actions.md): a refused record is returned in `errors`, never
        raised. A call is safe to repeat after a lost answer because the sync is an upsert
        by `id` or `origin_id`: a second call finds the items the first made and updates
        them to the same values. So every record must carry an `id` or an `origin_id` (one
        without would be created again): a ValueError before anything is sent."""
        updates = [self._item_body(r, n) for n, r in enumerate(records)]
        entities: list[LineItem] = []
        errors: list[SyncError] = []
        calls = 0
        for start in range(0, len(updates), SYNC_MAX_RECORDS):
            response = self._call(
                "PATCH",
                LINE_ITEMS_SYNC,
                {"id": contract_id},
                params=[("project_id", project_id)],
                json={"updates": updates[start : start + SYNC_MAX_RECORDS]},
            )
            calls += 1
            data = self._json(response)
            entities.extend(LineItem.from_api(e) for e in data.get("entities") or ())
            errors.extend(SyncError.from_api(e) for e in data.get("errors") or ())
        return SyncResult(entities, errors, calls)

    def delete_line_item(self, project_id: int, contract_id: int, line_item_id: int) -> bool:
        """Delete a line item (Delete a Prime Contract line item: DELETE
        /rest/v1.0/prime_contracts/{prime_contract_id}/line_items/{id}, 200 with no body:
        the generated SDK, docs/ConstructionFinancialsPrimeContractPrimeContractLineItemsApi.md).
        Safe to repeat: a delete whose answer was lost and that landed answers 404 the second
        time, taken as done. False when the item was not there."""
        try:
            self._call(
                "DELETE",
                LINE_ITEM,
                {"contract_id": contract_id, "id": line_item_id},
                params=[("project_id", project_id)],
            )
        except ProcoreError as error:
            if error.status == 404:
                return False
            raise
        return True

    def prime_change_orders(
        self,
        project_id: int,
        *,
        contract_id: int | None = None,
        updated: tuple[datetime | str, datetime | str] | None = None,
    ) -> list[PrimeChangeOrder]:
        """A project's prime change orders (GET /rest/v1.0/projects/{project_id}/
        prime_change_orders, filters[contract_id], filters[updated_at]; the reference lists
        no page / per_page for it: one answer, pages followed if Procore sends any)."""
        params = _filters(None, updated)
        if contract_id is not None:
            params.append(("filters[contract_id]", contract_id))
        rows = self._list(PRIME_CHANGE_ORDERS, params, {"project_id": project_id}, paged=False)
        return [PrimeChangeOrder.from_api(o) for o in rows]

    # -- bodies ----------------------------------------------------------------------------------

    @staticmethod
    def _contract_body(fields: Mapping[str, Any]) -> dict[str, Any]:
        body = dict(fields)
        if body.get("retainage_percent") is not None:
            body["retainage_percent"] = decimal_text(body["retainage_percent"], PERCENT_SCALE)
        return body

    @staticmethod
    def _item_body(record: Mapping[str, Any], n: int) -> dict[str, Any]:
        if record.get("id") is None and record.get("origin_id") in (None, ""):
            raise ValueError(
                f"line item record {n}: an id or an origin_id is required (the sync is "
                "repeated after a lost answer, which is safe only for records it can find)"
            )
        body = dict(record)
        for name, scale in ITEM_SCALES.items():
            if name in body:
                body[name] = decimal_text(body[name], scale)
        return body

    # -- the machinery ---------------------------------------------------------------------------

    def _contract_by_origin(self, project_id: int, origin_id: Any) -> PrimeContract | None:
        return next(
            (c for c in self.prime_contracts(project_id) if c.origin_id == str(origin_id)), None
        )

    def _list(
        self,
        template: str,
        params: Params,
        path_args: Mapping[str, Any] | None = None,
        *,
        paged: bool = True,
    ) -> list[dict]:
        """Every record of a list, page after page (api_essentials/pagination.md): pages of
        `per_page` until the Link header names no `next` page (without a Link header: until
        `Total` records are in; with neither: one page)."""
        records: list[dict] = []
        page = 1
        while True:
            query = [*params, ("page", page), ("per_page", self.per_page)] if paged else params
            response = self._call("GET", template, path_args, params=query)
            rows = self._json(response)
            if not isinstance(rows, list):
                raise ProcoreError("GET", response.url.path, response.status_code, "not a list")
            records.extend(rows)
            link = response.headers.get("Link")
            total = response.headers.get("Total")
            if link is not None:
                more = 'rel="next"' in link
            else:
                more = total is not None and total.isdigit() and len(records) < int(total)
            if not rows or not more:
                return records
            page += 1

    def _call(
        self,
        method: str,
        template: str,
        path_args: Mapping[str, Any] | None = None,
        *,
        params: Params | None = None,
        json: Any = None,
        safe: bool = True,
    ) -> httpx.Response:
        """One call. `safe`: it may be repeated after a lost answer (a read; an update that
        sets values; the sync, an upsert by id or origin_id): a 503 or a transport error is
        then retried up to `retries` times, waiting Retry-After (when within `longest_wait`)
        or a doubling back-off. An unsafe call (a create) is sent once; its caller decides."""
        path = template.format(**path_args) if path_args else template
        endpoint = f"{method} {template}"
        if not safe:
            return self._attempt(method, path, endpoint, params, json)

        def stop(state: RetryCallState) -> bool:
            failure = state.outcome.exception() if state.outcome else None
            too_long = (
                isinstance(failure, ProcoreUnavailable)
                and (failure.retry_after or 0) > self.longest_wait
            )
            return too_long or state.attempt_number > self.retries

        retrying = Retrying(
            stop=stop,
            wait=lambda state: self._retry_wait(
                state.outcome.exception() if state.outcome else None, state.attempt_number
            ),
            retry=retry_if_exception_type(ProcoreUnavailable),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._attempt, method, path, endpoint, params, json)

    def _retry_wait(self, failure: BaseException | None, attempt: int) -> float:
        if isinstance(failure, ProcoreUnavailable) and failure.retry_after is not None:
            return failure.retry_after
        return self.backoff * 2 ** (attempt - 1)

    def _attempt(
        self, method: str, path: str, endpoint: str, params: Params | None, body: Any
    ) -> httpx.Response:
        """Send once, with what every answer may ask first: a new token after a 401 (once:
        a 401 is answered before anything is done, so repeating is safe for any call), and
        a wait through a 429 (also refused before anything is done) when the window resets
        within `longest_wait`."""
        renewed = False
        limited = 0
        while True:
            if self._token is None:
                self._fetch_token()
            headers = {
                "Authorization": f"Bearer {self._token}",
                "Procore-Company-Id": str(self.company_id),
            }
            response = self._send(method, path, endpoint, params=params, json=body, headers=headers)
            self.budget.update(response.headers)
            status = response.status_code
            if status == 401 and not renewed:
                # The token expired mid-run (tokens last about 90 minutes): renew once.
                renewed = True
                self._token = None
                continue
            if status == 429:
                limited += 1
                self.sleep(self._rate_wait(method, path, response, limited))
                continue
            if status == 503:
                raise ProcoreUnavailable(
                    method, path, status, message_of(response.content), _retry_after(response)
                )
            if response.is_error:
                raise ProcoreError(method, path, status, message_of(response.content))
            return response

    def _rate_wait(self, method: str, path: str, response: httpx.Response, times: int) -> float:
        """How long to sleep before repeating a 429'd call: until X-Rate-Limit-Reset
        (api_essentials/rate_limiting.md: "sleep until the reset") or Retry-After (which
        error_reference.md gives a 429); the later of the two when both are sent, our
        cautious reading. Past `longest_wait`, or after `retries` 429s in a row: RateLimited,
        so the caller can defer ("or stop and resume later")."""
        now = self.clock()
        reset = self.budget.resets_at if "X-Rate-Limit-Reset" in response.headers else None
        after = _retry_after(response)
        wait = max(reset - now if reset is not None else 0.0, after or 0.0, 0.0)
        resets_at = max(reset or 0.0, now + (after or 0.0))
        if wait > self.longest_wait or times > max(1, self.retries):
            raise RateLimited(method, path, message_of(response.content), resets_at)
        return wait

    def _fetch_token(self) -> None:
        """OAuth2 client credentials (oauth/oauth_client_credentials.md): POST /oauth/token
        with grant_type, client_id and client_secret; the answer's access_token (expires_in
        5400 s: kept until a call answers 401). Asking again is safe: it only issues another
        token."""
        response = self._send(
            "POST",
            self.token_url,
            f"POST {TOKEN}",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret.get_secret_value(),
            },
        )
        if response.status_code == 503:
            raise ProcoreUnavailable(
                "POST", TOKEN, 503, message_of(response.content), _retry_after(response)
            )
        if response.is_error:
            raise ProcoreError("POST", TOKEN, response.status_code, message_of(response.content))
        self._token = self._json(response)["access_token"]

    def _send(self, method: str, path: str, endpoint: str, **kwargs: Any) -> httpx.Response:
        """One HTTP request, counted; a transport error (no answer, a timeout) is a
        ProcoreUnavailable naming the call."""
        self.requests[endpoint] += 1
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            what = type(error).__name__ + (f": {error}" if str(error) else "")
            raise ProcoreUnavailable(method, path, None, what, None) from error

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        """The body, its numbers as Decimal (never float) or int."""
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as error:
            request = response.request
            raise ProcoreError(
                request.method, request.url.path, response.status_code, "the answer is not JSON"
            ) from error


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (an HTTP date is not expected from Procore: ignored)."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
