"""The web pages end to end, in headless Chromium, beside a served Prefect (`make serve`):
two users with different rights, and a Re-Import and an Import clicked on the page that
land as the signed-in user, whatever the form is made to say."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.settings import PREFECT_API_URL

from contract_sync.demo.edit import edit_erp
from contract_sync.store import schema as s
from contract_sync.store.audit_log import runs
from contract_sync.vocabulary import OUTCOME_LABELS
from contract_sync_faces.web.auth import set_password
from tests.served import served_fixture, wait_for_run  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def served_settings() -> dict[str, str]:
    return {"CONTRACT_SYNC_SIGNED_MANUAL_RUNS": "true"}


PASSWORD = "correct horse battery staple"
RUN_SECONDS = 300


def _signed_in(browser, served, login: str):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(served.web_url + "/")
    expect(page).to_have_title("Sign in · contract-sync")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/companies/1/contracts$"))
    return page


def _button(page, contract: str):
    return page.locator(f'button[data-contract="{contract}"]')


def _run_lands(page, served, login: str, outcome: str) -> str:
    """The run page after a click: followed until the run ends; its flow-run id."""
    expect(page).to_have_url(re.compile(r"/companies/1/runs/[0-9a-f-]{36}$"))
    flow_run_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#status")).to_contain_text("completed", timeout=RUN_SECONDS * 1000)
    expect(page.locator("#state")).to_contain_text("Completed")
    assert page.get_by_role("link", name="the flow run").get_attribute("href") == (
        PREFECT_API_URL.value().removesuffix("/api") + f"/runs/flow-run/{flow_run_id}"
    )
    expect(page.locator("#outcome td.outcome").first).to_contain_text(OUTCOME_LABELS[outcome])
    expect(page.locator("td.actor").first).to_have_text(f"{login} (by hand)")
    kind = "Import" if outcome == "imported" else "Re-import"
    expect(page.locator("h1")).to_contain_text(re.compile(f"^{kind} of "))
    expect(page.locator("#now")).to_contain_text(f"was {OUTCOME_LABELS[outcome]}")
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run_id).parameters["requested_by"] == login
    with served.store.connect() as connection:
        run = connection.execute(runs().where(s.sync_runs.c.id == flow_run_id)).one()
        started = connection.execute(
            sa.select(s.web_events.c.login).where(
                s.web_events.c.event == "run_started",
                s.web_events.c.detail.contains(flow_run_id),
            )
        ).scalar_one()
    assert (run.actor, run.trigger, run.status, started) == (login, "manual", "completed", login)
    return flow_run_id


def _requests(served) -> int:
    """Run requests recorded by the pages' Confirm buttons."""
    with served.store.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(s.run_requests)
        ).scalar_one()


def _only_signed_requests_act(served, contract: str, web_run_id: str) -> None:
    """With CONTRACT_SYNC_SIGNED_MANUAL_RUNS on, a run typed in the Prefect UI (here: sent
    to its API as the form sends it) does not act, nor does a replay of the web run's
    request."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("reimport-main-contracts/reimport-contracts")
        request_id = client.read_flow_run(web_run_id).parameters["request_id"]
        typed = client.create_flow_run_from_deployment(
            deployment.id, parameters={"contracts": [contract], "requested_by": "admin"}
        )
        replayed = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={
                "contracts": [contract],
                "requested_by": "admin",
                "request_id": request_id,
            },
        )
        typed, replayed = (wait_for_run(client, run.id) for run in (typed, replayed))
    assert typed.state.is_failed() and "act only for a request signed in" in typed.state.message
    assert replayed.state.is_failed() and f"made for flow run {web_run_id}" in (
        replayed.state.message
    )
    with served.store.connect() as connection:
        started = connection.execute(
            sa.select(s.sync_runs.c.id).where(
                s.sync_runs.c.id.in_([str(typed.id), str(replayed.id)])
            )
        ).all()
        refusals = (
            connection.execute(
                sa.select(s.web_events.c.login).where(
                    s.web_events.c.event == "refused", s.web_events.c.client == "prefect"
                )
            )
            .scalars()
            .all()
        )
    assert started == [] and refusals == ["admin", "admin"]


def test_reimport_and_import_from_the_page_as_the_signed_in_user(served, browser):
    edit_erp(served.erp, 1, 0.5, seed=21)
    for login in ("admin", "viewer"):
        set_password(served.store, login, PASSWORD, by="test")

    admin = _signed_in(browser, served, "admin")
    viewer = _signed_in(browser, served, "viewer")
    enabled = admin.locator("button[data-contract]:not([disabled])")
    expect(enabled.first).to_be_visible()
    contracts = enabled.evaluate_all(
        "buttons => buttons.map(b => [b.dataset.contract, b.innerText])"
    )
    reimport = next(c for c, label in contracts if label == "Re-Import")
    first_import = next(c for c, label in contracts if label == "Import")

    # The viewer sees the same contracts, every button greyed, and why once, above them.
    expect(_button(viewer, reimport)).to_be_disabled()
    expect(viewer.locator("#rights")).to_contain_text("You have Read Only on ERP Integrations")

    # The admin opens the contract's preview and re-imports it from there; the form is
    # made to name the viewer as requested_by, and the run still acts as the admin.
    admin.get_by_role("link", name=reimport, exact=True).click()
    expect(admin.locator("h1")).to_contain_text(f"Contract {reimport}")
    expect(admin.get_by_text("What a re-import would do, line by line")).to_be_visible()
    _button(admin, reimport).evaluate(
        "button => button.form.insertAdjacentHTML("
        "'beforeend', '<input type=hidden name=requested_by value=viewer>')"
    )
    _button(admin, reimport).click()
    # The button asks first; Cancel starts nothing, Confirm starts exactly one run.
    expect(admin.locator("h1")).to_have_text(f"Re-import contract {reimport}?")
    expect(admin.locator("#effect")).to_contain_text("Items changed")
    admin.locator("#cancel").click()
    expect(admin.locator("h1")).to_contain_text(f"Contract {reimport}")
    assert _requests(served) == 0
    _button(admin, reimport).click()
    admin.locator("#confirm").click()
    reimported = _run_lands(admin, served, "admin", "reimported")
    assert _requests(served) == 1
    with get_client(sync_client=True) as client:
        runs_of = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["contract-sync-web"]))
        )
    assert [str(r.id) for r in runs_of] == [reimported]

    # The contract's history shows the re-import, by the admin.
    admin.locator("#outcome").get_by_role("link", name=reimport).click()
    expect(admin.locator("h1")).to_have_text(f"Audit history of contract {reimport}")
    expect(admin.locator("td.actor").last).to_have_text("admin (by hand)")

    # An Import from the list lands too, once confirmed.
    admin.goto(served.web_url + "/companies/1/contracts")
    _button(admin, first_import).click()
    expect(admin.locator("h1")).to_have_text(f"Import contract {first_import}?")
    admin.locator("#confirm").click()
    _run_lands(admin, served, "admin", "imported")
    assert _requests(served) == 2

    _only_signed_requests_act(served, reimport, reimported)

    admin.goto(served.web_url + "/companies/1/audit")
    expect(admin.locator("h1")).to_have_text(re.compile("^Audit of "))
    admin.close()
    viewer.close()
