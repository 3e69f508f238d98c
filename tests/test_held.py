"""Held frames spilled to files: the folder of a run killed before it could remove it is
removed by the next run that spills; a live run's folder is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from contract_sync.erp.frames import ErpFrames
from contract_sync.held import PREFIX, HeldFrames

ONE_ITEM = ErpFrames(pd.DataFrame({"contract_no": ["C1"]}), pd.DataFrame({"contract_no": ["C1"]}))
SPILL_AND_WAIT = """
import sys, time
from tests.test_held import ONE_ITEM
from contract_sync.held import HeldFrames
with HeldFrames(budget_items=0) as held:
    held.add(ONE_ITEM)
    print(held._folder.path, flush=True)
    time.sleep(600)
"""


def _folders(temp: Path) -> set[Path]:
    return set(temp.glob(f"{PREFIX}*"))


def test_a_killed_runs_folder_goes_at_the_next_spill_and_a_live_ones_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    other = subprocess.Popen(
        [sys.executable, "-c", SPILL_AND_WAIT],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        theirs = Path(other.stdout.readline().strip())
        assert theirs.is_dir() and list(theirs.glob("*.pickle"))

        with HeldFrames(budget_items=0) as held:
            held.add(ONE_ITEM)  # spills: sweeps first
            assert _folders(tmp_path) == {theirs, held._folder.path}  # theirs is alive

        other.send_signal(signal.SIGKILL)  # no chance to clean up
        other.wait()
        assert theirs.is_dir()
        with HeldFrames(budget_items=0) as held:
            held.add(ONE_ITEM)
            assert _folders(tmp_path) == {held._folder.path}
        assert not _folders(tmp_path)
    finally:
        other.kill()
        other.wait()
