"""A Procore simulator: TEST EQUIPMENT, not Procore and not part of contract-sync's product.

A real HTTP server (FastAPI, served by uvicorn: `serve(sim)` in tests, `make procore-sim` for
a person) that answers like Procore's public REST API for the calls an ERP re-import of prime
contracts makes, following Procore's public reference:

- developer documentation (github.com/procore/documentation, published at
  https://developers.procore.com/documentation/...): rate limiting, pagination, filtering on
  list actions, sync actions, the client-credentials grant, the error reference;
- the REST reference (https://developers.procore.com/reference/rest/...) as Procore's
  generated OpenAPI clients carry it (github.com/weigandconstruction/procore_python_sdk docs/,
  hexdocs.pm/procore_sdk).

Endpoints (each cites its reference in app.py):

- POST /oauth/token (client credentials; tokens expire after 5400 s; 401 past that);
- GET /rest/v1.0/companies; GET /rest/v1.0/projects and /rest/v1.1/projects?company_id=
  (origin_id, origin_code, origin_data: the ERP job link);
- GET /rest/v1.0/prime_contracts?project_id= (the list: plural), GET / POST / PATCH
  /rest/v1.0/prime_contract[/{id}] (show, create, update: singular);
- GET /rest/v1.0/prime_contracts/{id}/line_items, PATCH .../line_items/sync (upsert by id or
  origin_id, at most 1,000 records: 413 past that; 200 with `entities` and per-record
  `errors`; a line item's origin_id unique in the company);
- GET /rest/v1.0/projects/{project_id}/prime_change_orders;

with what every call goes through: the Procore-Company-Id header, pagination (page, per_page
up to 10,000; Total, Per-Page, Link), filters[id] and filters[updated_at]=FROM...TO, and the
hourly budget (X-Rate-Limit-Limit / -Remaining / -Reset on every authenticated answer; 429
with Procore's body text and Retry-After past it).

Faults a test injects (from Python through `ProcoreSimulator`, or over HTTP through the
simulator's own control API under /_sim, which is not Procore's): a 429 or a 5xx (503 with
Retry-After) at a chosen call number, path or nth call of a path; a delayed answer (a
timeout); every token expiring now; a per-record error in the sync for a chosen origin_id; a
person editing a line item (a field and its updated_at) between two calls; a prime contract
attached to a second project; and a request counter per endpoint.

State is in memory (plain Python), seeded from fixture.json (companies, OAuth clients, users,
projects with origin ids, cost codes) or another fixture, and reset with `reset()`.
"""

from .server import serve
from .simulator import ProcoreSimulator

__all__ = ["ProcoreSimulator", "serve"]
