"""Many companies on many workers, end to end: a served Prefect with two workers and a shared
PostgreSQL store, a scheduled sync of three companies (one company-sync run each), one worker
killed with the runs it holds while they write, and the next sync puts every contract right:
the killed runs abandoned, nothing half-written, nothing applied twice, and never two runs of
one company at once. The test writes its timeline (timeline.txt in its folder, and stdout)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.schedules import IntervalSchedule
from prefect.settings import PREFECT_API_URL

from contract_sync.columns import normal_text
from contract_sync.demo.edit import edit_erp
from contract_sync.demo.seed import seed
from contract_sync.erp.vista_schema import JCCI
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import get_settings
from contract_sync.store import schema as s
from contract_sync.store.chain import verify
from tests.conftest import POSTGRES_URL, new_sides, settings_for
from tests.served import served_fixture, table_fits, wait_for_run  # noqa: F401 - the fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (the shared store)"),
]

PROJECT = Path(__file__).resolve().parent.parent
COMPANIES = (1, 2, 3)  # 2 is on QuickBooks: its run only blocks
WRITTEN = (1, 3)
HEARTBEAT = 30  # Prefect's least: a killed run is found Crashed after three of them
LEASE = 120


@pytest.fixture(scope="module")
def backend() -> str:
    return "postgresql"


@pytest.fixture
def configured(database_url, tmp_path) -> Iterator:
    """Three companies on PostgreSQL, the settings pointing at them."""
    with new_sides(database_url) as sides:
        seed(sides.erp, sides.store, companies=3, contracts=10, items_per_contract=6, seed=5)
        with settings_for(sides, tmp_path / "reports"):
            yield sides


@pytest.fixture
def served_settings() -> dict[str, str]:
    return {
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT),
        "CONTRACT_SYNC_WORKER_LIMIT": "2",
        # A hold renewed every 90 s: a killed run's lasts 30 s at least, so that the run of
        # its company started after the kill is seen waiting for it.
        "CONTRACT_SYNC_COMPANY_LEASE_SECONDS": str(LEASE),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
    }


class Timeline:
    """What happened, in seconds from the test's start; kept in a file and printed."""

    def __init__(self, path: Path) -> None:
        self.path, self.start, self.lines = path, time.time(), []

    def __call__(self, what: str, at: float | None = None) -> None:
        line = f"{(at or time.time()) - self.start:7.1f} s  {what}"
        self.lines.append(line)
        self.path.write_text("\n".join(sorted(self.lines, key=lambda x: float(x.split()[0]))))
        print(line, flush=True)

    def ends(self, runs: dict[int, object]) -> None:
        """Each company run's end, at the time Prefect recorded it."""
        for company, run in sorted(runs.items()):
            said = f"company {company}'s run {run.name} ended {run.state.name}"
            self(f"{said}: {run.state.message or ''}"[:160], run.state.timestamp.timestamp())


