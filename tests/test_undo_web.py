"""The Undo of a run's web page over real http: a confirmation that shows the effect as the
signed-in person, a Confirm that runs the undo as them and goes to its run page, refusals
in words, and nothing written by looking, cancelling or a stale Confirm."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from contract_sync.demo.edit import edit_erp
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import get_settings
from contract_sync_faces.web.auth import set_password
from tests.conftest import seeded_sides, settings_for
from tests.test_undo import contents
from tests.test_web import PASSWORD, Visitor, _text, web_server


@dataclass
class Undoable:
    url: str
    sides: object
    run_id: str
    written: list[str]
    before: dict  # the store before the run


@pytest.fixture(scope="module")
def undoable(backend, tmp_path_factory) -> Iterator[Undoable]:
    folder = tmp_path_factory.mktemp("undo-web")
    with seeded_sides(backend, folder) as sides, settings_for(sides, folder / "reports"):
        for login in ("admin", "viewer"):
            set_password(sides.store, login, PASSWORD, by="test")
        before = contents(sides.store)
        edit_erp(sides.erp, 1, 0.5, seed=5)
        run = reimport(get_settings(), Request(company=1, actor="admin", full_refresh=True))
        written = sorted(run.audit.loc[run.audit["outcome"] == "reimported", "contract_no"])
        with web_server() as url:
            yield Undoable(url, sides, run.run_id, written, before)


def _said(page) -> str:  # noqa: ANN001 - an httpx response
    return " ".join(_text(page.text).split())


def _form(page) -> dict[str, str]:  # noqa: ANN001
    form = re.search(
        r'<form method="post" action="[^"]+/undo" class="actions">(.*?)</form>', page.text, re.S
    )
    return {
        k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1))
    }


def test_undo_is_confirmed_with_its_effect_then_runs_as_the_person(undoable):
    admin = Visitor(undoable.url)
    admin.sign_in("admin")
    run_page = admin.get(f"/companies/1/runs/{undoable.run_id}")
    assert 'id="undo"' in run_page.text and "Undo this re-import" in run_page.text
    after_run = contents(undoable.sides.store)

    confirm = admin.get(f"/companies/1/runs/{undoable.run_id}/undo")
    said = _said(confirm)
    assert confirm.status_code == 200 and "Undo this re-import?" in said
    for number in undoable.written:
        assert re.search(rf"{re.escape(number)} put back \+\d+ ~\d+ -\d+ [\d,.]+ → ", said), number
    assert f"Confirm: undo {len(undoable.written)} contracts" in said
    assert "the next sync re-imports it" in said
    form = _form(confirm)
    assert form.keys() == {"csrf_token", "seen"}
    stale = admin.post(f"/companies/1/runs/{undoable.run_id}/undo", {**form, "seen": "old"})
    assert stale.status_code == 409 and 'id="changed"' in stale.text
    assert contents(undoable.sides.store) == after_run  # looking and a stale Confirm: nothing

    viewer = Visitor(undoable.url)
    viewer.sign_in("viewer")
    refused = viewer.get(f"/companies/1/runs/{undoable.run_id}/undo")
    assert "left as it is" in _said(refused) and "lacks the rights" in _said(refused)
    assert re.search(r'<button type="submit" id="confirm" disabled>', refused.text)

    done = admin.post(f"/companies/1/runs/{undoable.run_id}/undo", form)
    assert done.status_code == 303
    undo_page = admin.get(done.headers["location"])
    heading = re.search(r"<h1>(.*?)</h1>", undo_page.text).group(1)
    assert html.unescape(heading).startswith("Undo of ")
    assert f"{len(undoable.written)} undone" in _said(undo_page) or "was undone" in _said(undo_page)
    assert "Asked by admin (an undo)" in _said(undo_page)
    assert contents(undoable.sides.store) == undoable.before

    again = admin.get(f"/companies/1/runs/{undoable.run_id}/undo")
    assert "nothing to undo" in _said(again) and "Confirm: undo 0 contracts" in _said(again)


def test_a_run_of_another_company_or_none_is_no_undo_page(undoable):
    admin = Visitor(undoable.url)
    admin.sign_in("admin")
    assert admin.get(f"/companies/2/runs/{undoable.run_id}/undo").status_code in (403, 404)
    missing = admin.get("/companies/1/runs/00000000-0000-0000-0000-000000000000/undo")
    assert missing.status_code == 404 and "no run" in _said(missing)
