"""Fixtures: real databases (SQLite always, PostgreSQL when a URL is given) and Prefect.

Set CONTRACT_SYNC_TEST_POSTGRES_URL (a superuser URL, e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) to run the store tests on
PostgreSQL too; each test then gets databases of its own.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

# Prefect's home for the test session, set before anything imports Prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="contract-sync-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import pytest
import sqlalchemy as sa

from contract_sync.demo.seed import seed
from contract_sync.settings import get_settings
from contract_sync.store.db import make_engine, upgrade

POSTGRES_URL = os.environ.get("CONTRACT_SYNC_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path) -> Iterator:
    """A factory of fresh, empty databases on the backend under test."""
    created: list[str] = []

    def make(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'{name}.sqlite'}"
        database = f"cs_test_{name}_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        created.append(database)
        return (
            sa.engine.make_url(POSTGRES_URL)
            .set(database=database)
            .render_as_string(hide_password=False)
        )

    yield make
    if created:
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for database in created:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Sides:
    erp: sa.Engine
    store: sa.Engine
    erp_url: str
    store_url: str


@pytest.fixture
def empty_sides(database_url) -> Iterator[Sides]:
    """An ERP database and an upgraded, empty store."""
    erp_url, store_url = database_url("erp"), database_url("store")
    sides = Sides(make_engine(erp_url), make_engine(store_url), erp_url, store_url)
    upgrade(sides.store)
    yield sides
    sides.erp.dispose()
    sides.store.dispose()


SMALL = {"companies": 2, "contracts": 12, "items_per_contract": 6, "seed": 11}


@pytest.fixture
def seeded(empty_sides: Sides) -> Sides:
    seed(empty_sides.erp, empty_sides.store, **SMALL)
    return empty_sides


@pytest.fixture
def configured(seeded: Sides, tmp_path, monkeypatch) -> Sides:
    """Settings pointing at the seeded databases, as the flow reads them."""
    monkeypatch.setenv("CONTRACT_SYNC_ERP_URL", seeded.erp_url)
    monkeypatch.setenv("CONTRACT_SYNC_STORE_URL", seeded.store_url)
    monkeypatch.setenv("CONTRACT_SYNC_REPORTS_DIR", str(tmp_path / "reports"))
    get_settings.cache_clear()
    yield seeded
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
