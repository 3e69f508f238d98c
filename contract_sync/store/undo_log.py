"""What an undo reads of the run it undoes: the run, the contracts it wrote with their
field changes and undo images, and the runs that wrote them since."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from contract_sync.errors import UserError
from contract_sync.store import schema as s
from contract_sync.store.bulk import read_frame
from contract_sync.vocabulary import APPLIED

_CHANGES = ["contract_no", "item_no", "change", "field", "before", "after"]


class UnknownRun(UserError, LookupError):
    """A run id the audit log does not hold."""


@dataclass(frozen=True)
class RunWrites:
    """One run as the audit log holds it, for an undo."""

    run_id: str
    erp_company: int
    dry_run: bool
    audit: pd.DataFrame  # every contract it recorded: contract_no, contract_id, outcome, ...
    changes: pd.DataFrame  # the field changes, added and removed items it wrote
    images: dict[int, dict]  # contract_id -> its undo image (contract_sync.stages.undo_images)
    later: pd.Series  # contract_no -> the last run that wrote it since, where one did


def read_run_writes(engine: sa.Engine, run_id: str) -> RunWrites:
    """The run `run_id` and what it wrote. UnknownRun when the log has no such run."""
    runs, audit = s.sync_runs.c, s.audit_contracts.c
    with engine.connect() as connection:
        run = connection.execute(
            sa.select(runs.id, runs.dry_run, s.companies.c.erp_company)
            .join(s.companies, s.companies.c.id == runs.company_id)
            .where(runs.id == run_id)
        ).first()
        if run is None:
            raise UnknownRun(
                f"no run {run_id!r} in the audit log: `contract-sync audit report` lists the runs"
            )
        rows = read_frame(
            connection,
            sa.select(
                audit.id,
                audit.contract_no,
                audit.contract_id,
                audit.project_id,
                audit.outcome,
                audit.erp_hash,
                audit.amount_before,
                audit.amount_after,
            )
            .where(audit.run_id == run_id)
            .order_by(audit.contract_no),
        )
        changes = read_frame(
            connection,
            sa.select(audit.contract_no, *(s.audit_changes.c[c] for c in _CHANGES[1:]))
            .join(s.audit_changes, s.audit_changes.c.audit_id == audit.id)
            .where(audit.run_id == run_id)
            .order_by(s.audit_changes.c.id),
        )
        images = connection.execute(
            sa.select(s.undo_images.c.contract_id, s.undo_images.c.image).where(
                s.undo_images.c.run_id == run_id
            )
        ).all()
        later = _later_writes(connection, run.erp_company, rows)
    return RunWrites(
        run_id,
        run.erp_company,
        bool(run.dry_run),
        rows,
        changes.reindex(columns=_CHANGES).astype("string"),
        {int(i): json.loads(image) for i, image in images},
        later,
    )


def _later_writes(connection: sa.Connection, erp_company: int, rows: pd.DataFrame) -> pd.Series:
    """contract_no -> the last run that wrote it after the run of these audit rows did."""
    if rows.empty:
        return pd.Series(dtype="string")
    audit = s.audit_contracts.c
    found = read_frame(
        connection,
        sa.select(audit.contract_no, audit.id, audit.run_id).where(
            audit.erp_company == erp_company,
            audit.id > int(rows["id"].min()),
            audit.outcome.in_([str(o) for o in APPLIED]),
            audit.contract_no.in_(rows["contract_no"].tolist()),
        ),
    )
    found = found[found["id"] > found["contract_no"].map(rows.set_index("contract_no")["id"])]
    last = found.sort_values("id").drop_duplicates("contract_no", keep="last")
    return last.set_index("contract_no")["run_id"].astype("string")
