"""Procore as the store (CONTRACT_SYNC_STORE=procore): the run API against the Procore
simulator over real HTTP, the ledger on SQLite (and PostgreSQL when given)."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync import run
from contract_sync.demo.edit import edit_erp
from contract_sync.erp.vista import read_vista
from contract_sync.model import Request
from contract_sync.run import company_ready_list, first_import, preview, reimport
from contract_sync.store import schema as s
from contract_sync.vocabulary import Outcome
from tests.procore_world import PROCORE_COMPANY, procore_world, world_environment

SERVICE = "sync-service"


@pytest.fixture
def world(seeded, tmp_path):
    with procore_world(seeded, tmp_path) as world:
        world.sides = seeded
        yield world


def _imported(world) -> pd.DataFrame:
    """Every importable contract of company 1 imported into Procore by the product."""
    result = first_import(world.settings, Request(1, SERVICE))
    return result.audit


def _procore_items(world, contract_no: str) -> pd.DataFrame:
    """What Procore holds for a contract's items: origin item code -> values (Decimal)."""
    state = world.sim.state
    [contract] = [
        c
        for c in state.store.contracts.values()
        if c.fields.get("origin_id", "").strip() == contract_no
    ]
    rows = [
        {
            "item_no": i.origin_id.rpartition("/")[2],
            "description": i.description,
            "amount": i.amount,
            "quantity": i.quantity,
            "unit_cost": i.unit_cost,
            "uom": i.uom,
        }
        for i in state.items_of(contract.id)
    ]
    return pd.DataFrame(rows).set_index("item_no").sort_index()


def _erp_items(world, contract_no: str) -> pd.DataFrame:
    items = read_vista(world.sides.erp, 1, contract_nos=[contract_no]).items
    return (
        pd.DataFrame(
            {
                "item_no": items["item_no"].astype(str),
                "description": items["description"].astype(object),
                "amount": [Decimal(int(v)).scaleb(-2) for v in items["amount"]],
                "quantity": [Decimal(int(v)).scaleb(-3) for v in items["quantity"]],
                "unit_cost": [Decimal(int(v)).scaleb(-5) for v in items["unit_cost"]],
                "uom": items["uom"].astype(object),
            }
        )
        .set_index("item_no")
        .sort_index()
    )


