"""Fixtures: real databases (SQLite always, PostgreSQL when a URL is given) and Prefect.

Set CONTRACT_SYNC_TEST_POSTGRES_URL (a superuser URL, e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) to run the store tests on
PostgreSQL too; each test then gets databases of its own.

Tests that write get fresh databases (`empty_sides`, `seeded`, `configured`). Tests that only
read share one seeded pair per module and backend (`shared_seeded`, or a module fixture of
their own built with `seeded_sides` and `settings_for`), checked with `kept_as_is` when the
module is done: the databases must hold exactly what they held before its tests ran.

Hypothesis: the `ci` profile (300 examples) when CI is set, as CI runs do, else `dev`
(40); HYPOTHESIS_PROFILE=ci|dev picks one.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Prefect's home for the test session, set before anything imports Prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="contract-sync-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# The embedded databases' folder (and the validation cache in it): never the project's data/.
os.environ["CONTRACT_SYNC_DATA_DIR"] = tempfile.mkdtemp(prefix="contract-sync-data-")
# A benchmark run's history line: never the project's bench/history.tsv.
os.environ["BENCH_HISTORY"] = str(Path(tempfile.mkdtemp(prefix="contract-sync-bench-")) / "h.tsv")

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from contract_sync.demo.seed import seed
from contract_sync.settings import get_settings
from contract_sync.store.db import make_engine, upgrade

POSTGRES_URL = os.environ.get("CONTRACT_SYNC_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
_IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _IN_CI else "dev"))


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Module-scoped, so that a module's tests on one backend can share databases."""
    return request.param


@contextmanager
def fresh_databases(backend: str, folder: Path) -> Iterator[Callable[[str], str]]:
    """A factory of fresh, empty databases on `backend`; PostgreSQL ones dropped after."""
    created: list[str] = []

    def make(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{folder / f'{name}.sqlite'}"
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

    try:
        yield make
    finally:
        if created:
            admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for database in created:
                    connection.execute(
                        sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                    )
            admin.dispose()


@pytest.fixture
def database_url(backend: str, tmp_path) -> Iterator[Callable[[str], str]]:
    """A factory of fresh, empty databases on the backend under test."""
    with fresh_databases(backend, tmp_path) as make:
        yield make


@dataclass
class Sides:
    erp: sa.Engine
    store: sa.Engine
    erp_url: str
    store_url: str


@contextmanager
def new_sides(make: Callable[[str], str]) -> Iterator[Sides]:
    """An ERP database and an upgraded, empty store."""
    erp_url, store_url = make("erp"), make("store")
    sides = Sides(make_engine(erp_url), make_engine(store_url), erp_url, store_url)
    try:
        upgrade(sides.store)
        yield sides
    finally:
        sides.erp.dispose()
        sides.store.dispose()


@contextmanager
def settings_for(sides: Sides, reports_dir: Path) -> Iterator[Sides]:
    """Settings (environment variables) pointing at `sides`, as the flows and the CLI read
    them; restored afterwards."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("CONTRACT_SYNC_ERP_URL", sides.erp_url)
        monkeypatch.setenv("CONTRACT_SYNC_STORE_URL", sides.store_url)
        monkeypatch.setenv("CONTRACT_SYNC_REPORTS_DIR", str(reports_dir))
        # A folder of its own: what one test validated is not a cached verdict for the next.
        monkeypatch.setenv("CONTRACT_SYNC_DATA_DIR", str(reports_dir.parent / "data"))
        get_settings.cache_clear()
        try:
            yield sides
        finally:
            get_settings.cache_clear()


def _contents(engine: sa.Engine) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: what a read-only test must leave as is."""
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        return {
            name: sorted(map(repr, connection.execute(sa.select(table)).all()))
            for name, table in tables.tables.items()
        }


@contextmanager
def kept_as_is(sides: Sides) -> Iterator[Sides]:
    """Fails if the databases changed while the block ran (tests sharing them only read)."""
    before = {"erp": _contents(sides.erp), "store": _contents(sides.store)}
    yield sides
    after = {"erp": _contents(sides.erp), "store": _contents(sides.store)}
    changed = [
        f"{side}.{table}"
        for side in before
        for table in sorted(set(before[side]) | set(after[side]))
        if before[side].get(table) != after[side].get(table)
    ]
    assert not changed, f"a test wrote to databases shared by read-only tests: {changed}"


@pytest.fixture
def empty_sides(database_url) -> Iterator[Sides]:
    """An ERP database and an upgraded, empty store."""
    with new_sides(database_url) as sides:
        yield sides


SMALL = {"companies": 2, "contracts": 12, "items_per_contract": 6, "seed": 11}


@pytest.fixture
def seeded(empty_sides: Sides) -> Sides:
    seed(empty_sides.erp, empty_sides.store, **SMALL)
    return empty_sides


@pytest.fixture
def configured(seeded: Sides, tmp_path) -> Iterator[Sides]:
    """Settings pointing at the seeded databases, as the flow reads them."""
    with settings_for(seeded, tmp_path / "reports"):
        yield seeded


@contextmanager
def seeded_sides(backend: str, folder: Path) -> Iterator[Sides]:
    """Fresh databases in `folder`, seeded with SMALL."""
    with fresh_databases(backend, folder) as make, new_sides(make) as sides:
        seed(sides.erp, sides.store, **SMALL)
        yield sides


@pytest.fixture(scope="module")
def shared_seeded(backend: str, tmp_path_factory) -> Iterator[Sides]:
    """Seeded databases shared by a module's tests on one backend: for tests that only read
    (a test that writes fails the module at its end; give it `seeded`)."""
    with seeded_sides(backend, tmp_path_factory.mktemp("shared")) as sides, kept_as_is(sides):
        yield sides


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served_settings() -> dict[str, str]:
    """Extra environment for the processes of tests/served.py; a test module may override it."""
    return {}


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# Chromium as the machine's probe starts it: headless, no sandbox (root), and no background
# connections (this machine's network refuses them).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium from the system packages, driven by playwright. Per module: its
    event loop would make Prefect's dual sync/async calls in later modules return
    coroutines."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "the browser tests need Chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
