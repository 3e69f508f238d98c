"""Reads the audit log for reports: set-based, filtered in SQL, indexed columns first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from contract_sync.bulk import read_frame
from contract_sync.store import schema as s
from contract_sync.store.types import Amount
from contract_sync.vocabulary import APPLIED, UNCHANGED_REASONS


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    project: str | None = None  # project number
    contract: str | None = None
    actor: str | None = None
    outcome: str | None = None
    reason: str | None = None
    run_id: str | None = None
    company: int | None = None  # ERP company number


def _conditions(f: AuditFilter) -> list:
    a, r, p = s.audit_contracts.c, s.sync_runs.c, s.projects.c
    conditions = []
    if f.since is not None:
        conditions.append(a.recorded_at >= f.since)
    if f.until is not None:
        conditions.append(a.recorded_at < f.until)
    if f.contract is not None:
        conditions.append(a.contract_no == f.contract)
    if f.outcome is not None:
        conditions.append(a.outcome == f.outcome)
    if f.reason is not None:  # reasons are space-separated codes
        conditions.append((" " + a.reasons + " ").contains(f" {f.reason} ", autoescape=True))
    if f.actor is not None:
        conditions.append(r.actor == f.actor)
    if f.project is not None:
        conditions.append(p.number == f.project)
    if f.run_id is not None:
        conditions.append(a.run_id == f.run_id)
    if f.company is not None:
        conditions.append(a.erp_company == f.company)
    return conditions


def _scope(query: sa.Select) -> sa.Select:
    a = s.audit_contracts
    return query.select_from(
        a.join(s.sync_runs, s.sync_runs.c.id == a.c.run_id).outerjoin(
            s.projects, s.projects.c.id == a.c.project_id
        )
    )


def read_counts(engine: sa.Engine, f: AuditFilter) -> tuple[pd.DataFrame, dict]:
    """Counted in the database: rows per day, outcome and reason set, with the contract
    value re-imports changed; and the number of runs and of contracts."""
    a = s.audit_contracts.c
    applied = a.outcome.in_(list(APPLIED))
    delta = sa.case((applied, a.amount_after - sa.func.coalesce(a.amount_before, 0)), else_=0)
    day = sa.func.date(a.recorded_at)
    grouped = (
        _scope(
            sa.select(
                day.label("day"),
                a.outcome,
                a.reasons,
                sa.func.count().label("rows"),
                sa.type_coerce(sa.func.sum(delta), Amount()).label("value_changed"),
            )
        )
        .where(*_conditions(f))
        .group_by(day, a.outcome, a.reasons)
    )
    contract_key = sa.cast(a.erp_company, sa.String) + "/" + a.contract_no
    totals = _scope(
        sa.select(
            sa.func.count(sa.distinct(a.run_id)).label("runs"),
            sa.func.count(sa.distinct(contract_key)).label("contracts"),
        )
    ).where(*_conditions(f))
    with engine.connect() as connection:
        counts = read_frame(connection, grouped)
        runs, contracts = connection.execute(totals).one()
    counts["day"] = counts["day"].astype(str)
    return counts, {"runs": int(runs), "contracts": int(contracts)}


def read_audit(
    engine: sa.Engine, f: AuditFilter, include_unchanged: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contract rows with their run's trigger and actor, field changes of those rows);
    without the rows of up-to-date contracts unless `include_unchanged`."""
    a, r = s.audit_contracts, s.sync_runs
    unchanged = a.c.reasons == UNCHANGED_REASONS
    conditions = _conditions(f) + ([] if include_unchanged else [~unchanged])
    rows_query = (
        sa.select(
            a.c.id.label("audit_id"),
            a.c.run_id,
            a.c.recorded_at,
            r.c.trigger,
            r.c.actor,
            r.c.dry_run,
            a.c.erp_company,
            a.c.contract_no,
            s.projects.c.number.label("project"),
            a.c.outcome,
            a.c.reasons,
            a.c.error,
            a.c.items_added,
            a.c.items_changed,
            a.c.items_removed,
            a.c.header_changes,
            a.c.amount_before,
            a.c.amount_after,
            a.c.version_before,
            a.c.version_after,
        )
        .select_from(
            a.join(r, r.c.id == a.c.run_id).outerjoin(s.projects, s.projects.c.id == a.c.project_id)
        )
        .where(*conditions)
        .order_by(a.c.recorded_at, a.c.id)
    )
    with engine.connect() as connection:
        rows = read_frame(connection, rows_query)
        changes = read_frame(
            connection,
            sa.select(
                s.audit_changes.c.audit_id,
                s.audit_changes.c.item_no,
                s.audit_changes.c.change,
                s.audit_changes.c.field,
                s.audit_changes.c.before,
                s.audit_changes.c.after,
                s.audit_changes.c.overwritten,
            )
            .where(s.audit_changes.c.audit_id.in_(rows_query.with_only_columns(a.c.id)))
            .order_by(s.audit_changes.c.audit_id, s.audit_changes.c.id),
        )
    if not rows.empty:
        rows["recorded_at"] = pd.to_datetime(rows["recorded_at"], utc=True)
    changes = changes.astype(object).where(changes.notna(), None)
    return rows, changes