def _worker(name: str, environment: dict[str, str], log: Path) -> subprocess.Popen:
    """scripts/worker.sh as on another machine: its own process group, the same settings."""
    return subprocess.Popen(
        [PROJECT / "scripts/worker.sh"],
        env={**environment, "CONTRACT_SYNC_WORKER_NAME": name},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _children(pid: int) -> list[int]:
    """Every process under `pid` (a process worker starts each flow run in a session of
    its own, so its process group does not hold them)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _pid(flow_run) -> int:  # noqa: ANN001
    """The process of a flow run, as its worker recorded it (pid, or host:pid)."""
    return int(str(flow_run.infrastructure_pid).rsplit(":", 1)[-1])


def _all_waiting(client, sync_id, store: sa.Engine) -> list[str]:  # noqa: ANN001
    """The statements of the store sessions waiting on a lock, once there is one for each
    company run that has not ended (and two at least: the companies that write)."""
    with store.connect() as connection:
        waiting = list(
            connection.execute(
                sa.text(
                    "SELECT query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalars()
        )
    running = [r for r in _company_runs(client, sync_id).values() if not r.state.is_final()]
    return waiting if len(waiting) >= max(len(running), len(WRITTEN)) else []


def _company_runs(client, sync_id) -> dict[int, object]:  # noqa: ANN001
    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[sync_id])
        )
    )
    return {run.parameters["company"]: run for run in runs}


def _wait(predicate, seconds: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise TimeoutError(f"not within {seconds} s: {what}")


def _a_run_waits_for_the_dead_runs_hold(client, store, killed, said):  # noqa: ANN001, ANN202
    """A run of a killed company, started by hand at once: it waits, writing nothing, while
    the dead run's hold lasts, and starts once it lapses."""
    company = killed[-1]
    deployment = client.read_deployment_by_name("reimport-main-contracts/company-sync")
    run = client.create_flow_run_from_deployment(deployment.id, parameters={"company": company})
    said(f"a run of company {company} started by hand (run {run.name})")
    waits = f"another run acts on company {company}: this run waits"
    _wait(lambda: any(waits in line for line in _log(client, run.id)), 120, waits)
    with store.connect() as connection:
        recorded = connection.execute(
            sa.select(sa.func.count()).where(s.sync_runs.c.id == str(run.id))
        ).scalar()
    assert recorded == 0  # it waits before it starts: nothing recorded, nothing written
    said(f"it waits: the killed run's hold on company {company} has not lapsed")
    _wait(lambda: _started(store, run.id), 300, "the run to start once the hold lapsed")
    said("it starts: the hold lapsed", _started(store, run.id))
    return run


def _log(client, flow_run_id) -> list[str]:  # noqa: ANN001
    logs = client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    )
    return [log.message for log in logs]


def _started(store: sa.Engine, run_id) -> float | None:  # noqa: ANN001
    """When the run recorded its start in the store (it holds its company's slot then)."""
    with store.connect() as connection:
        at = connection.execute(
            sa.select(s.sync_runs.c.started_at).where(s.sync_runs.c.id == str(run_id))
        ).scalar()
    return None if at is None else at.timestamp()


def _started_by_its_schedule(client, deployment_id):  # noqa: ANN001, ANN202
    """The scheduled sync's next run as its schedule starts it: an hourly schedule from a few
    seconds from now (the server's scheduler makes the run, auto_scheduled)."""
    soon = datetime.now(UTC) + timedelta(seconds=20)
    client.create_deployment_schedules(
        deployment_id, [(IntervalSchedule(interval=timedelta(hours=1), anchor_date=soon), True)]
    )
    ours = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))

    def first_due():  # noqa: ANN202
        runs = client.read_flow_runs(deployment_filter=ours)
        due = [
            r
            for r in runs
            if r.auto_scheduled and r.expected_start_time <= soon + timedelta(seconds=1)
        ]
        return due[0] if due else None

    return _wait(first_due, 120, "the schedule's run")


def _triggers(store: sa.Engine) -> dict[str, str]:
    with store.connect() as connection:
        return dict(connection.execute(sa.select(s.sync_runs.c.id, s.sync_runs.c.trigger)).all())


def _the_companies_table_reads_in_the_ui(client, browser, sync_id) -> None:  # noqa: ANN001
    """The sync's table of its company runs (a row each, fitting the UI at 1440 px) and what
    each said (a paragraph each)."""
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[sync_id]))
    )
    [table] = [a for a in artifacts if a.type == "table"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [(row["company"], row["ended"]) for row in rows] == [
        (str(company), "Completed") for company in COMPANIES
    ]
    table_fits(browser, table.id)
    [said] = [a.data for a in artifacts if a.type == "markdown"]
    for row in rows:  # what each run said, whole, beside its company
        assert f"**{row['company']} " in said and f"run {row['run']} ended Completed. " in said
    assert said.count("completed: ") == len(COMPANIES)


def _kill(pid: int) -> list[int]:
    """kill -9 of a worker and of every flow run it started: its machine gone."""
    pids = [pid, *_children(pid)]
    for each in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)
    return pids


