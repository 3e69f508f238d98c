"""The web pages over real http (`contract-sync web` in its own process) on a seeded store:
sign-in, sessions, CSRF, throttling, rights per company, the buttons per user, and the
audit of every sign-in and refusal. Runs are started and followed in tests/test_web_served.py,
on a real Prefect server; here the pages' Prefect server does not answer."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import yaml

from contract_sync.columns import display
from contract_sync.demo.edit import edit_erp
from contract_sync.directory import apply_file, export_text
from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync_faces.web.auth import set_password
from tests.conftest import Sides, free_port, seeded_sides, settings_for

PASSWORD = "correct horse battery staple"
USERS = ["admin", "viewer", "estimator", "outsider", "throttled", "demoted"]


@contextmanager
def web_server(**settings: str) -> Iterator[str]:
    """`contract-sync web` on a free loopback port, with these extra settings; its URL."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",  # nobody answers there
        **{f"CONTRACT_SYNC_{k.upper()}": v for k, v in settings.items()},
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "contract_sync_faces.cli", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                httpx.get(f"{url}/sign-in", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class Site:
    sides: Sides
    url: str
    folder: Path


def _with_users(store: sa.Engine, folder: Path) -> None:
    """More users with every right: "outsider" in company 2 only, "throttled" and
    "demoted" in 1."""
    document = yaml.safe_load(export_text(store))
    logins = {1: ["throttled", "demoted"], 2: ["outsider"]}
    for company in document["companies"]:
        for login in logins[company["erp_company"]]:
            company["users"].append(
                {
                    "login": login,
                    "name": login.title(),
                    "erp_integrations": "admin",
                    "main_contracts": {"*": "admin"},
                }
            )
    _apply(store, folder, document)


def _apply(store: sa.Engine, folder: Path, document: dict) -> None:
    path = folder / "directory.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    apply_file(store, path, "test")


@pytest.fixture(scope="module")
def site(backend, tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    with seeded_sides(backend, folder) as sides, settings_for(sides, folder / "reports"):
        edit_erp(sides.erp, 1, 0.5, seed=5)
        _with_users(sides.store, folder)
        for login in USERS:
            set_password(sides.store, login, PASSWORD, by="test")
        with web_server() as url:
            yield Site(sides, url, folder)


class Visitor:
    """One browser's worth of state: its cookies, sent as a browser sends them."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=120)
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def request(self, method: str, path: str, **arguments) -> httpx.Response:
        headers = arguments.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers=headers, **arguments)
        for header in response.headers.get_list("set-cookie"):
            self.set_cookie_headers.append(header)
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str, **arguments) -> httpx.Response:
        return self.request("GET", path, **arguments)

    def post(self, path: str, data: dict, **arguments) -> httpx.Response:
        return self.request("POST", path, data=data, **arguments)

    def sign_in(self, login: str, password: str = PASSWORD) -> httpx.Response:
        form = self.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        return self.post(
            "/sign-in", {"login": login, "password": password, "csrf_token": token, "next": "/"}
        )

    def csrf(self, page: httpx.Response) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _buttons(page: str) -> dict[str, bool]:
    """Contract -> whether its Re-Import / Import button is enabled."""
    return {
        html.unescape(number): "disabled" not in rest
        for number, rest in re.findall(
            r'<button type="submit" data-contract="([^"]+)"([^>]*)>', page
        )
    }


def _text(page: str) -> str:
    """A page's text as a person reads it: inline tags out, the others a space apart."""
    inline = re.sub(r"</?(?:span|a|strong)\b[^>]*>", "", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", inline))


def _confirm_form(page: httpx.Response) -> dict[str, str]:
    """The fields of a confirmation page's Confirm form."""
    form = re.search(
        r'<form method="post" action="/companies/\d+/\w+" class="actions">(.*?)</form>',
        page.text,
        re.S,
    ).group(1)
    return {k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', form)}


def _requests(site: Site) -> int:
    with site.sides.store.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(s.run_requests)
        ).scalar_one()


def _events(site: Site, login: str) -> list[tuple[str, str]]:
    e = s.web_events.c
    with site.sides.store.connect() as connection:
        return [
            (row.event, row.detail)
            for row in connection.execute(
                sa.select(e.event, e.detail).where(e.login == login).order_by(e.id)
            )
        ]


def test_signing_in_and_out_and_a_replayed_session(site):
    visitor = Visitor(site.url)
    first = visitor.get("/companies/1/contracts?project=x")
    assert first.status_code == 303
    assert first.headers["location"] == "/sign-in?next=%2Fcompanies%2F1%2Fcontracts%3Fproject%3Dx"
    signed_in = visitor.sign_in("admin")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    cookie = next(h for h in visitor.set_cookie_headers if h.startswith("contract_sync_session="))
    assert {"HttpOnly", "Secure", "SameSite=strict"} <= {p.strip() for p in cookie.split(";")}
    home = visitor.get("/")
    assert home.headers["location"] == "/companies/1/contracts"
    page = visitor.get("/companies/1/contracts")
    assert page.status_code == 200 and "Signed in as Admin (admin)" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    stolen = dict(visitor.cookies)
    csrf = visitor.csrf(page)

    out = visitor.post("/sign-out", {"csrf_token": csrf})
    assert out.status_code == 303 and "contract_sync_session" not in visitor.cookies

    replay = Visitor(site.url)
    replay.cookies = stolen
    assert replay.get("/companies/1/contracts").status_code == 303  # to the sign-in page
    number = next(iter(_buttons(page.text)))
    refused = replay.post("/companies/1/reimport", {"no": number, "csrf_token": csrf})
    assert refused.status_code == 401 and "not signed in" in refused.text
    assert [e for e, _ in _events(site, "admin")][-2:] == ["signed_in", "signed_out"]


def test_the_buttons_follow_the_gates_for_each_user(site):
    admin, viewer = Visitor(site.url), Visitor(site.url)
    admin.sign_in("admin")
    viewer.sign_in("viewer")
    for_admin = admin.get("/companies/1/contracts").text
    for_viewer = viewer.get("/companies/1/contracts").text
    enabled = {n for n, on in _buttons(for_admin).items() if on}
    assert enabled, "the admin may re-import the edited contracts"
    assert _buttons(for_viewer).keys() == _buttons(for_admin).keys()
    assert not any(_buttons(for_viewer).values())
    # The viewer lacks the rights of every button: said once, above the list, from their
    # own levels; no row repeats it, and each button keeps its reason codes for programs.
    said = _text(for_viewer)
    assert said.count("You have Read Only on ERP Integrations") == 1
    assert re.search(
        r'<p class="message note" id="rights" role="note">You have Read Only on '
        r"ERP Integrations and Read Only on the Main Contracts of these projects, "
        r"so you cannot import or re-import any of these contracts: a re-import "
        r"needs Admin on ERP Integrations and Admin on the project&#39;s Main "
        r"Contracts; an import needs Standard or Admin on ERP Integrations and "
        r"Admin on the project&#39;s Main Contracts\. To be able to, ask a company "
        r"admin for these rights\.</p>",
        for_viewer,
    )
    reasons = re.findall(r'data-reasons="([^"]*)"', for_viewer)
    assert len(reasons) == len(_buttons(for_viewer))
    assert all("permission_denied" in r.split() for r in reasons)
    assert "acting user" not in said and "directory file" not in said
    number = _first(for_admin, "reimport")
    preview = admin.get("/companies/1/contract", params={"no": number})
    assert preview.status_code == 200 and "What a re-import would do, line by line" in preview.text
    assert _buttons(preview.text) == {number: True}
    project = re.search(r"<th>Project</th><td>([^<,]+)</td>", preview.text).group(1)
    filtered = admin.get("/companies/1/contracts", params={"project": project}).text
    assert number in _buttons(filtered) and len(_buttons(filtered)) < len(_buttons(for_admin))
    for path in ("/companies/1/audit", f"/companies/1/history?no={number}"):
        assert admin.get(path).status_code == 200, path


def test_a_forged_requested_by_is_ignored(site):
    """The run acts as the signed-in user: the viewer naming the admin is still refused."""
    admin = Visitor(site.url)
    admin.sign_in("admin")
    number = _first(admin.get("/companies/1/contracts").text, "reimport")
    viewer = Visitor(site.url)
    viewer.sign_in("viewer")
    csrf = viewer.csrf(viewer.get("/companies/1/contracts"))
    forged = viewer.post(
        "/companies/1/reimport", {"no": number, "csrf_token": csrf, "requested_by": "admin"}
    )
    assert forged.status_code == 409
    assert f"You cannot re-import {number}. You have Read Only on ERP Integrations" in (
        html.unescape(forged.text)
    )
    refused = [d for e, d in _events(site, "viewer") if e == "refused"]
    assert refused and refused[-1].endswith(f"reimport of {number} refused: permission_denied")
    assert not any(e == "run_started" for e, _ in _events(site, "viewer"))


def test_a_click_while_prefect_does_not_answer_is_refused_in_one_line(site):
    """A Re-Import and an Import click build their runs (the flows and Prefect's client
    imported then, not when the pages start) and say in one line that Prefect does not
    answer; no run is started."""
    admin = Visitor(site.url)
    admin.sign_in("admin")
    page = admin.get("/companies/1/contracts")
    forms = re.findall(
        r'action="/companies/1/(\w+)">.*?data-contract="([^"]+)"([^>]*)>', page.text, re.S
    )
    enabled = {kind: html.unescape(no) for kind, no, rest in forms if "disabled" not in rest}
    assert enabled.keys() == {"reimport", "import"}
    for kind, number in enabled.items():
        confirm = admin.get(f"/companies/1/{kind}", params={"no": number})
        assert confirm.status_code == 200 and 'id="confirm"' in confirm.text, kind
        refused = admin.post(f"/companies/1/{kind}", _confirm_form(confirm))
        assert refused.status_code == 503, kind
        said = re.search(r"the Prefect server at (\S+) does not answer \([^<\n]+\)", refused.text)
        assert said and said.group(1).startswith("http://127.0.0.1:")
    assert not any(e == "run_started" for e, _ in _events(site, "admin"))


def test_forms_need_their_csrf_token_and_own_origin(site):
    admin = Visitor(site.url)
    admin.sign_in("admin")
    page = admin.get("/companies/1/contracts")
    number = next(n for n, on in _buttons(page.text).items() if on)
    before = len(_events(site, "admin"))
    for form in ({"no": number}, {"no": number, "csrf_token": "not-the-token"}):
        refused = admin.post("/companies/1/reimport", form)
        assert refused.status_code == 403 and "security token" in refused.text
    assert admin.get("/companies/1/runs/not-a-run-id").status_code == 422
    unknown = admin.get("/companies/1/runs/6f1c2b52-93a4-4c57-9d0e-2a3f4b5c6d7e")
    assert unknown.status_code == 404 and "no run 6f1c2b52" in unknown.text
    elsewhere = admin.post(
        "/companies/1/reimport",
        {"no": number, "csrf_token": admin.csrf(page)},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403 and "evil.example" in elsewhere.text
    events = _events(site, "admin")[before:]
    assert [e for e, _ in events] == ["refused"] * 4
    # The sign-in form too: without its cookie's token, no password is even checked.
    stranger = Visitor(site.url)
    refused = stranger.post(
        "/sign-in", {"login": "admin", "password": PASSWORD, "csrf_token": "made-up"}
    )
    assert refused.status_code == 403 and "contract_sync_session" not in stranger.cookies


def test_a_user_of_another_company_is_refused(site):
    outsider = Visitor(site.url)
    outsider.sign_in("outsider")
    assert outsider.get("/").headers["location"] == "/companies/2/contracts"
    own = outsider.get("/companies/2/contracts")
    assert own.status_code == 200
    other = outsider.get("/companies/1/contracts")
    assert other.status_code == 403 and "no rights in company 1" in other.text
    refused = outsider.post(
        "/companies/1/reimport", {"no": "24001-", "csrf_token": outsider.csrf(own)}
    )
    assert refused.status_code == 403
    assert [e for e, _ in _events(site, "outsider")][-2:] == ["refused", "refused"]


def test_wrong_passwords_read_alike_and_are_throttled(site):
    stranger = Visitor(site.url)
    unknown = stranger.sign_in("nobody-at-all", "whatever it is")
    wrong = stranger.sign_in("throttled", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong login or password." in unknown.text and "Wrong login or password." in wrong.text
    assert _events(site, "nobody-at-all") == [("sign_in_failed", "no such user")]
    for _ in range(4):
        assert stranger.sign_in("throttled", "still not it").status_code == 401
    for _ in range(2):  # the right password, too late; recorded once per window
        throttled = stranger.sign_in("throttled")
        assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text
    assert "contract_sync_session" not in stranger.cookies
    assert [e for e, _ in _events(site, "throttled")] == ["password_set"] + [
        "sign_in_failed"
    ] * 5 + ["sign_in_throttled"]


def test_parallel_guesses_are_throttled_too(site):
    """Counting, checking and recording are one step: a burst gets no more guesses."""
    from concurrent.futures import ThreadPoolExecutor

    visitors = [Visitor(site.url) for _ in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda v: v.sign_in("outsider", "a guess").status_code, visitors))
    assert answers.count(401) == 5 and answers.count(429) == 7
    visitor = Visitor(site.url)
    assert visitor.sign_in("outsider").status_code == 429


def test_a_new_password_ends_the_open_sessions(site):
    estimator = Visitor(site.url)
    estimator.sign_in("estimator")
    assert estimator.get("/companies/1/contracts").status_code == 200
    set_password(site.sides.store, "estimator", PASSWORD + "!", by="test")
    assert estimator.get("/companies/1/contracts").status_code == 303


def test_web_events_are_chained_and_append_only(site):
    visitor = Visitor(site.url)
    visitor.sign_in("admin")
    with site.sides.store.connect() as connection:
        assert chain.verify(connection).problem is None
        chained = connection.execute(
            sa.select(sa.func.count()).where(s.audit_chain.c.record_table == "web_events")
        ).scalar_one()
        assert (
            chained
            == connection.execute(sa.select(sa.func.count()).select_from(s.web_events)).scalar_one()
        )
    with (
        pytest.raises(sa.exc.DBAPIError, match="append-only"),
        site.sides.store.begin() as connection,
    ):
        connection.execute(s.web_events.update().values(login="someone-else"))


@pytest.mark.parametrize("trusted", [True, False])
def test_a_trusted_proxy_names_the_user(site, trusted):
    proxies = "127.0.0.1" if trusted else "10.9.8.7"
    with web_server(web_user_header="X-Remote-User", web_trusted_proxies=proxies) as url:
        visitor = Visitor(url)
        first = visitor.get("/", headers={"X-Remote-User": "estimator"})
        if not trusted:  # a header from anyone else is ignored: sign in
            assert first.headers["location"].startswith("/sign-in")
            return
        assert first.status_code == 303 and "contract_sync_session" in visitor.cookies
        page = visitor.get("/companies/1/contracts", headers={"X-Remote-User": "estimator"})
        assert "Signed in as Estimator (estimator)" in page.text
        form = visitor.get("/companies/1/contracts", headers={"X-Remote-User": "estimator"})
        swapped = visitor.post(  # the session's form, the proxy naming someone else
            "/companies/1/reimport",
            {"no": "24001-", "csrf_token": visitor.csrf(form)},
            headers={"X-Remote-User": "admin"},
        )
        assert swapped.status_code == 403 and "another user" in swapped.text
        other = visitor.get("/companies/1/contracts", headers={"X-Remote-User": "nobody-known"})
        assert other.status_code == 403 and "not a user of the project store" in other.text
    assert ("signed_in", "reverse proxy header") in _events(site, "estimator")


def test_the_sign_in_log_is_shown_to_integration_admins_only(site):
    admin, viewer = Visitor(site.url), Visitor(site.url)
    admin.sign_in("admin")
    viewer.sign_in("viewer")
    for_admin = admin.get("/companies/1/audit").text
    assert 'id="web-events"' in for_admin
    assert '<td data-label="Event">signed_in</td><td data-label="Login">viewer</td>' in for_admin
    assert 'id="web-events"' not in viewer.get("/companies/1/audit").text


def test_a_downgrade_below_the_web_tables_keeps_their_audit_records(site):
    from alembic import command

    from contract_sync.store.db import _alembic_config

    with (
        pytest.raises(RuntimeError, match="web_events holds .* audit records"),
        site.sides.store.begin() as connection,
    ):
        command.downgrade(_alembic_config(connection), "0005")


def _first(page: str, kind: str, enabled: bool = True) -> str:
    """The first contract whose button is of this kind (reimport or import)."""
    forms = re.findall(
        r'action="/companies/1/(\w+)">.*?data-contract="([^"]+)"([^>]*)>', page, re.S
    )
    return next(
        html.unescape(no)
        for k, no, rest in forms
        if k == kind and ("disabled" not in rest) == enabled
    )


def _ready(site: Site, login: str, number: str) -> dict:
    """The contract's row of the ready list as the core computes it for this login."""
    from contract_sync.resolve import resolve
    from contract_sync.run import ready_with_evaluation
    from contract_sync.settings import get_settings

    asked = resolve(get_settings(), company=1, actor=login, contracts=[number])
    return ready_with_evaluation(get_settings(), asked)[0].iloc[0].to_dict()


def test_a_re_import_is_confirmed_on_a_page_that_shows_its_effect(site):
    """The button opens a confirmation page: items added, changed and removed, the amount
    before and after, the store edits overwritten; Cancel and looking start nothing, and a
    Confirm whose effect changed since it was shown is shown again, not started."""
    admin = Visitor(site.url)
    admin.sign_in("admin")
    number = _first(admin.get("/companies/1/contracts").text, "reimport")
    before = (_requests(site), len(_events(site, "admin")))
    confirm = admin.get("/companies/1/reimport", params={"no": number})
    assert confirm.status_code == 200
    row = _ready(site, "admin", number)
    said = " ".join(_text(confirm.text).split())
    amounts = (
        f"{display(row['amount_before'], 'amount')} → {display(row['amount_after'], 'amount')}"
    )
    for words in (
        f"Re-import contract {number}?",
        f"Items added {row['items_added']}",
        f"Items changed {row['items_changed']}",
        f"Items removed {row['items_removed']}",
        f"Contract amount {amounts}",
        "Store edits it overwrites",
    ):
        assert words in said, words
    form = _confirm_form(confirm)
    assert form.keys() == {"csrf_token", "no", "seen"} and form["no"] == number
    cancel = re.search(
        r'<a class="button plain" id="cancel" href="([^"]+)">Cancel</a>', confirm.text
    )
    assert html.unescape(cancel.group(1)) == f"/companies/1/contract?no={number}"
    assert admin.get(html.unescape(cancel.group(1))).status_code == 200
    stale = admin.post("/companies/1/reimport", {**form, "seen": "not-what-was-shown"})
    assert (
        stale.status_code == 409 and 'id="changed"' in stale.text and 'id="confirm"' in stale.text
    )
    # A click that saw no confirmation (a form from before it, or made by hand) is shown it.
    unseen = admin.post("/companies/1/reimport", {k: v for k, v in form.items() if k != "seen"})
    assert unseen.status_code == 200 and 'id="confirm"' in unseen.text
    assert 'id="changed"' not in unseen.text
    assert (_requests(site), len(_events(site, "admin"))) == before


def test_an_import_is_confirmed_too(site):
    admin = Visitor(site.url)
    admin.sign_in("admin")
    number = _first(admin.get("/companies/1/contracts").text, "import")
    confirm = admin.get("/companies/1/import", params={"no": number})
    said = " ".join(_text(confirm.text).split())
    row = _ready(site, "admin", number)
    assert f"Import contract {number}?" in said
    assert f"Contract amount {display(row['amount_after'], 'amount')}" in said
    assert re.search(r"Items \d+", said) and _confirm_form(confirm)["no"] == number


def test_a_right_lost_before_confirming_is_refused_at_confirm(site):
    """Confirming checks the gates again: rights lowered after the page was shown refuse
    the click, saying which right is missing, and no run is asked for."""
    demoted = Visitor(site.url)
    demoted.sign_in("demoted")
    number = _first(demoted.get("/companies/1/contracts").text, "reimport")
    confirm = demoted.get("/companies/1/reimport", params={"no": number})
    assert confirm.status_code == 200
    lowered = {
        "companies": [
            {"erp_company": 1, "users": [{"login": "demoted", "erp_integrations": "standard"}]}
        ]
    }
    _apply(site.sides.store, site.folder, lowered)
    before = _requests(site)
    refused = demoted.post("/companies/1/reimport", _confirm_form(confirm))
    assert refused.status_code == 409
    assert (
        f"You cannot re-import {number}. You have Standard on ERP Integrations and Admin on "
        "this project's Main Contracts; a re-import needs Admin on ERP Integrations and Admin "
        "on the project's Main Contracts; ask a company admin for Admin on ERP Integrations."
    ) in " ".join(_text(refused.text).split())
    assert _requests(site) == before
    assert [e for e, _ in _events(site, "demoted")][-1] == "refused"
    assert demoted.get("/companies/1/reimport", params={"no": number}).status_code == 409


def test_each_row_says_which_right_is_missing_when_not_every_row_lacks_it(site):
    """The estimator (Standard on ERP Integrations, Admin on Main Contracts) may import but
    not re-import: each re-import row says so, in the second person, and nothing above."""
    set_password(site.sides.store, "estimator", PASSWORD, by="test")  # whatever came before
    estimator = Visitor(site.url)
    estimator.sign_in("estimator")
    page = estimator.get("/companies/1/contracts").text
    assert 'id="rights"' not in page
    number = _first(page, "reimport", enabled=False)
    row = re.search(
        rf'data-contract="{re.escape(number)}".*?<p class="rights">([^<]+)</p>', page, re.S
    )
    assert html.unescape(row.group(1)) == (
        "You have Standard on ERP Integrations and Admin on this project's Main Contracts; "
        "a re-import needs Admin on ERP Integrations and Admin on the project's Main "
        "Contracts; ask a company admin for Admin on ERP Integrations."
    )
    assert _first(page, "import")  # an import needs no more than Standard


@pytest.mark.parametrize(
    ("kind", "integrations", "projects", "said"),
    [
        (
            "import",
            "read_only",
            {"24007-001": "admin"},
            "You have Read Only on ERP Integrations and Admin on this project's Main "
            "Contracts; an import needs Standard or Admin on ERP Integrations and Admin on "
            "the project's Main Contracts; ask a company admin for Standard on ERP "
            "Integrations.",
        ),
        (
            "reimport",
            "admin",
            {"24003-001": "admin", "24003-001-B": "standard"},
            "You have Admin on ERP Integrations, Admin on the Main Contracts of project "
            "24003-001 and Standard on the Main Contracts of project 24003-001-B; a re-import "
            "needs Admin on ERP Integrations and Admin on the project's Main Contracts; ask a "
            "company admin for Admin on the Main Contracts of project 24003-001-B.",
        ),
        (
            "reimport",
            "none",
            {"24001-001": "none"},
            "You have None on ERP Integrations and None on this project's Main Contracts; a "
            "re-import needs Admin on ERP Integrations and Admin on the project's Main "
            "Contracts; ask a company admin for Admin on ERP Integrations and Admin on this "
            "project's Main Contracts.",
        ),
        (
            "import",
            "read_only",
            {},
            "You have Read Only on ERP Integrations; an import needs Standard or Admin on ERP "
            "Integrations and Admin on the project's Main Contracts; ask a company admin for "
            "Standard on ERP Integrations.",
        ),
    ],
)
def test_the_missing_right_is_named_from_the_persons_levels(kind, integrations, projects, said):
    from contract_sync_faces.web.words import rights_refusal

    assert rights_refusal(kind, integrations, projects) == said


def test_a_contract_in_several_projects_names_them_and_is_in_each_ones_filter(site):
    admin = Visitor(site.url)
    admin.sign_in("admin")
    page = admin.get("/companies/1/contracts").text
    options = re.findall(r'<option value="([^"]+)"', page)
    assert "(several)" not in page and options == sorted(options)
    twice = re.search(
        r'data-label="Project"><span class="code">([^<]+)</span>, '
        r'<span class="code">([^<]+)</span>',
        page,
    )
    assert twice and {twice.group(1), twice.group(2)} <= set(options)
    for project in twice.groups():
        filtered = admin.get("/companies/1/contracts", params={"project": project}).text
        assert f"It is attached to projects {twice.group(1)} and {twice.group(2)}." in _text(
            filtered
        )


def test_the_audit_rows_of_several_companies_name_the_company():
    import pandas as pd

    from contract_sync_faces.web import views
    from contract_sync_faces.web.site import _templates

    records = pd.DataFrame(
        {
            "audit_id": [1, 2],
            "recorded_at": pd.to_datetime(["2026-01-05 10:00", "2026-01-05 10:01"], utc=True),
            "run_id": [
                "6f1c2b52-93a4-4c57-9d0e-2a3f4b5c6d7e",
                "7f1c2b52-93a4-4c57-9d0e-2a3f4b5c6d7e",
            ],
            "trigger": ["cli", "cli"],
            "actor": ["admin", "admin"],
            "dry_run": [False, False],
            "erp_company": [1, 2],
            "contract_no": ["24001-", "24001-"],
            "project": ["24001-001", "24001-001"],
            "outcome": ["reimported", "blocked"],
            "reasons": ["", "contract_unapproved"],
            "error": [None, None],
            "items_added": [1, 0],
            "items_changed": [0, 0],
            "items_removed": [0, 0],
            "header_changes": [0, 0],
            "amount_before": [8304108, 910040],
            "amount_after": [9304108, 910040],
        }
    )
    rows = views.audit_rows(records, {1: "Granite Peak Builders", 2: "Bayside Constructors"})
    table = _templates().get_template("_audit_rows.html.j2").module.audit_table(rows, {}, 1)
    assert re.findall(r'<td data-label="Company" class="company">([^<]+)</td>', str(table)) == [
        "Granite Peak Builders",
        "Bayside Constructors",
    ]
    assert "83,041.08" in str(table) and "re-imported (1 added)" in str(table)
    one = views.audit_rows(records.iloc[:1], {1: "Granite Peak Builders"})
    assert "Company" not in str(
        _templates().get_template("_audit_rows.html.j2").module.audit_table(one, {}, 1)
    )


def test_added_and_removed_items_read_as_labelled_values():
    from contract_sync_faces.web.views import change_row

    added = change_row(
        {
            "item_no": "00115",
            "change": "added",
            "field": None,
            "before": None,
            "after": '{"position": "12", "description": "Walls", "uom": "LS", "unit_cost": '
            '"0.00000", "amount": "83041.08"}',
            "overwritten": False,
        }
    )
    assert added["after"] == [
        ("position", "12"),
        ("description", "Walls"),
        ("unit", "LS"),
        ("unit cost", "0.00"),
        ("amount", "83,041.08"),
    ]
    changed = change_row(
        {
            "item_no": None,
            "change": "changed",
            "field": "original_amount",
            "before": "9100.40",
            "after": "83041.08",
            "overwritten": True,
        }
    )
    assert (changed["field"], changed["before"], changed["after"]) == (
        "contract amount",
        "9,100.40",
        "83,041.08",
    )


def test_a_kept_store_edit_reads_the_same_after_the_re_import():
    """A field only the store changed stays as the store has it: 'after' is that value,
    not the ERP's (blank here); money and labels as a person reads them."""
    import pandas as pd

    from contract_sync_faces.web.views import preview_rows

    lines = pd.DataFrame(
        {
            "item_no": ["", "00030"],
            "change": ["changed", "kept"],
            "field": ["original_amount", "cost_code"],
            "before": ["1382755.16", "01-0000"],
            "after": ["1389642.50", ""],
            "note": ["", "store edit kept"],
        }
    )
    rows = preview_rows(lines)
    assert [(r["field"], r["before"], r["after"]) for r in rows] == [
        ("contract amount", "1,382,755.16", "1,389,642.50"),
        ("cost code", "01-0000", "01-0000"),
    ]
