"""Reads the audit log for reports: set-based, filtered in SQL, indexed columns first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from contract_sync.store import schema as s
from contract_sync.store.bulk import read_frame
from contract_sync.store.types import Amount
from contract_sync.vocabulary import APPLIED, UNCHANGED_REASONS, Outcome, RunStatus


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


def runs() -> sa.Select:
    """Each run's start with its end: status `running` while it has none."""
    r, e = s.sync_runs, s.run_ends
    return sa.select(
        *r.c,
        sa.func.coalesce(e.c.status, RunStatus.running).label("status"),
        e.c.at.label("ended_at"),
        e.c.contracts_repeated,
    ).select_from(r.outerjoin(e, e.c.run_id == r.c.id))


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
        runs_counted, contracts = connection.execute(totals).one()
        ends = read_frame(connection, _run_ends(f))
    counts["day"] = counts["day"].astype(str)
    return counts, {
        "runs": int(runs_counted),
        "contracts": int(contracts),
        "run_statuses": dict(zip(ends["status"], ends["runs"].astype(int), strict=True)),
        "contracts_repeated": int(ends["repeated"].fillna(0).sum()),
    }


def _run_ends(f: AuditFilter) -> sa.Select:
    """Runs per status in the filter's time, company, actor and run; with the contracts
    they found as last recorded (counted, not recorded)."""
    started = runs().subquery()
    conditions = []
    if f.since is not None:
        conditions.append(started.c.started_at >= f.since)
    if f.until is not None:
        conditions.append(started.c.started_at < f.until)
    if f.actor is not None:
        conditions.append(started.c.actor == f.actor)
    if f.run_id is not None:
        conditions.append(started.c.id == f.run_id)
    if f.company is not None:
        of_company = sa.select(s.companies.c.id).where(s.companies.c.erp_company == f.company)
        conditions.append(started.c.company_id.in_(of_company))
    return (
        sa.select(
            started.c.status,
            sa.func.count().label("runs"),
            sa.func.sum(started.c.contracts_repeated).label("repeated"),
        )
        .where(*conditions)
        .group_by(started.c.status)
        .order_by(started.c.status)
    )


def read_blocked_spans(engine: sa.Engine, f: AuditFilter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(by audit_id of each blocked row matching `f`: run_start, the start of its run, and
    next_start, the start of the run of its contract's next record, NaT if none;
    erp_company and started_at of the completed runs that checked every contract of their
    company). Each such run of its company started between the two found the contract
    blocked again: counted, not recorded. (Runs limited to a project or a list of
    contracts are not counted.)"""
    a = s.audit_contracts.c
    blocked = _scope(sa.select(a.erp_company, a.contract_no)).where(
        *_conditions(f), a.outcome == Outcome.blocked
    )
    run_start = s.sync_runs.c.started_at
    next_start = sa.func.lead(run_start).over(
        partition_by=[a.erp_company, a.contract_no], order_by=[a.recorded_at, a.id]
    )
    spans = (
        sa.select(a.id.label("audit_id"), run_start, next_start.label("next_start"))
        .join(s.sync_runs, s.sync_runs.c.id == a.run_id)
        .where(sa.tuple_(a.erp_company, a.contract_no).in_(blocked))
    )
    r = runs().subquery()
    starts = (
        sa.select(s.companies.c.erp_company, r.c.started_at, r.c.parameters)
        .join(s.companies, s.companies.c.id == r.c.company_id)
        .where(r.c.status == RunStatus.completed)
    )
    if f.company is not None:
        starts = starts.where(s.companies.c.erp_company == f.company)
    with engine.connect() as connection:
        found = read_frame(connection, spans)
        started = read_frame(connection, starts)
    every = [p.get("contracts") is None and p.get("project") is None for p in started["parameters"]]
    started = started.loc[every, ["erp_company", "started_at"]]
    spans = pd.DataFrame(
        {
            "run_start": pd.to_datetime(found["started_at"], utc=True).to_numpy(),
            "next_start": pd.to_datetime(found["next_start"], utc=True).to_numpy(),
        },
        index=found["audit_id"],
    )
    return spans, started.assign(started_at=pd.to_datetime(started["started_at"], utc=True))


def last_checked(engine: sa.Engine, erp_company: int, contract_no: str) -> sa.Row | None:
    """The latest completed run whose scope held this contract (every contract of the
    company, or a list naming it), with its start: when the contract was last checked. Its
    state then is the one of its last audit record (a repeat is counted, not recorded)."""
    r = runs().subquery()
    query = (
        sa.select(r)
        .join(s.companies, s.companies.c.id == r.c.company_id)
        .where(s.companies.c.erp_company == erp_company, r.c.status == RunStatus.completed)
        .order_by(r.c.started_at.desc())
    )
    with engine.connect() as connection:
        for run in connection.execute(query):  # newest first: a scheduled sync ends it
            scope = run.parameters.get("contracts")
            if run.parameters.get("project") is None and (scope is None or contract_no in scope):
                return run
    return None


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