def test_three_companies_on_two_workers_one_killed_mid_run(served, tmp_path, browser):
    said = Timeline(tmp_path / "timeline.txt")
    store, erp = served.store, served.erp
    edited = {c: sorted(edit_erp(erp, c, 0.5, seed=70 + c).contracts) for c in WRITTEN}
    environment = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    environment |= {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT)}
    environment |= {
        "CONTRACT_SYNC_WORKER_LIMIT": "2",
        "CONTRACT_SYNC_COMPANY_LEASE_SECONDS": str(LEASE),
    }
    second = _worker("worker-b", environment, tmp_path / "worker-b.log")
    workers = {"contract-sync-local": int((tmp_path / "run/worker.pid").read_text())}
    workers["worker-b"] = second.pid
    said(
        "served: Prefect server, PostgreSQL store, workers contract-sync-local and worker-b "
        "(2 runs at once each)"
    )
    # The table of undo images held against writes (reads go on): a run that writes waits
    # at its last write before its audit rows, its contracts' items and baselines written
    # and not committed, until the test lets go.
    locker = store.connect()
    transaction = locker.begin()
    locker.execute(sa.text("LOCK TABLE undo_images IN EXCLUSIVE MODE"))
    killed_ids: list = []
    try:
        with get_client(sync_client=True) as client:
            sync = client.read_deployment_by_name("sync-companies/scheduled-sync")
            first = client.create_flow_run_from_deployment(sync.id, parameters={})
            said(f"sync 1 started (run {first.name}): companies {list(COMPANIES)}")
            runs = _wait(
                lambda: len(found := _company_runs(client, first.id)) == 3 and found,
                120,
                "three company runs",
            )
            said("company runs made: " + ", ".join(f"{k}: {r.name}" for k, r in runs.items()))
            waiting = _wait(
                lambda: _all_waiting(client, first.id, store),
                180,
                "every company run to wait at the end of its writes",
            )
            said(
                f"{len(waiting)} runs wait in their write transactions: "
                + " | ".join(" ".join(q.split())[:50] for q in waiting)
            )
            runs = _company_runs(client, first.id)
            parent = client.read_flow_run(first.id)
            under = {name: set(_children(pid)) for name, pid in workers.items()}
            by_worker = {
                name: [k for k, r in {**runs, 0: parent}.items() if _pid(r) in pids]
                for name, pids in under.items()
            }
            said(
                "on the workers (0: the sync itself): "
                + "; ".join(f"{n}: {sorted(ks)}" for n, ks in by_worker.items())
            )
            # The worker without the sync, which holds at least one writing run (each takes
            # two runs at most, and the sync is one of the other's).
            doomed = next(n for n, ks in by_worker.items() if 0 not in ks)
            running = {
                k: r for k, r in _company_runs(client, first.id).items() if not r.state.is_final()
            }
            killed = sorted(k for k in by_worker[doomed] if k in running)
            assert set(killed) & set(WRITTEN), (by_worker, running)
            killed_ids = [str(running[k].id) for k in killed]
            pids = _kill(workers[doomed])
            said(
                f"kill -9 {doomed} and its flow runs (pids {pids}): the runs of companies "
                f"{killed}, in their write transactions"
            )
            transaction.rollback()
            locker.close()
            said("the undo images table let go")
            waited = _a_run_waits_for_the_dead_runs_hold(client, store, killed, said)
            ended = wait_for_run(client, first.id, seconds=600)
            said.ends(_company_runs(client, first.id))
            said(
                f"sync 1 ended {ended.state.name}: {ended.state.message}",
                ended.state.timestamp.timestamp(),
            )
            assert ended.state.is_failed()
            noun = "company" if len(killed) == 1 else "companies"
            parts = ended.state.message.split(": ", 1)[1].split("; ")  # in company order
            assert f"{len(killed)} crashed ({noun} {', '.join(map(str, killed))})" in parts
            crashed = [
                k for k, r in _company_runs(client, first.id).items() if r.state.is_crashed()
            ]
            assert sorted(crashed) == killed
            done = wait_for_run(client, waited.id, seconds=300)
            assert done.state.is_completed(), done.state.message

            third = _worker("worker-c", environment, tmp_path / "worker-c.log")
            said("worker-c started (a worker added)")
            try:
                again = _started_by_its_schedule(client, sync.id)
                said(f"sync 2 started by its schedule (run {again.name})")
                done = wait_for_run(client, again.id, seconds=600)
                again_runs = _company_runs(client, again.id)
                said.ends(again_runs)
                said(
                    f"sync 2 ended {done.state.name}: {done.state.message}",
                    done.state.timestamp.timestamp(),
                )
                assert done.state.is_completed(), done.state.message
                assert done.state.message == "Sync of 3 companies: 3 completed"
                _the_companies_table_reads_in_the_ui(client, browser, again.id)
            finally:
                _kill(third.pid)
                third.wait(10)
    finally:
        if not locker.closed:
            locker.close()
        _kill(second.pid)
        second.wait(10)
    _every_contract_right(store, erp, edited, killed_ids, said)
    triggers = _triggers(store)
    assert {triggers[str(r.id)] for r in runs.values()} == {"manual"}  # sync 1, by hand
    assert {triggers[str(r.id)] for r in again_runs.values()} == {"scheduled"}


