"""What the daily digest reads (each contract's state as the scheduled sync last recorded
it, the runs that failed or were abandoned, the admins' addresses from the directory) and
what it records: the notices told, so that each is told once."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import sqlalchemy as sa

from contract_sync.store import schema as s
from contract_sync.store.bulk import read_frame
from contract_sync.store.writes import now
from contract_sync.vocabulary import PermissionLevel, RunStatus

RECENT = timedelta(days=7)  # a run that failed longer ago than this is not told any more


def contract_states(engine: sa.Engine, actor: str) -> pd.DataFrame:
    """Each contract's last audit row written by a run (not a dry run) acting as `actor`
    (the service user of the scheduled syncs): audit_id, erp_company, contract_no,
    project_id, outcome, reasons, recorded_at."""
    a, r = s.audit_contracts.c, s.sync_runs.c
    scheduled = sa.select(r.id).where(r.actor == actor, r.dry_run == sa.false())
    last = (
        sa.select(sa.func.max(a.id))
        .where(a.run_id.in_(scheduled))
        .group_by(a.erp_company, a.contract_no)
    )
    query = sa.select(
        a.id.label("audit_id"),
        a.erp_company,
        a.contract_no,
        a.project_id,
        a.outcome,
        a.reasons,
        a.recorded_at,
    ).where(a.id.in_(last))
    with engine.connect() as connection:
        return read_frame(connection, query)


def ended_runs(engine: sa.Engine) -> pd.DataFrame:
    """Runs that failed or were abandoned lately: run_id, erp_company, status, at, actor,
    trigger."""
    e, r = s.run_ends.c, s.sync_runs.c
    query = (
        sa.select(e.run_id, s.companies.c.erp_company, e.status, e.at, r.actor, r.trigger)
        .join(s.sync_runs, r.id == e.run_id)
        .join(s.companies, s.companies.c.id == r.company_id)
        .where(e.status.in_([RunStatus.failed, RunStatus.abandoned]))
    )
    with engine.connect() as connection:
        query = query.where(e.at >= now(connection) - RECENT)
        return read_frame(connection, query)


def admins(engine: sa.Engine) -> pd.DataFrame:
    """Users with an address and Admin on a tool: erp_company, email, tool, project_id (NA:
    the company's tool, or Main Contracts on every project)."""
    u, p = s.users.c, s.tool_permissions.c
    query = (
        sa.select(s.companies.c.erp_company, u.email, p.tool, p.project_id)
        .join(s.tool_permissions, p.user_id == u.id)
        .join(s.companies, s.companies.c.id == p.company_id)
        .where(p.level == PermissionLevel.admin, u.email.is_not(None))
    )
    with engine.connect() as connection:
        found = read_frame(connection, query)
    return found.astype({"project_id": "Int64"})


def told(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(s.notices.c.key)).scalars())


def record_told(engine: sa.Engine, keys: list[str], recipients: dict[str, int]) -> None:
    """These notices told (to so many recipients each)."""
    if not keys:
        return
    with engine.begin() as connection:
        at = now(connection)
        connection.execute(
            s.notices.insert(),
            [{"key": k, "told_at": at, "recipients": recipients.get(k, 0)} for k in keys],
        )
