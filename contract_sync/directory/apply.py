"""Apply a plan in one transaction, each change recorded in the append-only change log."""

from __future__ import annotations

import getpass
import os
import uuid
from pathlib import Path

import sqlalchemy as sa

from contract_sync.directory.parse import DirectoryError, ParsedDirectory, parse_file
from contract_sync.directory.plan import (
    ALL_PROJECTS,
    COMPANY_LEVEL,
    Change,
    Plan,
    make_plan,
    read_snapshot,
)
from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync.store.db import WRITE_LOCK
from contract_sync.store.writes import now as stamp
from contract_sync.vocabulary import DirectoryAction

# Any fixed number: PostgreSQL's transaction-level advisory lock that serialises applies.
ADVISORY_LOCK = 7_301_004
ACTOR_LENGTH = s.directory_changes.c.actor.type.length


def default_actor() -> str:
    """Who applies a file when --by is not given: the user of the operating system."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container)
        return os.environ.get("USER") or f"uid {os.getuid()}"


def apply_file(
    engine: sa.Engine, path: Path | str, actor: str | None = None, check: bool = False
) -> Plan:
    """Parse, plan and (unless check) apply a directory file: all of it or nothing."""
    parsed = parse_file(path)
    with (
        engine.connect().execution_options(**{WRITE_LOCK: not check}) as connection,
        connection.begin(),
    ):
        if check:
            return make_plan(parsed, read_snapshot(connection))
        return apply_parsed(connection, parsed, actor or default_actor())


def apply_parsed(connection: sa.Connection, parsed: ParsedDirectory, actor: str) -> Plan:
    """Plan against the store as this transaction sees it, and apply (the caller commits)."""
    if not actor or len(actor) > ACTOR_LENGTH:
        raise DirectoryError([f"who applies {parsed.source.name} ({actor!r}): 1 to 80 characters"])
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK)))
    plan = make_plan(parsed, read_snapshot(connection))
    apply_plan(connection, plan, actor)
    return plan


# The order of the writes: parents before children are added, children before parents go.
PHASES = [
    ("company", DirectoryAction.added),
    ("company", DirectoryAction.changed),
    ("integration", DirectoryAction.added),
    ("integration", DirectoryAction.changed),
    ("user", DirectoryAction.added),
    ("user", DirectoryAction.changed),
    ("email", DirectoryAction.added),
    ("email", DirectoryAction.changed),
    ("project", DirectoryAction.added),
    ("project", DirectoryAction.changed),
    ("permission", DirectoryAction.removed),
    ("job", DirectoryAction.removed),
    ("job", DirectoryAction.changed),
    ("job", DirectoryAction.added),
    ("permission", DirectoryAction.changed),
    ("permission", DirectoryAction.added),
    ("project", DirectoryAction.removed),
    ("integration", DirectoryAction.removed),
    ("company", DirectoryAction.removed),
    ("user", DirectoryAction.removed),
]


def apply_plan(connection: sa.Connection, plan: Plan, actor: str) -> None:
    """Write the plan's changes and their change-log rows (the caller's transaction)."""
    if not plan.changes:
        return
    ids = _Ids(connection)
    for kind, action in PHASES:
        changes = [c for c in plan.changes if (c.kind, c.action) == (kind, action)]
        if changes:
            _WRITERS[kind](connection, action, changes, ids)
            if action == DirectoryAction.added and kind in ("company", "user", "project"):
                ids.refresh(kind)
    chain.lock(connection)  # before the time is taken: the chain's order is time's order
    now = stamp(connection)
    change_set = str(uuid.uuid4())
    connection.execute(
        s.directory_changes.insert(),
        [
            {
                "change_set": change_set,
                "recorded_at": now,
                "actor": actor,
                "source": plan.source,
                "erp_company": c.erp_company,
                "entry": c.entry,
                "kind": c.kind,
                "action": c.action,
                "before": c.before,
                "after": c.after,
                "security_event": c.security_event,
            }
            for c in plan.changes
        ],
    )
    recorded = sa.select(s.directory_changes.c.id).where(
        s.directory_changes.c.change_set == change_set
    )
    chain.append(connection, "directory_changes", connection.execute(recorded).scalars().all())


class _Ids:
    """Store ids by natural key, read again after rows are added."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        for kind in ("company", "user", "project"):
            self.refresh(kind)

    def refresh(self, kind: str) -> None:
        run = self.connection.execute
        if kind == "company":
            self.companies = dict(run(sa.select(s.companies.c.erp_company, s.companies.c.id)).all())
        elif kind == "user":
            self.users = dict(run(sa.select(s.users.c.login, s.users.c.id)).all())
        else:
            rows = run(
                sa.select(s.companies.c.erp_company, s.projects.c.number, s.projects.c.id).join(
                    s.companies
                )
            )
            self.projects = {(n, number): i for n, number, i in rows}


def _b(name: str) -> sa.BindParameter:
    return sa.bindparam(f"b_{name}")


def _companies(
    connection: sa.Connection, action: DirectoryAction, changes: list[Change], ids: _Ids
) -> None:
    t = s.companies
    if action == DirectoryAction.added:
        rows = [{"erp_company": c.key[0], "name": c.after["name"]} for c in changes]
        connection.execute(t.insert(), rows)
    elif action == DirectoryAction.changed:
        rows = [{"b_n": c.key[0], "b_name": c.after["name"]} for c in changes]
        connection.execute(
            t.update().where(t.c.erp_company == _b("n")).values(name=_b("name")), rows
        )
    else:
        connection.execute(t.delete().where(t.c.erp_company.in_([c.key[0] for c in changes])))


