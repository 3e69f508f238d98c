"""The suites in a helper process (stages/suite_worker.py): the same verdicts as in the
run's own process, its errors raised in the run, and the run's own process when it stops.

The helper is for suites Great Expectations runs: these tests use the project's suites with
one expectation more that stages/suite_checks.py leaves to GX (the project's own are checked
without GX, and a run then starts no helper: test_a_run_with_suites_checked_without_gx_...)."""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.demo.generator import generate_company
from contract_sync.erp.vista_schema import JCCM
from contract_sync.errors import UserError
from contract_sync.model import ErpFrames
from contract_sync.pace import Pace
from contract_sync.stages import suite_worker
from contract_sync.stages.suite_worker import HelperUserError, SuiteWorker, _travelling
from contract_sync.stages.validate import SuiteFileError, needs_suites, run_suites, validate
from contract_sync.store.validation_cache import ValidationCache
from tests.new_interpreter import ROOT, python

PROJECT_SUITES = ROOT / "expectations"


def _suites_run_in_gx() -> Path:
    """The project's suites, and a unit of measure in its set (as the suite says already)
    `mostly`: the native checks leave `mostly` to GX."""
    folder = Path(tempfile.mkdtemp(prefix="suites-in-gx-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    shutil.copytree(PROJECT_SUITES, folder, dirs_exist_ok=True)
    path = folder / "line_items.json"
    suite = json.loads(path.read_text())
    [units] = [e for e in suite["expectations"] if e["kwargs"].get("column") == "uom"]
    units["kwargs"]["mostly"] = 1.0
    path.write_text(json.dumps(suite))
    return folder


SUITES = _suites_run_in_gx()


def _company() -> ErpFrames:
    data = generate_company(1, 30, 4, seed=5)  # company 1: edge cases, so failures
    return ErpFrames(data.contracts, data.items)


def _same(found, expected) -> None:
    assert not expected.invalid_contracts.empty
    pd.testing.assert_series_equal(found.invalid_contracts, expected.invalid_contracts)
    pd.testing.assert_frame_equal(found.failures, expected.failures)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_helper_finds_what_the_run_finds_and_ends_with_it():
    erp = _company()
    with closing(SuiteWorker()) as helper:
        helper.start()
        pid = helper.process.pid
        _same(helper.run_suites(erp, SUITES), run_suites(erp, SUITES))
        assert helper.process is not None  # the answer came from the helper
    assert helper.process is None and _gone(pid)


def test_an_error_in_the_helper_is_raised_in_the_run(tmp_path):
    suites = tmp_path / "suites"
    shutil.copytree(SUITES, suites)
    (suites / "line_items.json").write_text("{not json")
    with (
        closing(SuiteWorker()) as helper,
        pytest.raises(SuiteFileError, match="line_items.json") as raised,
    ):
        helper.start()
        helper.run_suites(_company(), suites)
    assert any("in the validation helper" in note for note in raised.value.__notes__)


class _TwoPartError(UserError, ValueError):
    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def test_an_error_that_cannot_travel_comes_back_as_its_type_and_message():
    try:
        raise _TwoPartError("C-1", "no such job")
    except _TwoPartError as error:
        travelling = _travelling(error)
    assert isinstance(travelling, HelperUserError)
    assert str(travelling) == "_TwoPartError: C-1: no such job"
    try:
        raise ValueError("plain")
    except ValueError as error:
        assert _travelling(error) is error


@pytest.mark.parametrize("contracts", [30, 1])  # one contract: a request the pipe buffers
def test_a_helper_that_stopped_leaves_the_run_validating_itself(caplog, contracts):
    erp = _company()
    erp = erp.only(erp.contracts["contract_no"].isin(erp.contracts["contract_no"][:contracts]))
    with closing(SuiteWorker()) as helper:
        helper.start()
        helper.process.kill()
        helper.process.wait()
        with caplog.at_level(logging.WARNING):
            found = helper.run_suites(erp, SUITES)
        assert helper.process is None
    expected = run_suites(erp, SUITES)
    pd.testing.assert_frame_equal(found.failures, expected.failures)
    assert "validation helper stopped" in caplog.text


RUN = """
import json, os, sys, threading
from pathlib import Path
from contract_sync.stages import suite_worker
from contract_sync.run import Request, reimport
from contract_sync.settings import Settings

suite_worker.MIN_CONTRACTS = {min_contracts}
forks, sent = [], []  # helpers forked; requests with something to check sent to a helper


class Counted(suite_worker._Forked):
    def __init__(self):
        super().__init__()  # the copy never returns from it
        forks.append(1)


def counted(self, erp, suites_dir, run_suites=suite_worker.SuiteWorker.run_suites):
    if self.process is not None and not (erp.contracts.empty and erp.items.empty):
        sent.append(1)
    return run_suites(self, erp, suites_dir)


suite_worker._Forked, suite_worker.SuiteWorker.run_suites = Counted, counted
if {thread}:  # another thread in the run's process: never forked
    threading.Thread(target=threading.Event().wait, daemon=True).start()
settings = Settings(
    erp_url={erp!r}, store_url={store!r}, data_docs=False, data_dir=Path({data!r}),
    validation_helper={helper}, expectations_dir=Path({suites!r}),
)
request = Request(company=1, actor="admin", dry_run=True, contracts={contracts!r})
result = reimport(settings, request)
audit = result.audit[["contract_no", "outcome", "reasons"]].astype(str)
try:
    os.waitpid(-1, os.WNOHANG)
    children = "some"
except ChildProcessError:
    children = "none"
print(json.dumps({{"loaded_here": "great_expectations" in sys.modules, "children": children,
                  "forks": len(forks), "sent": len(sent),
                  "audit": sorted(audit.values.tolist())}}))
"""


def _run_in_a_new_process(
    seeded,
    data: Path,
    helper: bool,
    contracts: list[str] | None = None,
    thread: bool = False,
    suites: Path = SUITES,
) -> dict:
    code = RUN.format(
        suites=str(suites),
        erp=seeded.erp_url,
        store=seeded.store_url,
        data=str(data),
        helper=helper,
        contracts=contracts,
        thread=thread,
        min_contracts=1 if contracts is None else 10**9,  # a helper only if waited on
    )
    return json.loads(python(code).splitlines()[-1])


def test_a_run_validates_in_its_helper_with_the_same_outcomes(seeded, tmp_path):
    edit_erp(seeded.erp, 1, 0.5, seed=3)
    helped = _run_in_a_new_process(seeded, tmp_path / "helped", helper=True)
    alone = _run_in_a_new_process(seeded, tmp_path / "alone", helper=False)
    assert not helped["loaded_here"]  # Great Expectations ran in the helper only
    assert alone["loaded_here"]
    assert helped["audit"] == alone["audit"]
    assert any("invalid_erp_data" in reasons for _, _, reasons in helped["audit"])


def _company_1_contracts(seeded) -> list[str]:
    query = sa.select(JCCM.c.Contract).where(JCCM.c.JCCo == 1).distinct()
    with seeded.erp.connect() as connection:
        return sorted(number.strip() for number in connection.scalars(query))


def test_a_run_a_person_waits_on_forks_its_helper_as_it_begins(seeded, tmp_path):
    """Named contracts at the command line: GX loads in a copy of the run's process while
    it reads; the run's process never loads it, and no helper outlives the run."""
    edit_erp(seeded.erp, 1, 0.5, seed=3)
    named = _company_1_contracts(seeded)
    forked = _run_in_a_new_process(seeded, tmp_path / "forked", helper=True, contracts=named)
    alone = _run_in_a_new_process(seeded, tmp_path / "alone", helper=False, contracts=named)
    threaded = _run_in_a_new_process(
        seeded, tmp_path / "threaded", helper=True, contracts=named, thread=True
    )
    assert not forked["loaded_here"]  # validated in the forked helper
    assert alone["loaded_here"] and threaded["loaded_here"]  # another thread: not forked
    assert forked["audit"] == alone["audit"] == threaded["audit"]
    assert any("invalid_erp_data" in reasons for _, _, reasons in forked["audit"])
    assert forked["children"] == "none"
    assert (forked["forks"], threaded["forks"], alone["forks"]) == (1, 0, 0)
    assert forked["sent"] > 0
    # Every content's verdict kept by the run before: its copy is forked and ended unused.
    again = _run_in_a_new_process(seeded, tmp_path / "forked", helper=True, contracts=named)
    assert (again["forks"], again["sent"], again["children"]) == (1, 0, "none")
    assert not again["loaded_here"] and again["audit"] == forked["audit"]


@pytest.mark.parametrize("waited_on", [False, True])
def test_a_run_with_suites_checked_without_gx_starts_no_helper(seeded, tmp_path, waited_on):
    """The project's own suites: no helper forked or started, GX never loaded, and the
    outcomes of a run whose suites GX runs."""
    edit_erp(seeded.erp, 1, 0.5, seed=3)
    named = _company_1_contracts(seeded) if waited_on else None
    native = _run_in_a_new_process(
        seeded, tmp_path / "native", helper=True, contracts=named, suites=PROJECT_SUITES
    )
    in_gx = _run_in_a_new_process(seeded, tmp_path / "gx", helper=False, contracts=named)
    assert (native["forks"], native["sent"], native["loaded_here"]) == (0, 0, False)
    assert in_gx["loaded_here"]
    assert native["audit"] == in_gx["audit"]
    assert any("invalid_erp_data" in reasons for _, _, reasons in native["audit"])


def test_a_helper_that_cannot_be_forked_leaves_the_run_validating_itself(monkeypatch, caplog):
    monkeypatch.setattr(suite_worker, "can_fork", lambda: True)  # this process has threads

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    erp = _company()
    with closing(SuiteWorker()) as helper, caplog.at_level(logging.WARNING):
        opened = len(os.listdir("/proc/self/fd"))
        helper.start(forked=True)
        assert len(os.listdir("/proc/self/fd")) == opened  # its pipes closed
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # let go
        assert helper.process is None
        _same(helper.run_suites(erp, SUITES), run_suites(erp, SUITES))
    assert "validation helper not forked" in caplog.text


def test_nothing_to_check_is_answered_without_the_helper(caplog):
    nothing = _company().only(pd.Series(False, index=_company().contracts.index))
    with closing(SuiteWorker()) as helper:
        helper.start()
        helper.process.kill()  # a request sent now would find it stopped (and log it)
        helper.process.wait()
        with caplog.at_level(logging.WARNING):
            found = helper.run_suites(nothing, SUITES)
        assert helper.process is not None  # nothing was sent
    assert found.invalid_contracts.empty and found.failures.empty
    assert "validation helper stopped" not in caplog.text


SPILLED = """
import json, sys
from contextlib import nullcontext
from pathlib import Path
from contract_sync.stages import suite_worker
from contract_sync.run import Hooks, Request, reimport
from contract_sync.settings import Settings

suite_worker.MIN_CONTRACTS = 1
suite_worker.SPLIT_FROM_ITEMS = 1
events, extracts, split = [], [], []
real_split = suite_worker.SuiteWorker.run_split
def counted(self, erp, suites_dir):
    split.append(len(erp.items))
    return real_split(self, erp, suites_dir)
suite_worker.SuiteWorker.run_split = counted
for name in ("start", "close"):
    def logged(self, name=name, method=getattr(suite_worker.SuiteWorker, name)):
        if name == "start" or self.process is not None:
            events.append((name, len(extracts)))
        return method(self)
    setattr(suite_worker.SuiteWorker, name, logged)

def timer(stage):
    if stage == "extract":
        extracts.append(stage)
    return nullcontext()

settings = Settings(
    erp_url={erp!r}, store_url={store!r}, data_docs=False, data_dir=Path({data!r}),
    group_items=30, expectations_dir=Path({suites!r}),
)
request = Request(company=1, actor="admin", dry_run=True)
result = reimport(settings, request, hooks=Hooks(timer=timer))
audit = result.audit[["contract_no", "outcome", "reasons"]].astype(str)
print(json.dumps({{"loaded_here": "great_expectations" in sys.modules, "events": events,
                  "extracts": len(extracts), "split": len(split), "sizes": split,
                  "audit": sorted(audit.values.tolist())}}))
"""


def test_changes_beyond_a_group_are_validated_by_the_helper_and_the_run(seeded, tmp_path):
    """Two groups a validation, split between the helper and the run: the audit of a run
    that validates alone; the helper ends when validation does, after the read."""
    edit_erp(seeded.erp, 1, 0.5, seed=3)
    spilled = _spilled_run(seeded, tmp_path / "s", SUITES)
    alone = _run_in_a_new_process(seeded, tmp_path / "alone", helper=False)
    assert [event for event, _ in spilled["events"]] == ["start", "close"]
    (_, at), (_, then) = spilled["events"]
    assert at < then == spilled["extracts"]  # started during the read, ended after it
    assert spilled["loaded_here"]  # half validated in the run's own process
    assert spilled["split"] >= 1 and max(spilled["sizes"]) > 30  # more than a group at once
    assert spilled["audit"] == alone["audit"]
    assert any("invalid_erp_data" in reasons for _, _, reasons in spilled["audit"])


def test_suites_that_check_across_contracts_validate_a_group_at_a_time(seeded, tmp_path):
    """A suite whose verdict on a contract depends on others (a row count of the table) is
    not split, and each validation takes one group, as a run that validates alone does."""
    edit_erp(seeded.erp, 1, 0.5, seed=3)
    suites = tmp_path / "suites"
    shutil.copytree(SUITES, suites)
    path = suites / "line_items.json"
    suite = json.loads(path.read_text())
    count = {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 0}}
    suite["expectations"].append(count)
    path.write_text(json.dumps(suite))
    across = _spilled_run(seeded, tmp_path / "across", suites)
    local = _spilled_run(seeded, tmp_path / "local", SUITES)
    assert max(across["sizes"]) < max(local["sizes"])  # one group, not two
    assert len(across["sizes"]) > len(local["sizes"])
    assert across["audit"] == local["audit"]


def _spilled_run(seeded, data: Path, suites: Path) -> dict:  # noqa: ANN001 - the fixture
    code = SPILLED.format(
        erp=seeded.erp_url, store=seeded.store_url, data=str(data), suites=str(suites)
    )
    return json.loads(python(code).splitlines()[-1])


def _wants_helper(allowed: bool, scope: int) -> bool:
    """Whether a Pace would start a helper for a changed contract without a kept verdict."""
    pace = Pace(None, helper=allowed)
    pace.plan_helper(scope, lambda _changed: True)
    return pace._want_helper


@pytest.mark.parametrize(("helper", "scope"), [(False, 5_000), (True, 999)])
def test_small_runs_validate_themselves(monkeypatch, helper, scope):
    monkeypatch.delitem(sys.modules, "great_expectations", raising=False)  # as in a new run
    assert not _wants_helper(helper, scope)
    assert _wants_helper(True, 1_000)
    monkeypatch.setitem(sys.modules, "great_expectations", sys)  # loaded in this process
    assert not _wants_helper(True, 1_000)


def _with_odd_rows(erp: ErpFrames) -> ErpFrames:
    """Two contracts of one number (one of the last: the second half fails too), an item of
    no contract, an item of no number."""
    contracts = pd.concat([erp.contracts, erp.contracts.iloc[[-2]]], ignore_index=True)
    odd = erp.items.iloc[[0, 1]].assign(contract_no=["NOT-A-CONTRACT", pd.NA])
    return ErpFrames(contracts, pd.concat([erp.items, odd], ignore_index=True))


@pytest.mark.parametrize("seed", [5, 8])
def test_a_validation_split_with_the_helper_finds_what_one_run_finds(monkeypatch, seed):
    data = generate_company(1, 30, 4, seed=seed)
    erp = _with_odd_rows(ErpFrames(data.contracts, data.items))
    monkeypatch.setattr(suite_worker, "SPLIT_FROM_ITEMS", 1)
    theirs, ours = suite_worker.halves(erp)
    assert abs(len(theirs.items) - len(ours.items)) < len(erp.items) / 4  # about half each
    sent = []
    with closing(SuiteWorker()) as helper:
        helper.start()
        real = helper._sent
        monkeypatch.setattr(helper, "_sent", lambda part, d: sent.append(part) or real(part, d))
        found = helper.run_split(erp, SUITES)
        assert helper.process is not None  # the helper answered
    assert [len(part.items) for part in sent] == [len(theirs.items)]
    whole = run_suites(erp, SUITES)
    _same(found, whole)
    both = set(theirs.contracts["contract_no"]), set(ours.contracts["contract_no"])
    failing = set(whole.invalid_contracts)
    assert failing & both[0] and failing & both[1]  # each half found some


def test_a_helper_is_wanted_only_for_contracts_without_a_kept_verdict(tmp_path):
    erp = _company()
    cache = ValidationCache(tmp_path / "verdicts.sqlite")
    assert needs_suites(erp, SUITES, cache)  # nothing kept yet
    assert needs_suites(erp, SUITES, None)  # no cache: everything is checked
    validate(erp, SUITES, cache)
    assert not needs_suites(erp, SUITES, cache)
    assert not needs_suites(erp.only(pd.Series(False, index=erp.contracts.index)), SUITES, cache)
    edited = erp.items.copy()
    edited.loc[edited.index[0], "description"] = "changed since"
    assert needs_suites(ErpFrames(erp.contracts, edited), SUITES, cache)
