"""The product's Procore REST client (contract_sync.procore) against the Procore simulator
(simulators/procore, test equipment) over real HTTP: tokens, pages, the rate budget, retries
that never double-apply a write, the sync in chunks, exact numbers and request counts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict
from decimal import Decimal

import httpx
import pytest

from contract_sync.procore import (
    ProcoreClient,
    ProcoreError,
    ProcoreUnavailable,
    ProcoreValueError,
    RateBudget,
    RateLimited,
)
from contract_sync.procore.values import decimal_text, scaled
from contract_sync.settings import Settings
from simulators.procore import ProcoreSimulator, serve

COMPANY, PROJECT = 8001, 101
TOKEN = "POST /oauth/token"
PROJECTS = "GET /rest/v1.0/projects"
CONTRACTS = "GET /rest/v1.0/prime_contracts"
CREATE = "POST /rest/v1.0/prime_contract"
ITEMS = "GET /rest/v1.0/prime_contracts/{id}/line_items"
SYNC = "PATCH /rest/v1.0/prime_contracts/{id}/line_items/sync"
SIM_CREATE = "POST /rest/v1.0/prime_contract"
SIM_SYNC = "PATCH /rest/v1.0/prime_contracts/{prime_contract_id}/line_items/sync"
RATE_BODY = "You have surpassed the max number of requests for an hour"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ProcoreSimulator, str]]:
    sim = ProcoreSimulator()
    with serve(sim) as base_url:
        yield sim, base_url


@pytest.fixture
def sim(server) -> ProcoreSimulator:
    sim, _ = server
    sim.reset()
    return sim


class Sleeps(list):
    """time.sleep that remembers what it was asked (real: the simulator's clock is real)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def client(server, sim) -> Iterator[ProcoreClient]:
    with make(server) as client:
        yield client


def make(server, **options) -> ProcoreClient:
    _, base_url = server
    options.setdefault("sleep", Sleeps())
    return ProcoreClient(base_url, "sim-client", "sim-secret", COMPANY, **options)


def new_contract(client: ProcoreClient, origin_id: str = "1:1001-") -> int:
    contract = client.create_prime_contract(
        PROJECT, {"title": "Main contract", "status": "Approved", "origin_id": origin_id}
    )
    return contract.id


def items(n: int, prefix: str = "I-") -> list[dict]:
    return [
        {"origin_id": f"{prefix}{i:04d}", "description": f"Item {i}", "amount": 10_000 + i}
        for i in range(n)
    ]


# -- tokens ------------------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_renewed_once_when_it_expires_mid_run(sim, client):
    client.projects()
    client.projects()
    assert client.requests[TOKEN] == 1
    sim.expire_tokens()  # 90 minutes later
    assert [p.id for p in client.projects()] == [101, 102, 103]
    assert client.requests[TOKEN] == 2
    assert client.requests[PROJECTS] == 4  # 2, then the 401 and its repeat
    assert sim.request_counts()["POST /oauth/token"] == 2


def test_a_new_token_refused_too_is_an_error_naming_the_call(sim, client):
    sim.config.token_ttl = 0  # every token is dead on arrival
    with pytest.raises(ProcoreError) as raised:
        client.projects()
    assert raised.value.status == 401
    assert "GET /rest/v1.0/projects: HTTP 401: The access token is invalid" in str(raised.value)
    assert client.requests[TOKEN] == 2  # renewed once, not again


def test_bad_credentials_name_the_token_call(server, sim):
    _, base_url = server
    client = ProcoreClient(base_url, "sim-client", "wrong", COMPANY)
    with client, pytest.raises(ProcoreError, match=r"POST /oauth/token: HTTP 401: invalid_client"):
        client.projects()


def test_every_call_sends_the_company_header(server, sim):
    _, base_url = server
    client = ProcoreClient(base_url, "sim-client", "sim-secret", 9999)
    with (
        client,
        pytest.raises(ProcoreError, match="HTTP 403: App is not connected to this company"),
    ):
        client.projects()


# -- pages -------------------------------------------------------------------------------------


def test_a_list_follows_every_page_and_passes_its_filters(server, sim):
    with make(server, per_page=100) as client:
        contract_id = new_contract(client)
        written = client.sync_line_items(PROJECT, contract_id, items(250)).entities
        before = dict(client.requests)
        listed = client.line_items(PROJECT, contract_id)
        assert [i.origin_id for i in listed] == [f"I-{i:04d}" for i in range(250)]
        assert client.requests[ITEMS] - before.get(ITEMS, 0) == 3  # 100 + 100 + 50

        chosen = [written[5].id, written[205].id]
        assert [i.id for i in client.line_items(PROJECT, contract_id, ids=chosen)] == chosen

        last = written[-1]
        edited = sim.edit_line_item(last.id, description="Changed in Procore")
        since = (edited.updated_at, edited.updated_at + 60)
        stamps = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in since]
        changed = client.line_items(PROJECT, contract_id, updated=tuple(stamps))
        assert [(i.id, i.description) for i in changed] == [(last.id, "Changed in Procore")]


