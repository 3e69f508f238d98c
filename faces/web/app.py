"""The web application: pages rendered on the server, no scripts, no external assets.

Every page needs a signed-in store user; every form carries its session's CSRF token; a
Re-Import or Import click checks the gates for that user, then starts a run of the matching
deployment with `requested_by` set to them (never read from the request). The pages live in
sign_in_pages, contract_pages, audit_pages and undo_pages; what they share, in site.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import Response

from contract_sync.settings import Settings
from contract_sync.store.db import open_store
from contract_sync_faces.web import audit_pages, contract_pages, sign_in_pages, undo_pages
from contract_sync_faces.web.guard import Guard
from contract_sync_faces.web.prefect_api import PrefectRuns
from contract_sync_faces.web.site import Site, page

log = logging.getLogger(__name__)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings, prefect: PrefectRuns) -> FastAPI:
    store = open_store(settings)
    app = FastAPI(title="contract-sync", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.site = Site(settings, store, Guard(settings, store), prefect)
    for pages in (sign_in_pages, contract_pages, audit_pages, undo_pages):
        app.include_router(pages.router)

    @app.exception_handler(sa.exc.OperationalError)
    def store_unavailable(request: Request, error: sa.exc.OperationalError) -> Response:
        log.error("store unavailable on %s %s: %s", request.method, request.url.path, error)
        message = "The project store is busy or cannot be reached: try again in a moment."
        return page(
            "message.html.j2", 503, person=None, title="Try again", message=message, company=None
        )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return app
