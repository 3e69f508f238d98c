"""The web pages in a real browser (headless Chromium) at a phone's width and a desktop's:
no page scrolls sideways, every button lies within the screen, and every amount and
contract number shows whole, on one line; the ready list shows the core's amounts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from contract_sync.columns import display
from contract_sync.demo.edit import edit_erp
from contract_sync.resolve import resolve
from contract_sync.run import ready_with_evaluation, reimport
from contract_sync.settings import get_settings
from contract_sync_faces.web.auth import set_password
from tests.conftest import seeded_sides, settings_for
from tests.test_web import PASSWORD, web_server

WIDTHS = [400, 1400]

# What a page breaks on a narrow screen: its width, buttons beyond the edge, and amounts or
# contract numbers cut or wrapped (a Range over an element's text has one line box per line).
LAYOUT = """() => {
  const width = window.innerWidth;
  const lines = el => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const boxes = [...range.getClientRects()].filter(r => r.width > 0);
    return new Set(boxes.map(r => Math.round(r.top))).size;
  };
  const outside = el => {
    const r = el.getBoundingClientRect();
    return r.left < 0 || r.right > width + 0.5;
  };
  const shown = el => el.getClientRects().length > 0;
  const buttons = [...document.querySelectorAll('button, a.button')].filter(shown);
  const values = [...document.querySelectorAll('.amount, .code')].filter(e => e.innerText.trim());
  return {
    width,
    scrollWidth: document.documentElement.scrollWidth,
    buttons: buttons.length,
    buttonsOutside: buttons.filter(outside).map(b => b.innerText),
    whole: values.map(e => e.innerText.trim()),
    broken: values.filter(e => outside(e) || lines(e) > 1).map(e => e.innerText),
  };
}"""


@dataclass
class Pages:
    url: str
    run_id: str
    reimported: str  # the contract the run re-imported
    reimport: str  # a contract the admin may re-import
    first_import: str  # one the admin may import
    amounts: set[str]  # the ready list's ERP amounts, as display() writes them


@pytest.fixture(scope="module")
def pages(backend, tmp_path_factory) -> Iterator[Pages]:
    folder = tmp_path_factory.mktemp("web-browser")
    with seeded_sides(backend, folder) as sides, settings_for(sides, folder / "reports"):
        edit_erp(sides.erp, 1, 0.5, seed=5)
        for login in ("admin", "viewer"):
            set_password(sides.store, login, PASSWORD, by="test")
        settings = get_settings()
        table, _ = ready_with_evaluation(settings, resolve(settings, company=1, actor="admin"))
        ready = table[table["reimport_available"]]["contract_no"].tolist()
        first_import = table[table["import_available"]]["contract_no"].iloc[0]
        done = reimport(settings, resolve(settings, company=1, actor="admin", contracts=ready[:1]))
        with web_server() as url:
            yield Pages(
                url,
                done.run_id,
                ready[0],
                ready[1],
                first_import,
                {display(v, "amount") for v in table["amount_after"]},
            )


def _signed_in(browser, pages: Pages, login: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(pages.url + "/sign-in")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/companies/1/contracts")
    return page


def _fits(page, path: str, width: int) -> dict:
    page.goto(page.url.split("/companies")[0] + path)
    found = page.evaluate(LAYOUT)
    page.screenshot(
        path=f"/tmp/web-in-browser-{width}-{path.strip('/').replace('/', '_')[:60]}.png"
    )
    assert found["scrollWidth"] <= found["width"], (path, found["scrollWidth"])
    assert found["buttons"] and found["buttonsOutside"] == [], (path, found["buttonsOutside"])
    assert found["whole"] and found["broken"] == [], (path, found["broken"])
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_screen(browser, pages, width):
    admin = _signed_in(browser, pages, "admin", width)
    listed = _fits(admin, "/companies/1/contracts", width)
    assert pages.amounts <= set(listed["whole"])  # each ERP amount, whole
    assert {pages.reimport, pages.first_import} <= set(listed["whole"])
    for path in (
        f"/companies/1/contract?no={pages.reimport}",
        f"/companies/1/reimport?no={pages.reimport}",
        f"/companies/1/import?no={pages.first_import}",
        f"/companies/1/runs/{pages.run_id}",
        f"/companies/1/runs/{pages.run_id}/undo",
        f"/companies/1/history?no={pages.reimported}",
        "/companies/1/audit",
    ):
        found = _fits(admin, path, width)
        assert (
            pages.reimport in found["whole"]
            or pages.first_import in found["whole"]
            or (pages.reimported in found["whole"])
        ), path
    admin.close()
    viewer = _signed_in(browser, pages, "viewer", width)
    _fits(viewer, "/companies/1/contracts", width)
    viewer.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_narrow_screen_reads_each_row_as_a_card(browser, pages, width):
    """Under 700 px each cell shows its column's label beside its value; wider, a table."""
    admin = _signed_in(browser, pages, "admin", width)
    cell = admin.locator("#contracts td[data-label='ERP amount']").first
    label = cell.evaluate("td => getComputedStyle(td, '::before').content")
    header = admin.locator("#contracts thead").is_visible()
    assert (label, header) == (('"ERP amount"', False) if width < 700 else ("none", True))
    admin.close()


def test_the_run_page_is_titled_by_what_it_is(browser, pages):
    admin = _signed_in(browser, pages, "admin", 400)
    admin.goto(f"{pages.url}/companies/1/runs/{pages.run_id}")
    title = admin.locator("h1").inner_text()
    assert title.startswith(f"Re-import of {pages.reimported} (") and pages.run_id not in title
    assert admin.locator("#run-id").inner_text() == pages.run_id
    now = admin.locator("#now").inner_text()
    assert now.startswith(f"Contract {pages.reimported} was re-imported") and now.count(".") >= 1
    assert "{" not in admin.locator("#outcome").inner_text()  # no raw JSON of an item
    admin.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_undo_is_clicked_confirmed_and_followed_to_its_run_page(browser, pages, width):
    """Last in this module: it undoes the fixture's run (at the narrow width; the wide one
    then finds it undone already, nothing left to confirm)."""
    admin = _signed_in(browser, pages, "admin", width)
    admin.goto(f"{pages.url}/companies/1/runs/{pages.run_id}")
    admin.get_by_role("link", name="Undo this re-import").click()
    admin.wait_for_url(f"**/runs/{pages.run_id}/undo")
    assert admin.locator("h1").inner_text() == "Undo this re-import?"
    row = admin.locator("#undo-effect tbody tr").first.inner_text()
    confirm = admin.locator("#confirm")
    if width < 700:
        assert pages.reimported in row and "put back" in row
        assert confirm.inner_text() == "Confirm: undo 1 contract"
        confirm.click()
        admin.wait_for_url("**/companies/1/runs/*")
        assert admin.locator("h1").inner_text().startswith(f"Undo of {pages.reimported} (")
        now = admin.locator("#now").inner_text()
        assert now.startswith(f"Contract {pages.reimported} was undone"), now
        _fits(admin, admin.url.split(pages.url)[1], width)
    else:
        assert "nothing to undo" in row and confirm.is_disabled()
    admin.close()
