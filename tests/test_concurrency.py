"""Two runs in two processes on the same contracts: each change is applied exactly once, on
the SQL store and on Procore."""

from __future__ import annotations

import json
import subprocess
import time

import pandas as pd
import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.store import schema as s
from tests.concurrent_apply import start
from tests.stores import erp_items


def test_two_concurrent_runs_apply_each_change_once(store, tmp_path):
    seeded = store.sides
    edited = set(edit_erp(seeded.erp, 1, 1.0, seed=12).contracts)
    runs = [
        start(
            tmp_path,
            name,
            store.environment,
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
    a = s.audit_contracts.c
    with seeded.store.connect() as connection:
        written = connection.execute(
            sa.select(a.contract_no, sa.func.count())
            .where(a.outcome == "reimported", a.contract_no.in_(edited))
            .group_by(a.contract_no)
        ).all()
    assert dict(written) == dict.fromkeys(edited, 1)  # one re-import each, not two
    for contract in sorted(edited):  # and the store holds the ERP's items, exactly
        pd.testing.assert_frame_equal(store.items(contract), erp_items(seeded, contract))
