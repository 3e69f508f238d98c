"""The plan: what applying a directory file changes in the store, entry by entry.

`read_snapshot` reads the directory rows the store holds now (a fixed number of queries);
`make_plan` is a pure diff of the parsed file against that snapshot. Entries are matched on
their natural keys (ERP company number, project number, job code, login), never on ids.
A field an entry leaves out stays as the store holds it; removing what the store does not
hold is an error naming it, unless the change log shows it removed by an earlier apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from contract_sync.columns import normal_text
from contract_sync.directory.model import ALL_PROJECTS, REMOVE, CompanyEntry
from contract_sync.directory.parse import DirectoryError, Location, ParsedDirectory
from contract_sync.store import schema as s
from contract_sync.vocabulary import PERMISSION_LEVELS, DirectoryAction, Tool

COMPANY_LEVEL = ""  # the project part of a company-level permission's key

# A permission's natural key: login, ERP company, tool, project number ("*" for every
# project, COMPANY_LEVEL for a company-level tool).
PermissionKey = tuple[str, int, str, str]


@dataclass(frozen=True)
class Snapshot:
    """The directory rows of the store, by natural key (dicts keep the rows' id order)."""

    companies: dict[int, str] = field(default_factory=dict)  # erp_company -> name
    integrations: dict[int, tuple[str, bool]] = field(default_factory=dict)  # type, configured
    projects: dict[tuple[int, str], str] = field(default_factory=dict)  # (company, number) -> name
    jobs: dict[tuple[int, str], str] = field(default_factory=dict)  # (company, job) -> project
    users: dict[str, str] = field(default_factory=dict)  # login -> name
    emails: dict[str, str] = field(default_factory=dict)  # login -> address, where one is set
    permissions: dict[PermissionKey, list[str]] = field(default_factory=dict)  # -> row levels
    contracts: dict[tuple[int, str], int] = field(default_factory=dict)  # per project
    company_history: dict[int, str] = field(default_factory=dict)  # what keeps a company
    removed: frozenset[str] = frozenset()  # entries the change log records as removed


def read_snapshot(connection: sa.Connection) -> Snapshot:
    companies = {
        r.id: (r.erp_company, r.name)
        for r in connection.execute(sa.select(s.companies).order_by(s.companies.c.id))
    }
    erp = {company_id: number for company_id, (number, _) in companies.items()}
    projects = {
        r.id: (erp[r.company_id], r.number, r.name)
        for r in connection.execute(sa.select(s.projects).order_by(s.projects.c.id))
    }
    user_rows = connection.execute(sa.select(s.users).order_by(s.users.c.id)).all()
    users = {r.id: (r.login, r.name) for r in user_rows}
    permissions: dict[PermissionKey, list[str]] = {}
    for r in connection.execute(sa.select(s.tool_permissions).order_by(s.tool_permissions.c.id)):
        if r.project_id is None:
            where = ALL_PROJECTS if r.tool == Tool.main_contracts else COMPANY_LEVEL
        else:
            where = projects[r.project_id][1]
        key = (users[r.user_id][0], erp[r.company_id], r.tool, where)
        permissions.setdefault(key, []).append(r.level)
    contracts = connection.execute(
        sa.select(s.main_contracts.c.project_id, sa.func.count()).group_by(
            s.main_contracts.c.project_id
        )
    )
    history: dict[int, list[str]] = {}
    for table, what in ((s.main_contracts, "main contract"), (s.sync_runs, "sync run")):
        counted = connection.execute(
            sa.select(table.c.company_id, sa.func.count())
            .where(table.c.company_id.is_not(None))
            .group_by(table.c.company_id)
        )
        for company_id, n in counted:
            history.setdefault(erp[company_id], []).append(f"{n} {what}" + "s" * (n != 1))
    return Snapshot(
        companies=dict(companies.values()),
        integrations={
            erp[r.company_id]: (r.erp_type, r.configured)
            for r in connection.execute(sa.select(s.erp_integrations))
        },
        projects={(c, number): name for c, number, name in projects.values()},
        jobs={
            (erp[r.company_id], normal_text(r.erp_job_no)): projects[r.project_id][1]
            for r in connection.execute(sa.select(s.synced_jobs).order_by(s.synced_jobs.c.id))
        },
        users=dict(users.values()),
        emails={r.login: r.email for r in user_rows if r.email is not None},
        permissions=permissions,
        contracts={projects[p][:2]: n for p, n in contracts},
        company_history={c: " and ".join(what) for c, what in history.items()},
        removed=frozenset(
            connection.execute(
                sa.select(s.directory_changes.c.entry)
                .where(s.directory_changes.c.action == DirectoryAction.removed)
                .distinct()
            ).scalars()
        ),
    )


@dataclass(frozen=True)
class Change:
    """One row the apply adds, changes or removes, named as people name it."""

    action: DirectoryAction
    kind: str  # company, integration, project, job, user, permission
    entry: str  # company 1 / user jdoe / main_contracts 1001-001
    erp_company: int | None
    key: tuple  # the natural key the apply finds the row by
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str = ""

    @property
    def security_event(self) -> bool:
        return self.kind == "permission"

    def describe(self) -> str:
        if self.action == DirectoryAction.added:
            what = _values(self.after)
        elif self.action == DirectoryAction.changed:
            what = ", ".join(
                f"{k} {_value(self.before.get(k))} -> {_value(v)}"
                for k, v in self.after.items()
                if self.before.get(k) != v
            )
        else:
            what = f"was {_values(self.before)}"
        note = f" ({self.note})" if self.note else ""
        return f"{self.action:<8} {self.entry}: {what}{note}"


def _values(values: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {_value(v)}" for k, v in (values or {}).items())


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Plan:
    source: str
    changes: list[Change]

    def count(self, action: DirectoryAction) -> int:
        return sum(c.action == action for c in self.changes)

    @property
    def summary(self) -> str:
        if not self.changes:
            return "no change"
        return ", ".join(f"{self.count(a)} {a}" for a in DirectoryAction)

    def lines(self) -> list[str]:
        return [c.describe() for c in self.changes]


def make_plan(parsed: ParsedDirectory, snapshot: Snapshot) -> Plan:
    """The changes that bring the store to what the file says (pure: no database)."""
    planner = _Planner(parsed, snapshot)
    for c, company in enumerate(parsed.model.companies):
        planner.company(("companies", c), company)
    planner.users_left()
    if planner.found:
        raise DirectoryError(parsed.source.problems(planner.found))
    return Plan(parsed.source.name, planner.changes)


class _Planner:
    def __init__(self, parsed: ParsedDirectory, snapshot: Snapshot) -> None:
        self.parsed = parsed
        self.store = snapshot
        self.changes: list[Change] = []
        self.found: list[tuple[Location, str]] = []
        self.users_seen: set[str] = set()
        self.users_kept: set[str] = set()  # listed without remove: true somewhere
        self.users_removed: set[str] = set()
        self.permissions_after = {k: list(v) for k, v in snapshot.permissions.items()}
        listed = [u for c in parsed.model.companies for u in c.users if not u.remove]
        self.user_names = {u.login: u.name for u in reversed(listed) if u.name is not None}
        self.user_emails = {u.login: u.email for u in reversed(listed) if u.email is not None}
        self.logins_listed = {u.login for u in listed}

    def change(
        self,
        action: DirectoryAction,
        kind: str,
        entry: str,
        company: int | None,
        key: tuple,
        before: dict | None,
        after: dict | None,
        note: str = "",
    ) -> None:
        self.changes.append(Change(action, kind, entry, company, key, before, after, note))
        if kind == "permission":
            if action == DirectoryAction.removed:
                self.permissions_after.pop(key, None)
            else:
                self.permissions_after[key] = [after["level"]]

    def diff(
        self,
        kind: str,
        entry: str,
        company: int | None,
        key: tuple,
        before: dict | None,
        after: dict,
    ) -> None:
        if before is None:
            self.change(DirectoryAction.added, kind, entry, company, key, None, after)
        elif before != after:
            self.change(DirectoryAction.changed, kind, entry, company, key, before, after)

    def named(
        self,
        at: Location,
        kind: str,
        entry: str,
        company: int | None,
        key: tuple,
        names: tuple[str | None, str | None],
    ) -> None:
        """An entry's name, (before, given): written when given, kept when left out; a new
        entry needs one."""
        before, given = names
        if given is not None:
            old = None if before is None else {"name": before}
            self.diff(kind, entry, company, key, old, {"name": given})
        elif before is None:
            self.found.append((at, f"name is required: {entry} is not in the store yet"))

    def nothing_to_remove(self, at: Location, entry: str, what: str) -> None:
        """A removal of what the store does not hold: an error naming it (a typo goes
        unnoticed otherwise), unless the change log shows it removed by an earlier apply
        (then applying the same file again changes nothing)."""
        if entry not in self.store.removed:
            self.found.append((at, f"{what}: nothing to remove"))

    def company(self, at: Location, entry: CompanyEntry) -> None:
        n = entry.erp_company
        name = f"company {n}"
        if entry.remove:
            self.remove_company(at, n)
            return
        self.named(at, "company", name, n, (n,), (self.store.companies.get(n), entry.name))
        if entry.erp is not None or entry.integration_configured is not None:
            self.integration(at, entry)
        removed = {p.number for p in entry.projects if p.remove}
        for p, project in enumerate(entry.projects):
            project_at = (*at, "projects", p)
            if project.remove:
                self.remove_project(project_at, n, project.number)
                continue
            key = (n, project.number)
            names = (self.store.projects.get(key), project.name)
            self.named(project_at, "project", f"{name} / project {project.number}", n, key, names)
        self.jobs(at, entry, removed)
        known = {p.number for p in entry.projects} | {
            number for c, number in self.store.projects if c == n
        }
        for u, user in enumerate(entry.users):
            user_at = (*at, "users", u)
            if user.remove:
                self.remove_user(user_at, n, user.login)
                continue
            self.user(user_at, user.login, user.name)
            if user.erp_integrations is not None:
                key = (user.login, n, Tool.erp_integrations, COMPANY_LEVEL)
                self.permission((*user_at, "erp_integrations"), key, user.erp_integrations)
            for project, level in user.main_contracts.items():
                level_at = (*user_at, "main_contracts", project)
                if project != ALL_PROJECTS and (project not in known or project in removed):
                    if project in removed and level == REMOVE:
                        continue  # its permissions go with the project
                    self.found.append((level_at, _unknown(project, n, removed)))
                    continue
                self.permission(level_at, (user.login, n, Tool.main_contracts, project), level)

    def integration(self, at: Location, entry: CompanyEntry) -> None:
        """The company's ERP integration: a field left out stays as it is; a new one needs
        both."""
        n = entry.erp_company
        before = _integration(self.store.integrations.get(n))
        given = {"erp": entry.erp, "configured": entry.integration_configured}
        if before is None and None in given.values():
            self.found.append(
                (
                    at,
                    f"company {n} has no ERP integration in the store yet: give erp and "
                    "integration_configured both",
                )
            )
            return
        after = {k: before[k] if v is None else v for k, v in given.items()}
        self.diff("integration", f"company {n} / erp integration", n, (n,), before, after)

    def remove_user(self, at: Location, n: int, login: str) -> None:
        """The user's permissions in this company go; the login too if it holds none left."""
        if login not in self.store.users and login not in self.logins_listed:
            self.nothing_to_remove(at, f"user {login}", f"user {login} is not in the store")
        self.users_removed.add(login)
        for key, levels in list(self.permissions_after.items()):
            if key[:2] == (login, n):
                self.remove_permission(key, levels, "user removed from the company")

    def remove_job(self, n: int, job: str, project: str, note: str) -> None:
        """Unlink a job from its project, saying why (the note)."""
        self.change(
            DirectoryAction.removed, "job", f"company {n} / job {job}", n, (n, job),
            {"project": project}, None, note,
        )  # fmt: skip

    def jobs(self, at: Location, entry: CompanyEntry, removed: set[str]) -> None:
        """Job links: those listed are linked (moved if linked elsewhere); a link goes when
        its project's remove_jobs names it or its project is removed, and no project lists it."""
        n = entry.erp_company
        listed = {job: p.number for p in entry.projects if not p.remove for job in p.jobs}
        unlinked = {(job, p.number) for p in entry.projects for job in p.remove_jobs}
        now = {job: project for (c, job), project in self.store.jobs.items() if c == n}
        for p, project in enumerate(entry.projects):
            for j, job in enumerate(project.remove_jobs):
                if now.get(job) != project.number:
                    where = (*at, "projects", p, "remove_jobs", j)
                    linked = f"; it is linked to project {now[job]}" if job in now else ""
                    what = f"job {job} is not linked to project {project.number}{linked}"
                    self.nothing_to_remove(where, f"company {n} / job {job}", what)
        for job, project in now.items():
            if job in listed:
                continue
            if project in removed or (job, project) in unlinked:
                note = "project removed" if project in removed else "remove_jobs"
                self.remove_job(n, job, project, note)
        for job, project in listed.items():
            before = now.get(job)
            self.diff(
                "job",
                f"company {n} / job {job}",
                n,
                (n, job),
                None if before is None else {"project": before},
                {"project": project},
            )

    def user(self, at: Location, login: str, name: str | None) -> None:
        """A login (global): its name as the file gives it under any company, else kept."""
        self.users_kept.add(login)
        if login in self.users_seen:
            return
        self.users_seen.add(login)
        names = (self.store.users.get(login), name or self.user_names.get(login))
        self.named(at, "user", f"user {login}", None, (login,), names)
        if (email := self.user_emails.get(login)) is not None:
            before = self.store.emails.get(login)
            old = None if before is None else {"email": before}
            self.diff("email", f"user {login} email", None, (login,), old, {"email": email})

    def permission(self, at: Location, key: PermissionKey, level: str) -> None:
        before = self.permissions_after.get(key)
        if level == REMOVE:
            if before is not None:
                self.remove_permission(key, before)
            else:
                self.nothing_to_remove(at, _permission_entry(key), _no_permission(key))
            return
        if before is not None and set(before) == {level}:
            return  # rows written twice by hand, at the same level, are left as they are
        self.change(
            DirectoryAction.added if before is None else DirectoryAction.changed,
            "permission",
            _permission_entry(key),
            key[1],
            key,
            None if before is None else _levels(before),
            {"level": level},
        )

    def remove_permission(self, key: PermissionKey, levels: list[str], note: str = "") -> None:
        self.change(
            DirectoryAction.removed,
            "permission",
            _permission_entry(key),
            key[1],
            key,
            _levels(levels),
            None,
            note,
        )

    def remove_project(self, at: Location, n: int, number: str) -> None:
        key = (n, number)
        if key not in self.store.projects:
            what = f"project {number} is not in company {n}"
            self.nothing_to_remove(at, f"company {n} / project {number}", what)
            return
        contracts = self.store.contracts.get(key, 0)
        if contracts:
            held = f"{contracts} main contract" + ("s" if contracts > 1 else "")
            them = "them" if contracts > 1 else "it"
            self.found.append(
                (
                    at,
                    f"cannot remove project {number}: it holds {held} (move or delete {them} "
                    "in the project store first)",
                )
            )
            return
        for permission, levels in list(self.permissions_after.items()):
            if permission[1:] == (n, Tool.main_contracts, number):
                self.remove_permission(permission, levels, "project removed")
        self.change(
            DirectoryAction.removed,
            "project",
            f"company {n} / project {number}",
            n,
            key,
            {"name": self.store.projects[key]},
            None,
        )

    def remove_company(self, at: Location, n: int) -> None:
        if n not in self.store.companies:
            self.nothing_to_remove(at, f"company {n}", f"company {n} is not in the store")
            return
        history = self.store.company_history.get(n)
        if history:
            self.found.append(
                (
                    at,
                    f"cannot remove company {n}: it holds {history} (the audit log refers to it)",
                )
            )
            return
        note = "company removed"
        for key, levels in list(self.permissions_after.items()):
            if key[1] == n:
                self.remove_permission(key, levels, note)
        for (c, job), project in self.store.jobs.items():
            if c == n:
                self.remove_job(n, job, project, note)
        for (c, number), name in self.store.projects.items():
            if c == n:
                self.change(
                    DirectoryAction.removed,
                    "project",
                    f"company {n} / project {number}",
                    n,
                    (n, number),
                    {"name": name},
                    None,
                    note,
                )
        if n in self.store.integrations:
            erp_type, configured = self.store.integrations[n]
            self.change(
                DirectoryAction.removed,
                "integration",
                f"company {n} / erp integration",
                n,
                (n,),
                {"erp": erp_type, "configured": configured},
                None,
                note,
            )
        self.change(
            DirectoryAction.removed,
            "company",
            f"company {n}",
            n,
            (n,),
            {"name": self.store.companies[n]},
            None,
        )

    def users_left(self) -> None:
        """A login goes when an entry removes it and it then holds no permission anywhere."""
        holding = {key[0] for key in self.permissions_after}
        for login in sorted(self.users_removed - self.users_kept - holding):
            if login in self.store.users:
                self.change(
                    DirectoryAction.removed,
                    "user",
                    f"user {login}",
                    None,
                    (login,),
                    {"name": self.store.users[login]},
                    None,
                    "no permission left in any company",
                )


def _unknown(project: str, n: int, removed: Iterable[str]) -> str:
    if project in removed:
        return f"project {project} is removed by this file"
    return (
        f"unknown project {project!r}: company {n} has no such project in this file or the "
        f"store (use {ALL_PROJECTS!r} for every project)"
    )


def _no_permission(key: PermissionKey) -> str:
    login, n, tool, project = key
    if project == COMPANY_LEVEL:
        return f"user {login} holds no {tool} permission in company {n}"
    on = "every project (*)" if project == ALL_PROJECTS else f"project {project}"
    return f"user {login} holds no {tool} permission on {on} in company {n}"


def _permission_entry(key: PermissionKey) -> str:
    login, n, tool, project = key
    return f"company {n} / user {login} / {tool}" + (f" {project}" if project else "")


def _levels(levels: list[str]) -> dict[str, Any]:
    if len(levels) == 1:
        return {"level": levels[0]}
    return {"level": sorted(levels, key=PERMISSION_LEVELS.index)}


def _integration(row: tuple[str, bool] | None) -> dict[str, Any] | None:
    return None if row is None else {"erp": row[0], "configured": row[1]}