def _cli_ready(world) -> str:
    """`contract-sync ready` as a command run against the world prints it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).with_name("contract-sync"))
    env = os.environ | world_environment(world) | {"COLUMNS": "80"}
    done = subprocess.run(
        [cli, "ready", "--company", "1"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def _same_values(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.index) == list(right.index)
    for column in ("amount", "quantity", "unit_cost"):
        assert [Decimal(v) for v in left[column]] == [Decimal(v) for v in right[column]], column
    assert list(left["description"]) == list(right["description"])


def test_first_import_writes_every_contract_exactly_and_a_second_run_reads_little(world):
    audit = _imported(world)
    imported = audit.loc[audit["outcome"] == Outcome.imported, "contract_no"]
    assert len(imported) >= 5
    for contract_no in imported:
        _same_values(_procore_items(world, contract_no), _erp_items(world, contract_no))
    world.sim.log.clear()
    result = reimport(world.settings, Request(1, SERVICE))
    assert set(result.audit.loc[result.audit["contract_no"].isin(imported), "reasons"]) == {
        "no_updates"
    }
    projects = len(world.projects)
    assert world.sim.calls <= projects + 5, world.sim.request_counts()


def _contract(world, contract_no: str):
    state = world.sim.state
    return next(
        c
        for c in state.store.contracts.values()
        if c.fields.get("origin_id", "").strip() == contract_no
    )


def _edited(world, seed: int = 5):
    summary = edit_erp(world.sides.erp, 1, 0.5, seed)
    assert summary.contracts
    return summary


def test_reimport_writes_the_erp_changes_and_keeps_an_edit_made_in_procore(world):
    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    summary = _edited(world)
    edited = [c for c in summary.contracts if c in imported]
    contract_no = edited[0]
    # A person edits, in Procore, the description of an item the ERP leaves as it is.
    erp_now = _erp_items(world, contract_no)
    procore_before = _procore_items(world, contract_no)
    same = [
        n
        for n in procore_before.index
        if n in erp_now.index
        and procore_before.loc[n, "description"] == erp_now.loc[n, "description"]
    ]
    kept_item = same[0]
    contract = _contract(world, contract_no)
    item = next(
        i for i in world.sim.state.items_of(contract.id) if i.origin_id.endswith("/" + kept_item)
    )
    world.sim.edit_line_item(item.id, description="Changed in Procore by the PM")

    result = reimport(world.settings, Request(1, SERVICE))
    rows = result.audit.set_index("contract_no")
    assert rows.loc[contract_no, "outcome"] == Outcome.reimported
    after = _procore_items(world, contract_no)
    expected = erp_now.copy()
    expected.loc[kept_item, "description"] = "Changed in Procore by the PM"
    _same_values(after, expected)
    for other in edited[1:]:
        if rows.loc[other, "outcome"] == Outcome.reimported:
            _same_values(_procore_items(world, other), _erp_items(world, other))
    again = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    assert again.loc[contract_no, "reasons"] == "no_updates"


def test_procore_statuses_projects_and_change_orders_are_the_gates(world):
    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    edited = [c for c in _edited(world, seed=7).contracts if c in imported]
    draft, twice, ordered = edited[:3]
    world.sim.state.update_contract(
        world.settings.procore_company_id,
        _contract(world, draft).project_ids[0],
        _contract(world, draft).id,
        {"status": "Draft"},
    )
    other_project = next(
        p for p in world.projects.values() if p not in _contract(world, twice).project_ids
    )
    world.sim.attach_contract(_contract(world, twice).id, other_project)
    with world.sides.store.begin() as connection:  # the company's ERP is Spectrum
        connection.execute(s.erp_integrations.update().values(erp_type="viewpoint_spectrum"))
    world.sim.add_change_order(
        _contract(world, ordered).id, status="approved", grand_total="500.00"
    )
    found = preview(world.settings, Request(1, SERVICE, contracts=[draft, twice, ordered]))
    reasons = found.decisions.set_index("contract_no")["reasons"]
    assert "contract_unapproved" in reasons[draft].split()
    assert "contract_in_multiple_projects" in reasons[twice].split()
    assert reasons[ordered] == "approved_change_orders"


def test_a_record_procore_refuses_fails_that_contract_only(world):
    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    summary = _edited(world, seed=9)
    edited = [c for c in summary.contracts if c in imported]
    victim = edited[0]
    contract = _contract(world, victim)
    for item in world.sim.state.items_of(contract.id):
        world.sim.sync_error(item.origin_id, "is not a valid unit of measure", field="uom")
    result = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    assert result.loc[victim, "outcome"] == Outcome.failed
    assert "is not a valid unit of measure" in result.loc[victim, "error"]
    assert (result.loc[[c for c in edited[1:]], "outcome"] != Outcome.failed).all()


def test_a_write_stopped_midway_is_partial_and_the_next_run_completes_it(world):
    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    summary = _edited(world, seed=11)
    edited = [c for c in summary.contracts if c in imported]
    # Procore answers 500 to every header update: the items are written, the header not.
    world.sim.fail(500, path=r"^/rest/v1.0/prime_contract/\d+$", method="PATCH", times=None)
    first = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    stopped = [c for c in edited if first.loc[c, "outcome"] == Outcome.failed]
    assert stopped, first.loc[edited, ["outcome", "error"]]
    found = preview(world.settings, Request(1, SERVICE))
    assert set(stopped) <= set(found.state.partial["contract_no"])
    ready = company_ready_list(world.settings, Request(1, SERVICE)).set_index("contract_no")
    said = ready.loc[stopped[0], "partial"]
    assert said.startswith("written in part by run ") and "HTTP 500" in said, said
    assert ready.loc[stopped[0], "reimport_available"]
    assert ready["partial"].notna().sum() == len(stopped)
    shown = _cli_ready(world)  # what a person reads in an 80-column terminal's pipe
    assert f"{stopped[0]}" in shown and "(partial)" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    world.sim.faults.clear()
    second = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    erp = read_vista(world.sides.erp, 1).contracts.set_index("contract_no")
    for contract_no in stopped:
        assert second.loc[contract_no, "outcome"] == Outcome.reimported
        _same_values(_procore_items(world, contract_no), _erp_items(world, contract_no))
        assert _contract(world, contract_no).fields["title"] == erp.loc[contract_no, "title"]
    assert preview(world.settings, Request(1, SERVICE)).state.partial.empty


def test_contracts_past_the_hourly_budget_are_deferred_whole_then_written(seeded, tmp_path):
    with procore_world(seeded, tmp_path, rate_limit=24) as world:
        world.sides = seeded
        audit = _imported(world)
        deferred = audit[audit["reasons"] == "rate_limited"]
        imported = audit[audit["outcome"] == Outcome.imported]
        assert len(imported) and len(deferred), audit[["contract_no", "outcome", "reasons"]]
        assert deferred["error"].str.contains("deferred whole").all()
        for contract_no in imported["contract_no"]:  # none cut in half
            _same_values(_procore_items(world, contract_no), _erp_items(world, contract_no))
        assert all(
            not [
                c
                for c in world.sim.state.store.contracts.values()
                if c.fields.get("origin_id", "").strip() == n
            ]
            for n in deferred["contract_no"]
        )
        world.sim.advance_clock(3600)  # the next window
        later = _imported(world).set_index("contract_no")
        assert (later.loc[deferred["contract_no"], "outcome"] == Outcome.imported).all()
        assert not (world.sim.request_counts().get("429", 0))


def test_an_edit_in_procore_between_compare_and_write_makes_the_contract_stale(world):
    from contract_sync.hooks import Hooks

    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    edited = [c for c in _edited(world, seed=13).contracts if c in imported]
    target = _contract(world, edited[0])
    item = world.sim.state.items_of(target.id)[0]

    def person_edits(_plan) -> None:
        world.sim.edit_line_item(item.id, description="Edited while the run planned")

    result = reimport(world.settings, Request(1, SERVICE), hooks=Hooks(planned=person_edits))
    rows = result.audit.set_index("contract_no")
    assert rows.loc[edited[0], "reasons"] == "stale"
    assert world.sim.state.store.line_items[item.id].description == "Edited while the run planned"
    again = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    assert again.loc[edited[0], "outcome"] == Outcome.reimported
    assert world.sim.state.store.line_items[item.id].description == "Edited while the run planned"


def test_a_token_that_expires_mid_run_is_renewed(world):
    from contract_sync.hooks import Hooks

    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    edited = [c for c in _edited(world, seed=17).contracts if c in imported]
    expire = Hooks(planned=lambda _plan: world.sim.expire_tokens())
    world.sim.log.clear()
    rows = reimport(world.settings, Request(1, SERVICE), hooks=expire).audit.set_index(
        "contract_no"
    )
    assert set(rows.loc[edited, "outcome"]) <= {Outcome.reimported, Outcome.blocked}
    assert (rows.loc[edited, "outcome"] == Outcome.reimported).any()
    assert world.sim.request_counts()["POST /oauth/token"] == 2  # the run's, and one renewal


def test_a_first_import_stopped_after_the_contract_was_made_is_completed_not_made_twice(world):
    world.sim.fail(500, path="/line_items/sync$", method="PATCH", times=None)
    first = _imported(world)
    failed = first.loc[first["outcome"] == Outcome.failed, "contract_no"]
    assert len(failed)
    made = len(world.sim.state.store.contracts)
    assert made >= len(failed)  # the contracts exist in Procore, without their items
    world.sim.faults.clear()
    # The ERP's title changes before the next run: the contract the stopped run made takes it.
    from contract_sync.erp.vista_schema import JCCM

    renamed = failed.iloc[0]
    with world.sides.erp.begin() as connection:
        connection.execute(
            JCCM.update()
            .where(JCCM.c.Contract.like(f"%{renamed.strip()}%"))
            .values(Description="Renamed in the ERP meanwhile")
        )
    second = _imported(world).set_index("contract_no")
    assert (second.loc[failed, "outcome"] == Outcome.imported).all()
    assert len(world.sim.state.store.contracts) == made  # none made a second time
    assert _contract(world, renamed).fields["title"] == "Renamed in the ERP meanwhile"
    for contract_no in failed:
        _same_values(_procore_items(world, contract_no), _erp_items(world, contract_no))


def test_two_runs_at_once_write_each_contract_once(world):
    import threading

    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    edited = [c for c in _edited(world, seed=19).contracts if c in imported]
    results, errors = [], []

    def run() -> None:
        try:
            results.append(reimport(world.settings, Request(1, SERVICE)).audit)
        except Exception as error:  # noqa: BLE001 - shown by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and len(results) == 2
    both = pd.concat(results)
    written = both[both["outcome"] == Outcome.reimported]
    assert not written["contract_no"].duplicated().any()  # never applied twice
    assert set(edited) <= set(written["contract_no"]) | set(
        both.loc[both["reasons"].isin(["locked", "stale"]), "contract_no"]
    )
    assert (both["outcome"] != Outcome.failed).all(), both[["contract_no", "outcome", "error"]]
    final = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    for contract_no in edited:
        assert final.loc[contract_no, "reasons"] == "no_updates"
        _same_values(_procore_items(world, contract_no), _erp_items(world, contract_no))


def test_a_run_killed_while_writing_leaves_partial_contracts_the_next_run_completes(world):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    edited = [c for c in _edited(world, seed=23).contracts if c in imported]
    env = os.environ | world_environment(world)
    # The second contract's header update is answered late: the run is killed while it
    # waits, its items written, its header not.
    world.sim.delay(30, path=r"^/rest/v1.0/prime_contract/\d+$", method="PATCH", nth=2)
    cli = str(Path(sys.executable).with_name("contract-sync"))
    process = subprocess.Popen([cli, "sync", "--company", "1"], env=env)
    patch = "PATCH /rest/v1.0/prime_contract/{id}"
    deadline = time.monotonic() + 120
    while world.sim.request_counts().get(patch, 0) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it was killed"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    world.sim.faults.clear()
    found = preview(world.settings, Request(1, SERVICE))
    partial = set(found.state.partial["contract_no"])
    assert partial and partial <= set(edited)
    second = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    for contract_no in edited:
        assert second.loc[contract_no, "outcome"] in (Outcome.reimported, Outcome.up_to_date), (
            second.loc[contract_no, ["outcome", "reasons"]]
        )
        _same_values(_procore_items(world, contract_no), _erp_items(world, contract_no))
    assert preview(world.settings, Request(1, SERVICE)).state.partial.empty


def _conflicting_item(world, edited: list[str]) -> tuple[str, str, object]:
    """A contract, an item and the Procore id of one whose amount the ERP changed."""
    for contract_no in edited:
        procore, erp = _procore_items(world, contract_no), _erp_items(world, contract_no)
        both = procore.index.intersection(erp.index)
        moved = [n for n in both if Decimal(procore.loc[n, "amount"]) != erp.loc[n, "amount"]]
        if moved:
            contract = _contract(world, contract_no)
            item = next(
                i
                for i in world.sim.state.items_of(contract.id)
                if i.origin_id.endswith("/" + moved[0])
            )
            return contract_no, moved[0], item
    raise AssertionError("no item whose amount the ERP changed")


@pytest.mark.parametrize("policy", ["block", "erp_wins"])
def test_a_field_changed_in_the_erp_and_in_procore_follows_the_policy(world, policy):
    from contract_sync.vocabulary import ConflictPolicy

    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    edited = [c for c in _edited(world, seed=29).contracts if c in imported]
    contract_no, item_no, item = _conflicting_item(world, edited)
    world.sim.edit_line_item(item.id, amount="12345.67", extended_type="manual")
    request = Request(1, SERVICE, policy=ConflictPolicy(policy))
    rows = reimport(world.settings, request).audit.set_index("contract_no")
    after = _procore_items(world, contract_no)
    if policy == "block":
        assert rows.loc[contract_no, "reasons"] == "conflict"
        assert after.loc[item_no, "amount"] == Decimal("12345.67")  # nothing written
    else:
        assert rows.loc[contract_no, "outcome"] == Outcome.reimported
        _same_values(after, _erp_items(world, contract_no))


def test_a_spectrum_company_s_contracts_keep_their_version_from_read_to_read(world):
    _imported(world)
    with world.sides.store.begin() as connection:
        connection.execute(s.erp_integrations.update().values(erp_type="viewpoint_spectrum"))
    first = preview(world.settings, Request(1, SERVICE)).state.contracts
    second = preview(world.settings, Request(1, SERVICE)).state.contracts
    assert len(first) and list(first["version"]) == list(second["version"])


def test_an_item_deleted_and_made_again_in_procore_is_read_as_it_is_now(world):
    audit = _imported(world)
    imported = set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
    edited = [c for c in _edited(world, seed=31).contracts if c in imported]
    contract = _contract(world, edited[0])
    state = world.sim.state
    item = state.items_of(contract.id)[0]
    record = {
        "origin_id": item.origin_id,
        "origin_data": item.origin_data,
        "description": item.description,
        "amount": str(item.amount),
        "quantity": str(item.quantity),
        "unit_cost": str(item.unit_cost),
        "uom": item.uom,
    }
    company, project = world.settings.procore_company_id, contract.project_ids[0]
    state.delete_item(company, project, contract.id, item.id)
    [made], errors = state.sync_items(company, project, contract.id, [record])
    assert not errors and made.id != item.id
    rows = reimport(world.settings, Request(1, SERVICE)).audit.set_index("contract_no")
    assert rows.loc[edited[0], "outcome"] == Outcome.reimported
    _same_values(_procore_items(world, edited[0]), _erp_items(world, edited[0]))


def test_more_projects_than_a_window_holds_are_read_in_part_and_every_contract_imported(
    seeded, tmp_path
):
    """13 projects, 12 requests an hour, no 429 ever answered: a first import lists only the
    project of each contract it writes, so the contracts arrive over the windows; a sync
    lists what the window holds beside a quarter kept for writes, stalest first, so every
    project is read over the windows."""
    with procore_world(seeded, tmp_path, rate_limit=12) as world:
        world.sides = seeded
        imported, windows = set(), 0
        while windows < 12:
            windows += 1
            audit = _imported(world)
            imported |= set(audit.loc[audit["outcome"] == Outcome.imported, "contract_no"])
            if not (audit["reasons"] == "rate_limited").any():
                break
            world.sim.advance_clock(3600)
        assert 1 < windows < 12 and len(imported) >= 8
        for contract_no in imported:
            _same_values(_procore_items(world, contract_no), _erp_items(world, contract_no))

        def unread() -> int:
            with world.sides.store.connect() as connection:
                p = s.projects.c
                return connection.execute(
                    sa.select(sa.func.count()).where(
                        p.remote_id.is_not(None), p.contracts_read_at.is_(None)
                    )
                ).scalar()

        left = [unread()]
        while left[-1] and len(left) < 6:
            world.sim.advance_clock(3600)
            reimport(world.settings, Request(1, SERVICE))
            left.append(unread())
        assert left[0] == len(world.projects) and left[-1] == 0 and len(left) > 2, left
        answered = world.sim.log.counts_by_status()
        assert not any(429 in statuses for statuses in answered.values()), answered


def test_a_first_import_finds_a_contract_made_in_procore_meanwhile_and_makes_no_second(world):
    """The ready list shows a contract importable; then someone makes it in Procore (its
    own ERP import, say). A first import lists the project before it creates: it refuses the
    contract as already imported, writes nothing, and the mirror holds it from then on."""
    ready = company_ready_list(world.settings, Request(1, SERVICE))
    row = ready[ready["import_available"]].iloc[0]
    contract_no, project = row["contract_no"], world.projects[row["project"]]
    made = world.sim.state.create_contract(
        PROCORE_COMPANY,
        project,
        {"origin_id": contract_no, "title": "Made in Procore", "status": "Approved"},
        None,
    )
    world.sim.log.clear()
    audit = first_import(world.settings, Request(1, SERVICE, contracts=[contract_no])).audit
    assert (audit.loc[0, "outcome"], audit.loc[0, "reasons"]) == ("blocked", "already_imported")
    counts = world.sim.request_counts()
    assert "POST /rest/v1.0/prime_contract" not in counts, counts
    assert counts["GET /rest/v1.0/prime_contracts"] == 1  # its project's list, no other
    assert [c.id for c in world.sim.state.store.contracts.values()] == [made.id]
    assert world.sim.state.items_of(made.id) == []
    again = company_ready_list(world.settings, Request(1, SERVICE)).set_index("contract_no")
    assert not again.loc[contract_no, "import_available"]
    assert again.loc[contract_no, "project"] == row["project"]


def test_the_erp_is_opened_after_procore_s_state_is_read_not_held_open_meanwhile(
    world, monkeypatch
):
    """Procore's state takes many requests: the ERP read starts when the scan asks for it
    (on a SQL store it opens while the state loads), never a statement held open on the ERP
    for as long as Procore answers."""
    order = []
    read_store, read_erp_groups = run.read_store, run.read_erp_groups

    def store_read(*args, **kwargs):
        order.append("procore")
        return read_store(*args, **kwargs)

    @contextmanager
    def erp_read(*args, **kwargs):
        order.append("erp")
        with read_erp_groups(*args, **kwargs) as groups:
            yield groups

    monkeypatch.setattr(run, "read_store", store_read)
    monkeypatch.setattr(run, "read_erp_groups", erp_read)
    _imported(world)
    assert order == ["procore", "erp"]
