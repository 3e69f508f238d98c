"""Who a person is on the web pages: password hashes, sessions, and the web events of the
audit log (sign-ins, failures, refusals, runs started), chained like every audit record.

A session is known by the SHA-256 of its token: the cookie holds the token, the store only
its hash, so a copy of the store opens no session. Signed out, a session never opens again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync.store.writes import audit_transaction, now
from contract_sync.vocabulary import PermissionLevel, Tool, WebEvent


@dataclass(frozen=True)
class Person:
    """A signed-in user, as a request knows them."""

    user_id: int
    login: str
    name: str
    csrf_token: str


@dataclass(frozen=True)
class Event:
    event: WebEvent
    login: str
    client: str
    detail: str
    erp_company: int | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_of(connection: sa.Connection, login: str) -> sa.Row | None:
    """(id, login, name) of a store user; None for a login the store does not know."""
    u = s.users.c
    return connection.execute(
        sa.select(u.id, u.login, u.name).where(u.login == login)
    ).one_or_none()


def password_hash_of(engine: sa.Engine, login: str) -> tuple[int, str | None] | None:
    """(user id, password hash or None when none was set); None for an unknown login."""
    u, p = s.users.c, s.user_passwords.c
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(u.id, p.password_hash)
            .select_from(s.users.outerjoin(s.user_passwords, p.user_id == u.id))
            .where(u.login == login)
        ).one_or_none()
    return None if found is None else (found.id, found.password_hash)


def _record(connection: sa.Connection, event: Event) -> None:
    """One web event, chained (the caller holds an audit transaction)."""
    recorded = connection.execute(
        s.web_events.insert().returning(s.web_events.c.id),
        {
            "recorded_at": now(connection),
            "event": str(event.event),
            "login": event.login[:80],
            "client": event.client[:64],
            "erp_company": event.erp_company,
            "detail": event.detail[:400],
        },
    ).scalar_one()
    chain.append(connection, "web_events", [recorded])


def record(engine: sa.Engine, event: Event) -> None:
    with audit_transaction(engine) as connection:
        _record(connection, event)


def set_password_hash(engine: sa.Engine, user_id: int, password_hash: str, event: Event) -> None:
    """A user's new password hash; every session of theirs ends, and the change is audited."""
    with audit_transaction(engine) as connection:
        at = now(connection)
        p = s.user_passwords
        connection.execute(p.delete().where(p.c.user_id == user_id))
        connection.execute(
            p.insert(), {"user_id": user_id, "password_hash": password_hash, "set_at": at}
        )
        _end_sessions(connection, s.web_sessions.c.user_id == user_id, at)
        _record(connection, event)


def replace_hash(engine: sa.Engine, user_id: int, password_hash: str) -> None:
    """The same password, hashed again with today's parameters (argon2's rehash on sign-in)."""
    with engine.begin() as connection:
        connection.execute(
            s.user_passwords.update()
            .where(s.user_passwords.c.user_id == user_id)
            .values(password_hash=password_hash)
        )


@dataclass(frozen=True)
class Failures:
    """Failed sign-ins within a window: for this login from this client, for this login
    from anywhere, from this client for any login; and whether a throttled attempt of this
    login from this client was recorded in it already."""

    pair: int
    login: int
    client: int
    throttled_recorded: bool


def recent_failures(engine: sa.Engine, login: str, client: str, window: timedelta) -> Failures:
    """Failed sign-ins within `window` before now (the database's clock). Throttled attempts
    are not failures: a login opens again a window after the last password checked."""
    e = s.web_events.c

    def count(event: WebEvent, *where: sa.ColumnElement) -> sa.ScalarSelect:
        return (
            sa.select(sa.func.count())
            .where(e.event == event, e.recorded_at >= since, *where)
            .scalar_subquery()
        )

    with engine.connect() as connection:
        since = now(connection) - window
        found = connection.execute(
            sa.select(
                count(WebEvent.sign_in_failed, e.login == login, e.client == client),
                count(WebEvent.sign_in_failed, e.login == login),
                count(WebEvent.sign_in_failed, e.client == client),
                count(WebEvent.sign_in_throttled, e.login == login, e.client == client),
            )
        ).one()
    return Failures(*found[:3], throttled_recorded=found[3] > 0)


def start_session(engine: sa.Engine, user_id: int, lifetime: timedelta, event: Event) -> str:
    """A new session for the user (audited as `event`); returns its token, for the cookie."""
    token = secrets.token_urlsafe(32)
    with audit_transaction(engine) as connection:
        at = now(connection)
        connection.execute(
            s.web_sessions.insert(),
            {
                "token_hash": token_hash(token),
                "user_id": user_id,
                "csrf_token": secrets.token_urlsafe(32),
                "started_at": at,
                "expires_at": at + lifetime,
            },
        )
        _record(connection, event)
    return token


def person_of(engine: sa.Engine, token: str) -> Person | None:
    """The user of an open session (not signed out, not expired); None otherwise."""
    w, u = s.web_sessions.c, s.users.c
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(u.id, u.login, u.name, w.csrf_token, w.expires_at)
            .select_from(s.web_sessions.join(s.users, u.id == w.user_id))
            .where(w.token_hash == token_hash(token), w.ended_at.is_(None))
        ).one_or_none()
        if found is None or chain.utc(found.expires_at) <= now(connection):
            return None
    return Person(found.id, found.login, found.name, found.csrf_token)


