"""What every page needs (the settings, the store, the guard, Prefect) and the ways a page
answers: rendered, refused, sent to sign in, or built for one company."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import jinja2
import sqlalchemy as sa
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contract_sync.errors import UserError
from contract_sync.settings import Settings
from contract_sync.store import identity
from contract_sync.store.identity import Person
from contract_sync_faces.web.guard import Guard, Refused, same_site_path
from contract_sync_faces.web.prefect_api import PrefectRuns

TEMPLATES = Path(__file__).resolve().parent / "templates"
Field = Annotated[str, Form()]  # a field of a posted form
Build = Callable[[Person, dict[int, str]], Response]  # (person, their companies) -> page


@lru_cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(template: str, status: int = 200, **values: object) -> HTMLResponse:
    html = _templates().get_template(template).render(**values)
    return HTMLResponse(html, status_code=status)


def here(request: Request) -> str:
    """This request's path and query, relative (never built from its Host header)."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


@dataclass(frozen=True)
class Site:
    settings: Settings
    store: sa.Engine
    guard: Guard
    prefect: PrefectRuns

    def refusal_page(
        self, request: Request, refusal: Refused, company: int | None = None
    ) -> Response:
        person = self.guard.person(request)
        self.guard.refused(request, refusal, company, signed_in=person is not None)
        return page(
            "message.html.j2",
            refusal.status,
            person=person,
            title="Refused",
            message=refusal.message,
            company=company,
        )

    def signed_in(self, request: Request) -> Person | Response:
        """The page's person; else the way to sign in (a proxy's user is signed in here)."""
        person = self.guard.person(request)
        if person is not None and self.guard.proxy_user(request) in (None, person.login):
            return person
        try:
            token = self.guard.proxy_session(request)
        except Refused as refusal:
            return self.refusal_page(request, refusal)
        if token is None:
            target = quote(same_site_path(here(request)), safe="")
            return RedirectResponse(f"/sign-in?next={target}", status_code=303)
        response = RedirectResponse(here(request), status_code=303)
        self.guard.open_session(response, token)
        return response

    def companies_of(self, person: Person, company: int) -> dict[int, str]:
        """The person's companies; refused when `company` is not one of them."""
        companies = identity.companies_of(self.store, person.user_id)
        if company not in companies:
            raise Refused(403, f"you have no rights in company {company}", person.login)
        return companies

    def company_page(self, request: Request, company: int, build: Build) -> Response:
        """A page of one company, for a signed-in person with rights in it."""
        person = self.signed_in(request)
        if isinstance(person, Response):
            return person
        try:
            return build(person, self.companies_of(person, company))
        except Refused as refusal:
            return self.refusal_page(request, refusal, company)
        except UserError as error:
            return page(
                "message.html.j2",
                400,
                person=person,
                title="Cannot show this page",
                message=str(error),
                company=company,
            )


def site_of(request: Request) -> Site:
    return request.app.state.site


def common(person: Person, companies: dict[int, str], company: int) -> dict:
    """What every company page shows: who, which company, their other companies."""
    return {
        "person": person,
        "companies": companies,
        "company": company,
        "company_name": companies[company],
    }