def test_a_list_asks_for_the_largest_page(client):
    contract_id = new_contract(client)
    client.sync_line_items(PROJECT, contract_id, items(250))
    assert len(client.line_items(PROJECT, contract_id)) == 250
    assert client.requests[ITEMS] == 1


# -- the rate budget ---------------------------------------------------------------------------


def test_the_budget_is_read_from_every_answer(sim, client):
    sim.config.rate_limit = 10
    assert client.budget == RateBudget() and client.budget.fits(10_000)  # nothing known yet
    client.projects()
    client.projects()
    budget = client.budget
    assert (budget.limit, budget.remaining) == (10, 8)
    assert 3590 < budget.resets_at - time.time() <= 3601
    assert budget.fits(8) and not budget.fits(9)
    assert budget.fits(10, now=budget.resets_at)  # a new window
    assert not budget.fits(11, now=budget.resets_at)


def test_a_429_is_slept_through_when_the_window_resets_soon(server, sim):
    sim.config.rate_limit, sim.config.rate_window = 2, 0.5
    with make(server, longest_wait=5) as client:
        for _ in range(3):
            client.projects()
        assert len(client.sleep) == 1 and 0 < client.sleep[0] <= 2
        assert client.requests[PROJECTS] == 4  # the 429 and its repeat
        assert sim.log.counts_by_status()["GET /rest/v1.0/projects"] == {200: 3, 429: 1}


def test_a_429_far_from_its_reset_is_rate_limited_for_the_caller_to_defer(server, sim):
    sim.config.rate_limit = 1  # an hour's window
    with make(server, longest_wait=5) as client:
        client.projects()
        with pytest.raises(RateLimited) as raised:
            client.projects()
        assert client.sleep == []
        error = raised.value
        assert 3590 < error.resets_at - time.time() <= 3601
        assert error.status == 429 and RATE_BODY in str(error)
        assert "GET /rest/v1.0/projects" in str(error) and "resets at" in str(error)
        assert not client.budget.fits(1)


# -- retries -----------------------------------------------------------------------------------


def test_a_503_with_retry_after_is_retried(server, sim):
    sim.fail(503, path="/rest/v1.0/projects$", retry_after=2)
    sleeps: list[float] = []  # not slept: the simulator does not time a 503
    with make(server, sleep=sleeps.append) as client:
        assert len(client.projects()) == 3
        assert sleeps == [2.0]
        assert client.requests[PROJECTS] == 2


def test_a_lasting_503_is_an_error_after_the_bounded_retries(server, sim):
    sim.fail(503, path="/rest/v1.0/projects$", retry_after=1, times=None)
    sleeps: list[float] = []
    with make(server, sleep=sleeps.append, retries=2) as client:
        with pytest.raises(ProcoreUnavailable, match="HTTP 503: Service Unavailable"):
            client.projects()
        assert client.requests[PROJECTS] == 3 and sleeps == [1.0, 1.0]


def test_a_503_asking_for_longer_than_the_longest_wait_is_not_waited_for(server, sim):
    sim.fail(503, path="/rest/v1.0/projects$", retry_after=600)
    sleeps: list[float] = []
    with make(server, sleep=sleeps.append, longest_wait=60) as client:
        with pytest.raises(ProcoreUnavailable):
            client.projects()
        assert client.requests[PROJECTS] == 1 and sleeps == []


def test_a_timed_out_read_is_retried(server, sim):
    sim.delay(0.6, path="/rest/v1.0/projects$")
    with make(server, timeout=0.2, backoff=0.01) as client:
        assert len(client.projects()) == 3
        assert client.requests[PROJECTS] == 2


def contracts_with(client: ProcoreClient, origin_id: str) -> list:
    return [c for c in client.prime_contracts(PROJECT) if c.origin_id == origin_id]


