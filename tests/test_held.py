"""Held frames spilled to files: the folder of a run killed before it could remove it is
removed by a later run that spills; a live run's folder is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from contract_sync.held import PREFIX, UNTOUCHED_SECONDS, HeldFrames
from contract_sync.model import ErpFrames

ROOT = Path(__file__).resolve().parent.parent
ONE_ITEM = ErpFrames(pd.DataFrame({"contract_no": ["C1"]}), pd.DataFrame({"contract_no": ["C1"]}))
SPILL_AND_WAIT = """
import time
from tests.test_held import ONE_ITEM
from contract_sync.held import HeldFrames
with HeldFrames(budget_items=0) as held:
    held.add(ONE_ITEM)
    print(held._folder.path, flush=True)
    time.sleep(600)
"""


def _folders(temp: Path) -> set[Path]:
    return set(temp.glob(f"{PREFIX}*"))


def _age(folder: Path) -> None:
    """As if untouched for longer than a sweep waits."""
    past = time.time() - UNTOUCHED_SECONDS - 60
    os.utime(folder, (past, past))


def _spill_once(temp: Path) -> None:
    with HeldFrames(budget_items=0) as held:
        held.add(ONE_ITEM)  # spills: sweeps first
        assert held._folder.path.parent == temp


def test_a_killed_runs_folder_goes_at_a_later_spill_and_a_live_ones_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    other = subprocess.Popen(
        [sys.executable, "-c", SPILL_AND_WAIT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        line = other.stdout.readline().strip()
        assert line, "the other run did not spill"
        theirs = Path(line)
        assert list(theirs.glob("*.pickle"))
        _age(theirs)

        _spill_once(tmp_path)
        assert _folders(tmp_path) == {theirs}  # old, but locked by a live run

        other.send_signal(signal.SIGKILL)  # no chance to clean up
        other.wait(timeout=30)
        _spill_once(tmp_path)
        assert _folders(tmp_path) == set()
    finally:
        other.kill()
        other.wait(timeout=30)


def test_unlocked_folders_go_only_once_untouched_for_a_while(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    recent, old = tmp_path / f"{PREFIX}recent", tmp_path / f"{PREFIX}old"
    for folder in (recent, old):  # as an earlier version left them: no lock file
        folder.mkdir()
        (folder / "0.pickle").write_bytes(b"contract data")
    _age(old)

    _spill_once(tmp_path)

    assert _folders(tmp_path) == {recent}
