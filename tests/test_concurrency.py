"""Two runs in two processes on the same contracts: each change is applied exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.erp.vista import read_vista
from contract_sync.stages.compare import compare
from contract_sync.store import schema as s
from contract_sync.store.state import load_state, with_items

PROJECT = Path(__file__).resolve().parent.parent


def test_two_concurrent_runs_apply_each_change_once(seeded, tmp_path):
    edited = set(edit_erp(seeded.erp, 1, 1.0, seed=12).contracts)
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.concurrent_apply",
                seeded.erp_url,
                seeded.store_url,
                str(tmp_path),
                name,
            ],
            cwd=PROJECT,
            env={**os.environ, "GX_ANALYTICS_ENABLED": "false"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("first", "second")
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"{n}.ready").exists() for n in ("first", "second")):
        assert time.monotonic() < deadline, [r.poll() for r in runs]
        assert all(r.poll() is None for r in runs), runs[0].communicate()[0]
        time.sleep(0.05)
    (tmp_path / "go").touch()  # both have compared the same versions: now both apply
    for run in runs:
        output, _ = run.communicate(timeout=180)
        assert run.returncode == 0, output
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("first", "second"))

    for contract in edited:
        outcomes = sorted([first[contract], second[contract]])
        assert sum(o == "reimported " for o in outcomes) == 1, (contract, outcomes)
        loser = next(o for o in outcomes if o != "reimported ")
        assert loser in ("blocked stale", "blocked locked"), (contract, outcomes)
    with seeded.store.connect() as connection:
        versions = dict(
            connection.execute(
                sa.select(s.main_contracts.c.origin_id, s.main_contracts.c.version).where(
                    s.main_contracts.c.company_id == 1, s.main_contracts.c.origin_id.in_(edited)
                )
            ).all()
        )
    assert set(versions.values()) == {2}  # one re-import each, not two
    erp = read_vista(seeded.erp, 1)
    state = load_state(seeded.store, 1, "admin")
    state = with_items(seeded.store, state, state.contracts["contract_id"])
    after = compare(state, erp.contracts, erp.items).contracts.set_index("contract_no")
    assert not after.loc[sorted(edited), "has_updates"].any()
