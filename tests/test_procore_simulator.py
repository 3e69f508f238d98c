"""The Procore simulator (simulators/procore, test equipment): driven over real HTTP with httpx
against uvicorn on a free loopback port, as the pipeline's Procore client will drive it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from simulators.procore import ProcoreSimulator, serve

COMPANY, OTHER_COMPANY = 8001, 8002
PROJECT, SECOND_PROJECT, OTHER_COMPANY_PROJECT = 101, 102, 201
SYNC = "/rest/v1.0/prime_contracts/{id}/line_items/sync"
LINE_ITEMS = "/rest/v1.0/prime_contracts/{id}/line_items"
RATE_BODY = (
    "You have surpassed the max number of requests for an hour. "
    "Please wait until your limit resets."
)


class Client:
    """A minimal Procore client: a client-credentials token and the company header."""

    def __init__(self, base_url: str, client_id="sim-client", secret="sim-secret", company=COMPANY):
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.client_id, self.secret, self.company = client_id, secret, company
        self.token = self.new_token()

    def new_token(self) -> str:
        answer = self.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.secret,
            },
        )
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]
        return self.token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Procore-Company-Id": str(self.company)}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers(), **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def create_contract(self, project_id=PROJECT, **fields) -> dict:
        fields = {"title": "Main contract", "status": "Approved", **fields}
        answer = self.request(
            "POST",
            "/rest/v1.0/prime_contract",
            json={"project_id": project_id, "prime_contract": fields},
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def sync(self, contract_id: int, updates: list, project_id=PROJECT) -> httpx.Response:
        return self.request(
            "PATCH",
            SYNC.format(id=contract_id),
            params={"project_id": project_id},
            json={"updates": updates},
        )

    def items(self, contract_id: int, project_id=PROJECT, **params) -> httpx.Response:
        return self.get(
            LINE_ITEMS.format(id=contract_id), params={"project_id": project_id, **params}
        )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ProcoreSimulator, str]]:
    sim = ProcoreSimulator()
    with serve(sim) as base_url:
        yield sim, base_url


@pytest.fixture
def sim(served) -> ProcoreSimulator:
    simulator, _ = served
    simulator.reset()
    return simulator


@pytest.fixture
def client(sim, served) -> Iterator[Client]:
    c = Client(served[1])
    yield c
    c.http.close()


def items_of(n: int, prefix="1:C1") -> list[dict]:
    return [
        {"origin_id": f"{prefix}:{i}", "description": f"Item {i}", "amount": f"{i}00.10"}
        for i in range(1, n + 1)
    ]


def links(answer: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', answer.headers["Link"])}


# -- OAuth ---------------------------------------------------------------------------------------


def test_token_flow_and_expiry(sim, served):
    http = httpx.Client(base_url=served[1])
    refused = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "sim-client", "client_secret": "x"},
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    wrong_grant = http.post("/oauth/token", data={"grant_type": "password"})
    assert wrong_grant.status_code == 400

    answer = http.post(  # JSON, as the generated clients send it
        "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "sim-client",
            "client_secret": "sim-secret",
        },
    )
    body = answer.json()
    assert answer.status_code == 200 and body["token_type"] == "bearer"
    assert body["expires_in"] == 5400 and abs(body["created_at"] - time.time()) < 5
    headers = {"Authorization": f"Bearer {body['access_token']}", "Procore-Company-Id": "8001"}
    assert http.get("/rest/v1.0/companies", headers=headers).status_code == 200

    assert (
        http.get("/rest/v1.0/companies", headers={"Procore-Company-Id": "8001"}).status_code == 401
    )
    forged = {**headers, "Authorization": "Bearer not-a-token"}
    assert http.get("/rest/v1.0/companies", headers=forged).json() == {
        "errors": "The access token is invalid"
    }

    sim.advance_clock(5399)
    assert http.get("/rest/v1.0/companies", headers=headers).status_code == 200
    sim.advance_clock(1)  # 5400 s after it was issued: expired
    expired = http.get("/rest/v1.0/companies", headers=headers)
    assert expired.status_code == 401 and "x-rate-limit-limit" not in expired.headers


def test_company_header_is_required_and_must_be_connected(client):
    no_header = client.http.get(
        "/rest/v1.0/prime_contracts",
        params={"project_id": PROJECT},
        headers={"Authorization": f"Bearer {client.token}"},
    )
    assert no_header.status_code == 400
    other = Client(client.http.base_url, "other-client", "other-secret", company=COMPANY)
    assert (
        other.get("/rest/v1.0/prime_contracts", params={"project_id": PROJECT}).status_code == 403
    )
    # a project of another company is not found through this company
    assert client.get("/rest/v1.0/prime_contracts", params={"project_id": 201}).status_code == 404


# -- companies, projects, prime contracts ------------------------------------------------------


def test_projects_carry_the_erp_job_link(client):
    answer = client.get("/rest/v1.0/projects", params={"company_id": COMPANY})
    projects = {p["id"]: p for p in answer.json()}
    assert projects[PROJECT]["origin_id"] == "1:1001-001"
    assert projects[PROJECT]["origin_code"] == "1001-001"
    assert projects[103]["origin_id"] is None  # a project with no ERP job
    assert 104 not in projects  # inactive: only with filters[by_status]=Inactive or All
    assert answer.headers["Total"] == "3"
    found = client.get(
        "/rest/v1.0/projects", params={"company_id": COMPANY, "filters[origin_id]": "1:1002-001"}
    )
    assert [p["id"] for p in found.json()] == [SECOND_PROJECT]
    every = client.get(
        "/rest/v1.0/projects", params={"company_id": COMPANY, "filters[by_status]": "All"}
    )
    assert len(every.json()) == 4


def test_prime_contract_create_show_update_on_the_singular_path(client):
    made = client.create_contract(
        origin_id="1:C1", origin_data="vista", number="C1", origin_code="X"
    )
    assert made["status"] == "Approved" and made["origin_id"] == "1:C1" and made["line_items"] == []
    assert "origin_code" not in made  # not in the reference's show body; read-only anyway
    shown = client.get(f"/rest/v1.0/prime_contract/{made['id']}", params={"project_id": PROJECT})
    assert shown.status_code == 200 and shown.json()["title"] == "Main contract"
    plural = client.get(f"/rest/v1.0/prime_contracts/{made['id']}", params={"project_id": PROJECT})
    assert plural.status_code == 404

    changed = client.request(
        "PATCH",
        f"/rest/v1.0/prime_contract/{made['id']}",
        json={"project_id": PROJECT, "prime_contract": {"title": "Renamed", "status": "Complete"}},
    )
    assert changed.status_code == 200
    assert (changed.json()["title"], changed.json()["number"]) == ("Renamed", "C1")

    listed = client.get("/rest/v1.0/prime_contracts", params={"project_id": PROJECT}).json()
    assert [(c["id"], c["origin_code"]) for c in listed] == [(made["id"], None)]

    bad_status = client.request(
        "POST",
        "/rest/v1.0/prime_contract",
        json={"project_id": PROJECT, "prime_contract": {"status": "Open"}},
    )
    assert bad_status.status_code == 400
    duplicate = client.request(
        "POST",
        "/rest/v1.0/prime_contract",
        json={"project_id": SECOND_PROJECT, "prime_contract": {"origin_id": "1:C1"}},
    )
    assert duplicate.status_code == 400 and "origin_id" in duplicate.json()["errors"]


def test_prime_change_orders_list_approved_or_not(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    client.sync(contract["id"], items_of(2))
    sim.add_change_order(contract["id"], status="approved", grand_total="250.00")
    sim.add_change_order(contract["id"], status="pending", grand_total="75.5")
    path = f"/rest/v1.0/projects/{PROJECT}/prime_change_orders"
    orders = client.get(path).json()
    assert [(o["status"], o["grand_total"]) for o in orders] == [
        ("approved", "250.0"),
        ("pending", "75.5"),
    ]
    assert [
        o["status"] for o in client.get(path, params={"filters[status]": "approved"}).json()
    ] == ["approved"]
    shown = client.get(
        f"/rest/v1.0/prime_contract/{contract['id']}", params={"project_id": PROJECT}
    )
    assert shown.json()["approved_change_orders"] == "250.0"
    assert shown.json()["revised_contract_amount"] == "550.2"  # 100.10 + 200.10 + 250


# -- pagination and filters ----------------------------------------------------------------------


def test_pagination_headers_and_link(client):
    contract = client.create_contract(origin_id="1:C1")
    assert client.sync(contract["id"], items_of(25)).json()["errors"] == []

    first = client.items(contract["id"], per_page=10)
    assert (first.headers["Total"], first.headers["Per-Page"]) == ("25", "10")
    assert set(links(first)) == {"next", "last"}
    assert "page=3" in links(first)["last"] and f"project_id={PROJECT}" in links(first)["next"]
    second = client.items(contract["id"], per_page=10, page=2)
    assert set(links(second)) == {"first", "next", "last"}  # no prev on page 2, as documented
    third = client.items(contract["id"], per_page=10, page=3)
    assert set(links(third)) == {"first", "prev"} and len(third.json()) == 5

    seen, url = [], links(first)["next"]
    seen += [i["origin_id"] for i in first.json()]
    while url:
        page = client.http.get(url, headers=client.headers())
        seen += [i["origin_id"] for i in page.json()]
        url = links(page).get("next") if "Link" in page.headers else None
    assert seen == [f"1:C1:{i}" for i in range(1, 26)]

    capped = client.items(contract["id"], per_page=50_000)
    assert capped.headers["Per-Page"] == "10000" and "Link" not in capped.headers
    assert client.items(contract["id"], per_page=0).status_code == 400


def test_line_item_number_types(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    made = client.sync(
        contract["id"],
        [{"origin_id": "1:C1:1", "quantity": "3", "unit_cost": "12.5", "uom": "EA"}],
    ).json()["entities"][0]
    assert (made["amount"], made["quantity"], made["unit_cost"]) == ("37.5", 3.0, 12.5)
    sim.config.numbers_as_strings = True  # the newer reference text: string(float)
    listed = client.items(contract["id"]).json()[0]
    assert (listed["amount"], listed["quantity"], listed["unit_cost"]) == ("37.5", "3.0", "12.5")


def test_updated_at_and_id_filters(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    made = client.sync(contract["id"], items_of(3)).json()["entities"]
    sim.advance_clock(120)
    sim.edit_line_item(made[1]["id"], description="Changed by a person")
    edited = client.items(contract["id"]).json()[1]
    assert edited["description"] == "Changed by a person"
    assert edited["updated_at"] > made[1]["updated_at"]

    since = edited["updated_at"]
    window = client.items(
        contract["id"], **{"filters[updated_at]": f"{since}...2999-01-01T00:00:00Z"}
    )
    assert [i["id"] for i in window.json()] == [made[1]["id"]]
    day = since[:10]
    whole_day = client.items(contract["id"], **{"filters[updated_at]": f"{day}...{day}"})
    assert len(whole_day.json()) >= 1
    before = client.items(contract["id"], **{"filters[updated_at]": "2000-01-01...2000-01-02"})
    assert before.json() == [] and before.headers["Total"] == "0"
    assert client.items(contract["id"], **{"filters[updated_at]": "yesterday"}).status_code == 400

    ids = client.items(contract["id"], **{"filters[id][]": [made[0]["id"], made[2]["id"]]})
    assert [i["id"] for i in ids.json()] == [made[0]["id"], made[2]["id"]]
    csv = client.items(contract["id"], **{"filters[id]": f"{made[2]['id']}"})
    assert [i["id"] for i in csv.json()] == [made[2]["id"]]
    contracts = client.get(
        "/rest/v1.0/prime_contracts",
        params={"project_id": PROJECT, "filters[id][]": contract["id"]},
    )
    assert [c["id"] for c in contracts.json()] == [contract["id"]]


# -- the sync endpoint ---------------------------------------------------------------------------


def test_sync_upserts_by_origin_id_and_by_id(client):
    contract = client.create_contract(origin_id="1:C1")
    first = client.sync(contract["id"], items_of(2))
    assert first.status_code == 200
    made = first.json()["entities"]
    assert [i["origin_id"] for i in made] == ["1:C1:1", "1:C1:2"] and first.json()["errors"] == []

    again = client.sync(
        contract["id"],
        [
            {"origin_id": "1:C1:1", "amount": "150.00"},  # found by origin_id: updated
            {"origin_id": "1:C1:3", "description": "New"},  # not found: created
            {"id": made[1]["id"], "origin_id": "1:C1:2b"},  # by id: the way to change origin_id
            {"description": "No key"},  # neither: created without an origin_id
            {"id": 1, "description": "Nobody"},  # unknown id: an error
        ],
    ).json()
    by_origin = {i["origin_id"]: i for i in again["entities"]}
    assert by_origin["1:C1:1"]["id"] == made[0]["id"] and by_origin["1:C1:1"]["amount"] == "150.0"
    assert (
        by_origin["1:C1:2b"]["id"] == made[1]["id"] and by_origin[None]["description"] == "No key"
    )
    assert again["errors"] == [
        {"id": 1, "description": "Nobody", "errors": {"id": ["Entity with this ID not found"]}}
    ]
    assert client.items(contract["id"]).headers["Total"] == "4"


def test_sync_origin_id_is_unique_in_the_company(client):
    one = client.create_contract(origin_id="1:C1")
    two = client.create_contract(project_id=SECOND_PROJECT, origin_id="1:C2")
    client.sync(one["id"], [{"origin_id": "1:SHARED", "amount": "1"}])
    clash = client.sync(
        two["id"], [{"origin_id": "1:SHARED", "amount": "2"}], project_id=SECOND_PROJECT
    )
    assert clash.status_code == 200
    assert clash.json()["errors"][0]["errors"] == {"origin_id": ["has already been taken"]}
    other = Client(client.http.base_url, company=OTHER_COMPANY)
    theirs = other.create_contract(project_id=OTHER_COMPANY_PROJECT, origin_id="1:C1")
    fine = other.sync(theirs["id"], [{"origin_id": "1:SHARED"}], project_id=OTHER_COMPANY_PROJECT)
    assert fine.json()["errors"] == []  # the same origin_id in another company is allowed


def test_sync_refuses_bad_records_one_by_one_and_more_than_1000(client):
    contract = client.create_contract(origin_id="1:C1")
    mixed = client.sync(
        contract["id"],
        [{"origin_id": "1:C1:1", "amount": "12x"}, {"origin_id": "1:C1:2", "amount": "3"}],
    ).json()
    assert [e["origin_id"] for e in mixed["errors"]] == ["1:C1:1"]
    assert mixed["errors"][0]["errors"] == {"amount": ["is not a number"]}
    assert [e["origin_id"] for e in mixed["entities"]] == ["1:C1:2"]

    too_many = client.sync(contract["id"], items_of(1001, prefix="1:BIG"))
    assert too_many.status_code == 413
    assert client.items(contract["id"]).headers["Total"] == "1"
    at_most = client.sync(contract["id"], items_of(1000, prefix="1:BIG"))
    assert at_most.status_code == 200 and len(at_most.json()["entities"]) == 1000


# -- rate limits ---------------------------------------------------------------------------------


def test_rate_limit_headers_count_down_then_429(sim, client):
    sim.config.rate_limit = 5
    remaining = []
    for _ in range(5):
        answer = client.get("/rest/v1.0/companies")
        assert answer.status_code == 200 and answer.headers["X-Rate-Limit-Limit"] == "5"
        remaining.append(int(answer.headers["X-Rate-Limit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    reset = int(answer.headers["X-Rate-Limit-Reset"])
    assert 3590 < reset - time.time() <= 3601

    refused = client.get("/rest/v1.0/companies")
    assert refused.status_code == 429 and refused.text == RATE_BODY
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    client.new_token()  # a new token of the same app and company: the same budget
    assert client.get("/rest/v1.0/companies").status_code == 429

    sim.advance_clock(3601)  # the window is over
    again = client.get("/rest/v1.0/companies")
    assert again.status_code == 200 and again.headers["X-Rate-Limit-Remaining"] == "4"


# -- injected faults -----------------------------------------------------------------------------


def test_injected_503_and_429_at_call_numbers_and_paths(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    sim.fail(503, at_call=sim.calls + 1, retry_after=7)
    unavailable = client.items(contract["id"])
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "7"
    assert "X-Rate-Limit-Remaining" in unavailable.headers
    assert client.items(contract["id"]).status_code == 200  # fired once

    sim.fail(429, path=r"/line_items/sync$", nth=2, retry_after=3)
    assert client.sync(contract["id"], items_of(1)).status_code == 200
    limited = client.sync(contract["id"], items_of(1))
    assert limited.status_code == 429 and limited.text == RATE_BODY
    assert limited.headers["Retry-After"] == "3"
    assert client.sync(contract["id"], items_of(1)).status_code == 200

    sim.fail(500, method="GET", path="/prime_contracts$", times=2)
    listed = [
        client.get("/rest/v1.0/prime_contracts", params={"project_id": PROJECT}) for _ in "abc"
    ]
    assert [a.status_code for a in listed] == [500, 500, 200]


def test_injected_delay_times_a_client_out(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    sim.delay(0.6, path="/line_items$")
    with pytest.raises(httpx.ReadTimeout):
        client.http.get(
            LINE_ITEMS.format(id=contract["id"]),
            params={"project_id": PROJECT},
            headers=client.headers(),
            timeout=0.2,
        )
    assert client.items(contract["id"]).status_code == 200


def test_token_expiry_now(sim, client):
    assert client.get("/rest/v1.0/companies").status_code == 200
    sim.expire_tokens()
    assert client.get("/rest/v1.0/companies").status_code == 401
    client.new_token()
    assert client.get("/rest/v1.0/companies").status_code == 200


def test_per_record_sync_error_for_an_origin_id(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    sim.sync_error("1:C1:2", "Cost code is locked", field="cost_code_id", times=1)
    answer = client.sync(contract["id"], items_of(3)).json()
    assert [e["origin_id"] for e in answer["entities"]] == ["1:C1:1", "1:C1:3"]
    assert answer["errors"] == [
        {**items_of(3)[1], "errors": {"cost_code_id": ["Cost code is locked"]}}
    ]
    assert client.sync(contract["id"], items_of(3)).json()["errors"] == []  # once only


def test_a_person_edits_a_line_item_between_two_calls(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    made = client.sync(contract["id"], items_of(2)).json()["entities"]
    read = client.items(contract["id"])  # call n
    sim.edit_line_item(made[0]["id"], after_call=sim.calls, amount="999.99")
    again = client.items(contract["id"])  # call n + 1: the edit is made before it is answered
    before, after = read.json()[0], again.json()[0]
    assert (before["amount"], after["amount"]) == ("100.1", "999.99")
    assert after["updated_at"] > before["updated_at"]
    assert again.json()[1] == read.json()[1]


def test_a_prime_contract_attached_to_a_second_project(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    client.sync(contract["id"], items_of(2))
    sim.attach_contract(contract["id"], SECOND_PROJECT)
    for project in (PROJECT, SECOND_PROJECT):
        listed = client.get("/rest/v1.0/prime_contracts", params={"project_id": project}).json()
        assert [c["id"] for c in listed] == [contract["id"]]
    assert len(client.items(contract["id"], project_id=SECOND_PROJECT).json()) == 2

    twin = sim.attach_contract(contract["id"], 103, duplicate=True)
    listed = client.get("/rest/v1.0/prime_contracts", params={"project_id": 103}).json()
    assert [(c["id"], c["origin_id"]) for c in listed] == [(twin.id, "1:C1")]
    assert twin.id != contract["id"]


def test_request_counter_per_endpoint(sim, client):
    contract = client.create_contract(origin_id="1:C1")
    client.sync(contract["id"], items_of(3))
    for page in (1, 2):
        client.items(contract["id"], per_page=2, page=page)
    counts = sim.request_counts()
    assert counts["POST /oauth/token"] == 1
    assert counts["POST /rest/v1.0/prime_contract"] == 1
    assert counts["PATCH /rest/v1.0/prime_contracts/{prime_contract_id}/line_items/sync"] == 1
    assert counts["GET /rest/v1.0/prime_contracts/{prime_contract_id}/line_items"] == 2
    assert sim.calls == 5


def test_the_control_api_over_http(sim, client):
    control = client.http
    contract = client.create_contract(origin_id="1:C1")
    made = client.sync(contract["id"], items_of(1)).json()["entities"][0]

    rule = control.post(
        "/_sim/faults", json={"kind": "status", "status": 503, "at_call": sim.calls + 1}
    )
    assert rule.status_code == 201
    assert client.get("/rest/v1.0/companies").status_code == 503
    assert control.post("/_sim/faults", json={"kind": "status", "status": 404}).status_code == 400

    control.post("/_sim/sync_errors", json={"origin_id": "1:C1:1", "message": "locked"})
    assert client.sync(contract["id"], items_of(1)).json()["errors"][0]["errors"] == {
        "base": ["locked"]
    }
    control.post(
        f"/_sim/line_items/{made['id']}/edit", json={"changes": {"description": "By a person"}}
    )
    assert client.items(contract["id"]).json()[0]["description"] == "By a person"
    control.post(
        f"/_sim/prime_contracts/{contract['id']}/attach", json={"project_id": SECOND_PROJECT}
    )
    assert client.get("/rest/v1.0/prime_contracts", params={"project_id": SECOND_PROJECT}).json()
    control.post(
        "/_sim/prime_change_orders", json={"contract_id": contract["id"], "status": "draft"}
    )
    assert (
        client.get(f"/rest/v1.0/projects/{PROJECT}/prime_change_orders").json()[0]["status"]
        == "draft"
    )
    control.post("/_sim/tokens/expire")
    assert client.get("/rest/v1.0/companies").status_code == 401

    counted = control.get("/_sim/requests").json()
    assert counted["calls"] == sim.calls and counted["counts"] == sim.request_counts()
    assert counted["by_status"]["GET /rest/v1.0/companies"] == {"503": 1, "401": 1}

    assert control.post("/_sim/reset").status_code == 200
    assert sim.calls == 0 and sim.state.store.contracts == {}


def test_the_simulator_stays_out_of_the_wheel():
    """Test equipment: no package of simulators/ is in the product's explicit package list,
    and nothing the product ships imports it."""
    import tomllib
    from pathlib import Path

    project = Path(__file__).resolve().parent.parent
    setuptools = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert not [p for p in setuptools["packages"] if p.split(".")[0] == "simulators"]
    shipped = ["contract_sync", *setuptools["package-dir"].values()]
    importers = [
        path
        for folder in shipped
        for path in (project / folder).rglob("*.py")
        if re.search(r"^\s*(from|import)\s+simulators\b", path.read_text(), re.M)
    ]
    assert importers == []