def _every_contract_right(store, erp, edited, killed_ids, said) -> None:  # noqa: ANN001
    r, e, a = s.sync_runs.c, s.run_ends.c, s.audit_contracts.c
    with store.connect() as connection:
        ends = dict(connection.execute(sa.select(e.run_id, e.status)).all())
        reimported = connection.execute(
            sa.select(a.erp_company, a.contract_no, sa.func.count())
            .where(a.outcome == "reimported")
            .group_by(a.erp_company, a.contract_no)
        ).all()
        spans = connection.execute(
            sa.select(s.companies.c.erp_company, r.started_at, e.at, e.status)
            .join(s.companies, s.companies.c.id == r.company_id)
            .join(s.run_ends, e.run_id == r.id)
            .order_by(s.companies.c.erp_company, r.started_at)
        ).all()
    with store.connect() as connection:
        started = set(connection.execute(sa.select(r.id)).scalars())
    killed_started = [run for run in killed_ids if run in started]
    assert killed_started == killed_ids  # each had recorded its start
    assert [ends.get(run) for run in killed_ids] == ["abandoned"] * len(killed_ids)
    said(f"store: the killed runs {killed_ids} recorded abandoned (found so by the next runs)")
    # Each ERP change applied once: one re-import per edited contract, over all runs.
    assert sorted((k, no) for k, no, _ in reimported) == sorted(
        (k, no) for k, nos in edited.items() for no in nos
    )
    assert {count for *_, count in reimported} == {1}
    # Never two runs of one company at once (the abandoned ones end when found).
    for company in COMPANIES:
        done = [
            (start, end)
            for k, start, end, status in spans
            if k == company and status == "completed"
        ]
        assert all(
            a_end <= b_start for (_, a_end), (b_start, _) in zip(done, done[1:], strict=False)
        ), done
    # Nothing half-written: each edited contract's items are the ERP's, to the cent.
    for company, numbers in edited.items():
        assert _store_items(store, company, numbers) == _erp_items(erp, company, numbers)
    # And the engine's own full compare finds nothing left to do.
    settings = get_settings()
    for company in WRITTEN:
        check = reimport(
            settings, Request(company=company, actor="admin", dry_run=True, full_refresh=True)
        )
        assert "would_reimport" not in set(check.audit["outcome"]), company
    with store.connect() as connection:
        assert verify(connection).problem is None
    said(
        f"every contract right: {sum(map(len, edited.values()))} edited contracts re-imported "
        "once each; the audit chain intact"
    )


def _erp_items(erp: sa.Engine, company: int, numbers: list[str]) -> set[tuple]:
    """(contract, item, amount in cents) of these contracts in the ERP."""
    i = JCCI.c
    with erp.connect() as connection:
        rows = connection.execute(
            sa.select(i.Contract, i.Item, i.OrigContractAmt).where(i.JCCo == company)
        ).all()
    return {
        (normal_text(no), normal_text(item), int(amount * 100))
        for no, item, amount in rows
        if normal_text(no) in numbers
    }


def _store_items(store: sa.Engine, company: int, numbers: list[str]) -> set[tuple]:
    """(contract, item, amount in cents) of these contracts in the store."""
    m, li, c = s.main_contracts.c, s.line_items.c, s.companies.c
    with store.connect() as connection:
        rows = connection.execute(
            sa.select(m.origin_id, li.origin_id, li.amount)
            .join(s.companies, c.id == m.company_id)
            .join(s.line_items, li.contract_id == m.id)
            .where(c.erp_company == company, m.origin_id.in_(numbers))
        ).all()
    return {(no, item, amount) for no, item, amount in rows}
