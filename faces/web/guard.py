"""Who a request comes from, and whether its form may act: the session cookie, the CSRF
token of every form, the Origin of every POST, and a trusted proxy's user header."""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response

from contract_sync.settings import Settings
from contract_sync.store import identity
from contract_sync.store.identity import Event, Person
from contract_sync.vocabulary import WebEvent
from contract_sync_faces.web.auth import sign_in_by_proxy

log = logging.getLogger(__name__)
SESSION_COOKIE = "contract_sync_session"
SIGN_IN_COOKIE = "contract_sync_sign_in"  # the sign-in form's CSRF token, before a session
NO_SESSION = "(no session)"  # the login recorded for a refusal to someone not signed in


class Refused(Exception):
    """A request refused: the page says `message` with `status`; recorded as a web event
    when the person is signed in (Guard.refused)."""

    def __init__(
        self, status: int, message: str, login: str = NO_SESSION, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.login = status, message, login
        self.detail = detail or message  # what the audit log records (codes, not words)


@dataclass(frozen=True)
class Guard:
    settings: Settings
    store: sa.Engine

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.web_session_hours)

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.settings.web_secure_cookies,
            httponly=True,
            samesite="strict",
        )

    def open_session(self, response: Response, token: str) -> None:
        self.set_cookie(response, SESSION_COOKIE, token, int(self.lifetime.total_seconds()))
        response.delete_cookie(SIGN_IN_COOKIE, path="/")

    @staticmethod
    def sign_in_token(request: Request) -> str:
        """The sign-in form's CSRF token: the one of its cookie, or a new one."""
        return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)

    def keep_sign_in_token(self, response: Response, token: str) -> None:
        self.set_cookie(response, SIGN_IN_COOKIE, token, 3600)

    def person(self, request: Request) -> Person | None:
        """The request's signed-in person, looked up once per request."""
        if not hasattr(request.state, "person"):
            token = request.cookies.get(SESSION_COOKIE)
            request.state.person = identity.person_of(self.store, token) if token else None
        return request.state.person

    def proxy_user(self, request: Request) -> str | None:
        """The login a trusted reverse proxy names in its header; None when not configured,
        not sent, or sent by a client that is not a trusted proxy."""
        header = self.settings.web_user_header
        if not header or client(request) not in self.trusted_proxies:
            return None
        return request.headers.get(header) or None

    @property
    def trusted_proxies(self) -> set[str]:
        return {a.strip() for a in self.settings.web_trusted_proxies.split(",") if a.strip()}

    def proxy_session(self, request: Request) -> str | None:
        """A new session's token for the trusted proxy's user; refused if no such user."""
        login = self.proxy_user(request)
        if login is None:
            return None
        done = sign_in_by_proxy(self.store, login, client(request), self.lifetime)
        if done.token is None:
            raise Refused(403, done.refusal or "unknown user", login)
        return done.token

    @staticmethod
    def check_origin(request: Request, login: str = NO_SESSION) -> None:
        """A POST from a page of another site is refused (browsers send Origin on POST)."""
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            raise Refused(403, f"a form sent from {origin} is refused", login)

    def check_form(self, request: Request, person: Person | None, csrf_token: str) -> Person:
        """The signed-in person of a form that may act: a session, its own site, and its
        CSRF token."""
        self.check_origin(request, person.login if person else NO_SESSION)
        if person is None:
            raise Refused(401, "you are not signed in (or you signed out): sign in again")
        if not hmac.compare_digest(csrf_token.encode(), person.csrf_token.encode()):
            raise Refused(403, "the form's security token is missing or wrong", person.login)
        if self.proxy_user(request) not in (None, person.login):
            raise Refused(403, "the proxy names another user than this session's", person.login)
        return person

    def refused(
        self, request: Request, refusal: Refused, erp_company: int | None, signed_in: bool
    ) -> None:
        """A refusal to a signed-in person goes to the audit log; one to anyone else to the
        server's log only (the chained log would grow without bound by anyone's hand)."""
        detail = f"{request.method} {request.url.path}: {refusal.detail}"
        if not signed_in:
            log.warning("refused %s from %s: %s", refusal.login, client(request), detail)
            return
        event = Event(WebEvent.refused, refusal.login, client(request), detail, erp_company)
        identity.record(self.store, event)


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def same_site_path(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never //host or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
