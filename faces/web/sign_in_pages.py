"""Signing in and out, and the way home."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contract_sync.store import identity
from contract_sync.store.identity import Event
from contract_sync.vocabulary import WebEvent
from contract_sync_faces.web.auth import sign_in
from contract_sync_faces.web.guard import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Refused,
    client,
    same_site_path,
)
from contract_sync_faces.web.site import Field, page, site_of

router = APIRouter()


def _form(
    next_page: str, token: str, status: int = 200, message: str | None = None, login: str = ""
) -> Response:
    return page(
        "sign_in.html.j2",
        status,
        person=None,
        next=same_site_path(next_page),
        message=message,
        csrf_token=token,
        login=login,
    )


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/") -> Response:  # noqa: A002
    site = site_of(request)
    if site.guard.person(request) is not None:
        return RedirectResponse(same_site_path(next), status_code=303)
    token = site.guard.sign_in_token(request)
    response = _form(next, token)
    site.guard.keep_sign_in_token(response, token)
    return response


@router.post("/sign-in")
def sign_in_submit(
    request: Request,
    login: Field = "",
    password: Field = "",
    csrf_token: Field = "",
    next: Field = "/",  # noqa: A002
) -> Response:
    site = site_of(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    try:
        site.guard.check_origin(request, login or "(none given)")
        if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
            why = "the sign-in form's security token is missing or wrong"
            raise Refused(403, why, login or "(none given)")
    except Refused as refusal:
        return site.refusal_page(request, refusal)
    done = sign_in(site.store, login.strip(), password, client(request), site.guard.lifetime)
    if done.token is None:
        return _form(next, expected, 429 if done.throttled else 401, done.refusal, login)
    if (old := request.cookies.get(SESSION_COOKIE)) and site.guard.person(request) is not None:
        event = Event(WebEvent.signed_out, login.strip(), client(request), "signed in again")
        identity.end_session(site.store, old, event)
    response = RedirectResponse(same_site_path(next), status_code=303)
    site.guard.open_session(response, done.token)
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Field = "") -> Response:
    site = site_of(request)
    try:
        person = site.guard.check_form(request, site.guard.person(request), csrf_token)
    except Refused as refusal:
        return site.refusal_page(request, refusal)
    event = Event(WebEvent.signed_out, person.login, client(request), "sign-out")
    identity.end_session(site.store, request.cookies[SESSION_COOKIE], event)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    site = site_of(request)
    person = site.signed_in(request)
    if isinstance(person, Response):
        return person
    companies = identity.companies_of(site.store, person.user_id)
    if not companies:
        refusal = Refused(403, "you have no rights in any company", person.login)
        return site.refusal_page(request, refusal)
    default = site.settings.company
    company = default if default in companies else next(iter(companies))
    return RedirectResponse(f"/companies/{company}/contracts", status_code=303)
