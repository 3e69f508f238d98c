"""Passwords and sign-in: argon2id hashes, and throttling of failed sign-ins.

A wrong login and a wrong password are one answer, and take the same time (an unknown login
is checked against a hash of its own), so the page does not tell which logins exist.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from contract_sync.errors import UserError
from contract_sync.store import identity
from contract_sync.store.identity import Event
from contract_sync.vocabulary import WebEvent

HASHER = PasswordHasher()  # argon2id with the library's current parameters
MIN_PASSWORD_LENGTH = 12
# Failed sign-ins within THROTTLE_WINDOW before further ones are refused unread: for one
# login from one address, for one login from anywhere (guesses spread over addresses), and
# from one address for any login (many people may share it behind a proxy).
THROTTLE_WINDOW = timedelta(minutes=15)
FAILURES_PER_LOGIN_AND_CLIENT = 5
FAILURES_PER_LOGIN = 50
FAILURES_PER_CLIENT = 100
# One sign-in checked at a time in this process: counting the failures, checking the
# password and recording the answer are one step, so parallel guesses cannot all pass.
_ONE_AT_A_TIME = threading.Lock()
WRONG = "Wrong login or password."


class WeakPassword(UserError, ValueError):
    """A password too short to set."""


class UnknownLogin(UserError, LookupError):
    """A login the project store does not know."""


@lru_cache
def _no_user_hash() -> str:
    return HASHER.hash("contract-sync: a login that is no user's")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return HASHER.hash(password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(engine: sa.Engine, login: str, password: str, by: str) -> None:
    """Set a store user's password (their open sessions end); audited as set `by`."""
    found = identity.password_hash_of(engine, login)
    if found is None:
        raise UnknownLogin(f"{login!r} is not a user of the project store")
    event = Event(WebEvent.password_set, login, "cli", f"set by {by}")
    identity.set_password_hash(engine, found[0], hash_password(password), event)


@dataclass(frozen=True)
class SignIn:
    """A sign-in's answer: the session token, or why there is none."""

    token: str | None
    refusal: str | None = None
    throttled: bool = False


def _throttled(failures: identity.Failures) -> bool:
    return (
        failures.pair >= FAILURES_PER_LOGIN_AND_CLIENT
        or failures.login >= FAILURES_PER_LOGIN
        or failures.client >= FAILURES_PER_CLIENT
    )


def sign_in(
    engine: sa.Engine, login: str, password: str, client: str, lifetime: timedelta
) -> SignIn:
    """Check a login and password; a session when they match. Every checked attempt is
    audited; a throttled one once per window (for its login and address)."""
    with _ONE_AT_A_TIME:
        failures = identity.recent_failures(engine, login, client, THROTTLE_WINDOW)
        if _throttled(failures):
            if not failures.throttled_recorded:
                why = "too many failed sign-ins: refused unread until the window has passed"
                identity.record(engine, Event(WebEvent.sign_in_throttled, login, client, why))
            minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
            message = f"Too many failed sign-ins: try again in {minutes} minutes."
            return SignIn(None, message, throttled=True)
        return _check(engine, login, password, client, lifetime)


def _check(
    engine: sa.Engine, login: str, password: str, client: str, lifetime: timedelta
) -> SignIn:
    found = identity.password_hash_of(engine, login)
    stored = found[1] if found is not None else None
    matches = _matches(stored or _no_user_hash(), password)  # as long, user or not
    if stored is None or not matches:
        detail = (
            "no such user"
            if found is None
            else "no password set"
            if stored is None
            else "wrong password"
        )
        identity.record(engine, Event(WebEvent.sign_in_failed, login, client, detail))
        return SignIn(None, WRONG)
    if HASHER.check_needs_rehash(stored):
        identity.replace_hash(engine, found[0], HASHER.hash(password))
    event = Event(WebEvent.signed_in, login, client, "password")
    return SignIn(identity.start_session(engine, found[0], lifetime, event))


def sign_in_by_proxy(engine: sa.Engine, login: str, client: str, lifetime: timedelta) -> SignIn:
    """A session for the user a trusted reverse proxy vouches for (single sign-on)."""
    with engine.connect() as connection:
        user = identity.user_of(connection, login)
    if user is None:
        identity.record(
            engine, Event(WebEvent.sign_in_failed, login, client, "proxy: no such user")
        )
        return SignIn(None, f"{login!r} is not a user of the project store.")
    event = Event(WebEvent.signed_in, login, client, "reverse proxy header")
    return SignIn(identity.start_session(engine, user.id, lifetime, event))