def end_session(engine: sa.Engine, token: str, event: Event) -> None:
    with audit_transaction(engine) as connection:
        _end_sessions(connection, s.web_sessions.c.token_hash == token_hash(token), now(connection))
        _record(connection, event)


def _end_sessions(connection: sa.Connection, which: sa.ColumnElement, at: datetime) -> None:
    w = s.web_sessions
    connection.execute(w.update().where(which, w.c.ended_at.is_(None)).values(ended_at=at))


REQUEST_LIFETIME = timedelta(hours=1)  # a run request not acted for by then never is


@dataclass(frozen=True)
class RunAsked:
    """What a signed-in user asked for on the web pages."""

    login: str
    erp_company: int
    kind: str  # reimport / import
    contract_no: str


def request_run(engine: sa.Engine, asked: RunAsked) -> str:
    """Record a run request; its id, for the deployment run to carry."""
    request_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            s.run_requests.insert(),
            {"id": request_id, **asdict(asked), "requested_at": now(connection)},
        )
    return request_id


def attach_flow_run(engine: sa.Engine, request_id: str, flow_run_id: str) -> None:
    """The flow run started for a request: the one run that may act for it."""
    r = s.run_requests
    with engine.begin() as connection:
        connection.execute(r.update().where(r.c.id == request_id).values(flow_run_id=flow_run_id))


def request_of_run(engine: sa.Engine, flow_run_id: str) -> RunAsked | None:
    """What was asked for the flow run started from the web pages; None for another run."""
    r = s.run_requests.c
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(r.login, r.erp_company, r.kind, r.contract_no).where(
                r.flow_run_id == flow_run_id
            )
        ).one_or_none()
    return None if found is None else RunAsked(*found)


def claim_request(engine: sa.Engine, request_id: str, run_id: str, asked: RunAsked) -> str | None:
    """Let run `run_id` act for the request, once; None when it may, else why not. Only the
    flow run started for it may (before its id is attached, the first one to claim it),
    within REQUEST_LIFETIME."""
    r = s.run_requests
    with engine.begin() as connection:
        found = connection.execute(sa.select(r).where(r.c.id == request_id)).one_or_none()
        if found is None:
            return f"run request {request_id!r} does not exist"
        recorded = RunAsked(found.login, found.erp_company, found.kind, found.contract_no)
        if recorded != asked:
            return f"run request {request_id} asked for {recorded}, not {asked}"
        if found.flow_run_id not in (None, run_id):
            return f"run request {request_id} was made for flow run {found.flow_run_id}"
        if chain.utc(found.requested_at) < now(connection) - REQUEST_LIFETIME:
            return f"run request {request_id} has expired (made at {found.requested_at})"
        claimed = connection.execute(
            r.update()
            .where(r.c.id == request_id)
            .where((r.c.claimed_by_run.is_(None)) | (r.c.claimed_by_run == run_id))
            .values(claimed_by_run=run_id)
        ).rowcount
        if not claimed:
            by = connection.execute(sa.select(r.c.claimed_by_run).where(r.c.id == request_id))
            return f"run request {request_id} was used already, by run {by.scalar_one()}"
    return None


def company_names(engine: sa.Engine) -> dict[int, str]:
    """Every company of the directory: its ERP number and its name, in number order."""
    c = s.companies.c
    with engine.connect() as connection:
        return dict(
            connection.execute(sa.select(c.erp_company, c.name).order_by(c.erp_company)).all()
        )


def companies_of(engine: sa.Engine, user_id: int) -> dict[int, str]:
    """ERP company number -> name, for every company where the user holds a right."""
    p, c = s.tool_permissions.c, s.companies.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(c.erp_company, c.name)
            .distinct()
            .select_from(s.tool_permissions.join(s.companies, c.id == p.company_id))
            .where(p.user_id == user_id, p.level != PermissionLevel.none)
            .order_by(c.erp_company)
        )
        return {row.erp_company: row.name for row in rows}


def is_integrations_admin(engine: sa.Engine, user_id: int, erp_company: int) -> bool:
    """Admin on the company's ERP Integrations tool: who may read its sign-in log."""
    p, c = s.tool_permissions.c, s.companies.c
    with engine.connect() as connection:
        return (
            connection.execute(
                sa.select(sa.func.count())
                .select_from(s.tool_permissions.join(s.companies, c.id == p.company_id))
                .where(
                    p.user_id == user_id,
                    c.erp_company == erp_company,
                    p.tool == Tool.erp_integrations,
                    p.level == PermissionLevel.admin,
                )
            ).scalar_one()
            > 0
        )


def company_events(engine: sa.Engine, erp_company: int, limit: int = 50) -> list[sa.Row]:
    """The latest web events of a company: its own, and the sign-ins of its users."""
    e, p, c, u = s.web_events.c, s.tool_permissions.c, s.companies.c, s.users.c
    its_users = (
        sa.select(u.login)
        .select_from(
            s.users.join(s.tool_permissions, p.user_id == u.id).join(
                s.companies, c.id == p.company_id
            )
        )
        .where(c.erp_company == erp_company, p.level != PermissionLevel.none)
    )
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(s.web_events)
                .where(
                    (e.erp_company == erp_company)
                    | (e.erp_company.is_(None) & e.login.in_(its_users))
                )
                .order_by(e.id.desc())
                .limit(limit)
            )
        )