def _integrations(
    connection: sa.Connection, action: DirectoryAction, changes: list[Change], ids: _Ids
) -> None:
    t = s.erp_integrations
    rows = [
        {
            "b_company": ids.companies[c.key[0]],
            "b_erp": (c.after or {}).get("erp"),
            "b_configured": (c.after or {}).get("configured"),
        }
        for c in changes
    ]
    if action == DirectoryAction.added:
        values = [
            {"company_id": r["b_company"], "erp_type": r["b_erp"], "configured": r["b_configured"]}
            for r in rows
        ]
        connection.execute(t.insert(), values)
    elif action == DirectoryAction.changed:
        statement = (
            t.update()
            .where(t.c.company_id == _b("company"))
            .values(erp_type=_b("erp"), configured=_b("configured"))
        )
        connection.execute(statement, rows)
    else:
        connection.execute(t.delete().where(t.c.company_id.in_([r["b_company"] for r in rows])))


def _users(
    connection: sa.Connection, action: DirectoryAction, changes: list[Change], ids: _Ids
) -> None:
    t = s.users
    if action == DirectoryAction.added:
        connection.execute(
            t.insert(), [{"login": c.key[0], "name": c.after["name"]} for c in changes]
        )
    elif action == DirectoryAction.changed:
        rows = [{"b_login": c.key[0], "b_name": c.after["name"]} for c in changes]
        connection.execute(t.update().where(t.c.login == _b("login")).values(name=_b("name")), rows)
    else:
        connection.execute(t.delete().where(t.c.login.in_([c.key[0] for c in changes])))


def _emails(
    connection: sa.Connection, action: DirectoryAction, changes: list[Change], ids: _Ids
) -> None:
    """A user's address, set or changed (an address is never removed by leaving it out)."""
    t = s.users
    rows = [{"b_login": c.key[0], "b_email": c.after["email"]} for c in changes]
    connection.execute(t.update().where(t.c.login == _b("login")).values(email=_b("email")), rows)


def _projects(
    connection: sa.Connection, action: DirectoryAction, changes: list[Change], ids: _Ids
) -> None:
    t = s.projects
    if action == DirectoryAction.added:
        rows = [
            {"company_id": ids.companies[n], "number": number, "name": c.after["name"]}
            for c in changes
            for n, number in [c.key]
        ]
        connection.execute(t.insert(), rows)
    elif action == DirectoryAction.changed:
        rows = [{"b_id": ids.projects[c.key], "b_name": c.after["name"]} for c in changes]
        connection.execute(t.update().where(t.c.id == _b("id")).values(name=_b("name")), rows)
    else:
        connection.execute(t.delete().where(t.c.id.in_([ids.projects[c.key] for c in changes])))


def _jobs(
    connection: sa.Connection, action: DirectoryAction, changes: list[Change], ids: _Ids
) -> None:
    t = s.synced_jobs
    rows = [
        {
            "b_company": ids.companies[n],
            "b_job": job,
            "b_project": ids.projects[(n, c.after["project"])] if c.after else None,
        }
        for c in changes
        for n, job in [c.key]
    ]
    if action == DirectoryAction.added:
        values = [
            {"company_id": r["b_company"], "erp_job_no": r["b_job"], "project_id": r["b_project"]}
            for r in rows
        ]
        connection.execute(t.insert(), values)
        return
    found = (t.c.company_id == _b("company")) & (sa.func.trim(t.c.erp_job_no) == _b("job"))
    if action == DirectoryAction.changed:
        connection.execute(t.update().where(found).values(project_id=_b("project")), rows)
    else:
        connection.execute(
            t.delete().where(found), [{k: r[k] for k in ("b_company", "b_job")} for r in rows]
        )


def _permissions(
    connection: sa.Connection, action: DirectoryAction, changes: list[Change], ids: _Ids
) -> None:
    t = s.tool_permissions
    if action == DirectoryAction.added:
        rows = [
            {
                "user_id": ids.users[login],
                "company_id": ids.companies[n],
                "tool": tool,
                "project_id": _project_id(ids, n, project),
                "level": c.after["level"],
            }
            for c in changes
            for login, n, tool, project in [c.key]
        ]
        connection.execute(t.insert(), rows)
        return
    # A key may have several rows (written by hand): all of them change or go.
    for company_level in (True, False):
        rows = [
            {
                "b_user": ids.users[login],
                "b_company": ids.companies[n],
                "b_tool": tool,
                **({} if company_level else {"b_project": _project_id(ids, n, project)}),
                **({"b_level": c.after["level"]} if action == DirectoryAction.changed else {}),
            }
            for c in changes
            for login, n, tool, project in [c.key]
            if (_project_id(ids, n, project) is None) == company_level
        ]
        if not rows:
            continue
        found = (
            (t.c.user_id == _b("user"))
            & (t.c.company_id == _b("company"))
            & (t.c.tool == _b("tool"))
            & (t.c.project_id.is_(None) if company_level else t.c.project_id == _b("project"))
        )
        if action == DirectoryAction.changed:
            connection.execute(t.update().where(found).values(level=_b("level")), rows)
        else:
            connection.execute(t.delete().where(found), rows)


def _project_id(ids: _Ids, n: int, project: str) -> int | None:
    return None if project in (ALL_PROJECTS, COMPANY_LEVEL) else ids.projects[(n, project)]


_WRITERS = {
    "company": _companies,
    "integration": _integrations,
    "user": _users,
    "email": _emails,
    "project": _projects,
    "job": _jobs,
    "permission": _permissions,
}