class AnswerLost(httpx.HTTPTransport):
    """Sends the first create to the simulator, which makes the contract, then loses its
    answer: the client sees a timeout after Procore applied the write."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        create = request.method == "POST" and request.url.path.endswith("/prime_contract")
        if create and not self.lost:
            self.lost += 1
            response.read()
            raise httpx.ReadTimeout("timed out reading the answer", request=request)
        return response


def test_a_timed_out_create_that_landed_is_found_not_created_again(server, sim):
    transport = AnswerLost()
    with make(server, transport=transport, backoff=0.0) as client:
        contract = client.create_prime_contract(PROJECT, {"title": "A", "origin_id": "C-1"})
        assert transport.lost == 1 and contract.origin_id == "C-1"
        assert [c.id for c in contracts_with(client, "C-1")] == [contract.id]
        assert client.requests[CREATE] == 1  # looked up, not sent again
        assert sim.request_counts()[SIM_CREATE] == 1


def test_a_timed_out_create_that_did_not_land_is_sent_again_and_made_once(server, sim):
    # The simulator drops a delayed request whose client has gone (it never reads its body).
    sim.delay(0.4, path="/rest/v1.0/prime_contract$", method="POST")
    with make(server, timeout=0.15, backoff=0.0) as client:
        contract = client.create_prime_contract(PROJECT, {"title": "A", "origin_id": "C-1"})
        time.sleep(0.4)
        assert [c.id for c in contracts_with(client, "C-1")] == [contract.id]
        assert client.requests[CREATE] == 2


def test_a_timed_out_create_without_origin_id_is_not_retried(server, sim):
    sim.delay(0.4, path="/rest/v1.0/prime_contract$", method="POST")
    with make(server, timeout=0.15) as client:
        with pytest.raises(ProcoreUnavailable, match=r"POST /rest/v1.0/prime_contract: no answer"):
            client.create_prime_contract(PROJECT, {"title": "A"})
        assert client.requests[CREATE] == 1
        time.sleep(0.4)


def test_a_503_on_the_sync_is_retried_without_doubling_items(server, sim):
    with make(server, sleep=lambda _seconds: None) as client:
        contract_id = new_contract(client)
        sim.fail(503, path="/line_items/sync$", retry_after=1)
        result = client.sync_line_items(PROJECT, contract_id, items(3))
        assert len(result.entities) == 3 and client.requests[SYNC] == 2
        assert len(client.line_items(PROJECT, contract_id)) == 3


# -- the sync ----------------------------------------------------------------------------------


def test_the_sync_goes_1000_records_a_call_and_returns_refused_records(sim, client):
    contract_id = new_contract(client)
    sim.sync_error("I-1042", "Cost code is required", field="cost_code_id")
    result = client.sync_line_items(PROJECT, contract_id, items(2500))
    assert result.calls == 3 and client.requests[SYNC] == 3
    assert sim.request_counts()[SIM_SYNC] == 3
    assert len(result.entities) == 2499
    [error] = result.errors
    assert error.origin_id == "I-1042"
    assert error.errors == {"cost_code_id": ["Cost code is required"]}
    assert error.record["amount"] == "110.42"  # what was sent, exactly


def test_a_sync_record_without_id_or_origin_id_is_refused_before_any_call(client):
    with pytest.raises(ValueError, match="line item record 1: an id or an origin_id"):
        client.sync_line_items(PROJECT, 5001, [{"origin_id": "A"}, {"description": "B"}])
    assert client.request_counts() == {}


# -- exact numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("numbers_as_strings", [False, True])
def test_numbers_come_back_as_the_exact_scaled_integers(sim, client, numbers_as_strings):
    sim.config.numbers_as_strings = numbers_as_strings
    contract_id = new_contract(client)
    sent = [
        {"origin_id": "A", "amount": 12_345_678_901_234, "quantity": 12_345, "unit_cost": 123_456},
        {"origin_id": "B", "amount": -50_001, "quantity": 1, "unit_cost": 1},  # a deduct
        {"origin_id": "C", "amount": 10, "quantity": None, "unit_cost": None, "uom": "LS"},
    ]
    client.sync_line_items(PROJECT, contract_id, sent)
    got = client.line_items(PROJECT, contract_id)
    assert [(i.amount, i.quantity, i.unit_cost) for i in got] == [
        (12_345_678_901_234, 12_345, 123_456),
        (-50_001, 1, 1),
        (10, None, None),
    ]
    assert got[0].raw["amount"] == "123456789012.34"
    quantity = got[0].raw["quantity"]
    assert quantity == ("12.345" if numbers_as_strings else Decimal("12.345"))  # never a float


@pytest.mark.parametrize(
    ("field", "value", "scale"), [("unit_cost", "1.234567", 5), ("quantity", "2.0005", 3)]
)
def test_a_value_with_too_many_decimals_is_refused_by_name(sim, client, field, value, scale):
    contract_id = new_contract(client)
    [item] = client.sync_line_items(PROJECT, contract_id, [{"origin_id": "X-7"}]).entities
    sim.edit_line_item(item.id, **{field: value})  # a person types it in Procore
    with pytest.raises(ProcoreValueError) as raised:
        client.line_items(PROJECT, contract_id)
    assert str(raised.value) == (
        f"line item {item.id} (origin_id 'X-7'): {field} {value} has more than {scale} "
        "decimals (not rounded)"
    )


def test_scaling_is_exact_both_ways():
    assert scaled("0.1", 2, record="r", field="amount") == 10
    assert scaled(Decimal("1E+2"), 2, record="r", field="amount") == 10_000
    assert scaled(7, 3, record="r", field="quantity") == 7000
    assert scaled("", 2, record="r", field="amount") is None
    assert scaled("10.50", 1, record="r", field="f") == 105  # trailing zeros are exact
    for bad, problem in [(0.1, "not an exact number"), ("x", "not a number")]:
        with pytest.raises(ProcoreValueError, match=f"r: amount .* {problem}"):
            scaled(bad, 2, record="r", field="amount")
    with pytest.raises(ProcoreValueError, match="too large"):
        scaled("1" * 17, 2, record="r", field="amount")
    assert decimal_text(123_456, 2) == "1234.56" and decimal_text(1, 5) == "0.00001"
    assert decimal_text(-5, 2) == "-0.05" and decimal_text(None, 2) is None
    with pytest.raises(TypeError):
        decimal_text("12.5", 2)


# -- contracts, change orders, errors, counts --------------------------------------------------


def test_contracts_and_change_orders_read_back_typed(sim, client):
    contract = client.create_prime_contract(
        PROJECT,
        {"title": "Main", "status": "Approved", "origin_id": "1:1001-", "retainage_percent": 1000},
    )
    assert contract.retainage_percent == 1000 and contract.raw["retainage_percent"] == "10.00"
    client.sync_line_items(PROJECT, contract.id, items(2))
    updated = client.update_prime_contract(PROJECT, contract.id, {"title": "Main (revised)"})
    assert updated.title == "Main (revised)"
    shown = client.prime_contract(PROJECT, contract.id)
    assert shown.grand_total == 20_001 and [i.amount for i in shown.line_items] == [10_000, 10_001]
    assert [c.id for c in client.prime_contracts(PROJECT, ids=[contract.id])] == [contract.id]
    sim.add_change_order(contract.id, grand_total="1500.25")
    [order] = client.prime_change_orders(PROJECT, contract_id=contract.id)
    assert (order.contract_id, order.grand_total, order.status) == (
        contract.id,
        150_025,
        "approved",
    )
    assert asdict(order)["raw"]["grand_total"] == "1500.25"


def test_a_failure_names_the_call_the_status_and_procores_message(client):
    with pytest.raises(ProcoreError) as raised:
        client.prime_contract(PROJECT, 999)
    assert str(raised.value) == (
        "Procore GET /rest/v1.0/prime_contract/999: HTTP 404: Prime Contract not found"
    )
    new_contract(client, "dup")
    with pytest.raises(ProcoreError, match=r'POST .*HTTP 400: \{"origin_id": \["has already'):
        new_contract(client, "dup")


def test_requests_are_counted_per_endpoint(sim, client):
    client.projects()
    contract_id = new_contract(client)
    client.sync_line_items(PROJECT, contract_id, items(1200))
    client.line_items(PROJECT, contract_id)
    client.prime_change_orders(PROJECT)
    assert client.request_counts() == {
        TOKEN: 1,
        PROJECTS: 1,
        CREATE: 1,
        SYNC: 2,
        ITEMS: 1,
        "GET /rest/v1.0/projects/{project_id}/prime_change_orders": 1,
    }
    assert sum(client.request_counts().values()) == sim.calls


def test_the_client_from_settings(server, sim, monkeypatch):
    _, base_url = server
    assert Settings().procore_login_url == "https://login.procore.com"  # Procore's own
    settings = Settings(
        procore_base_url=base_url,
        procore_login_url=base_url,  # the simulator answers its own tokens
        procore_client_id="sim-client",
        procore_client_secret="sim-secret",
        procore_company_id=COMPANY,
    )
    assert "sim-secret" not in repr(settings)
    with ProcoreClient.from_settings(settings) as client:
        assert len(client.projects()) == 3
    with pytest.raises(Exception, match="CONTRACT_SYNC_PROCORE_CLIENT_ID"):
        ProcoreClient.from_settings(Settings(procore_company_id=COMPANY))
