"""Fixtures: real databases (SQLite always, PostgreSQL when a URL is given) and Prefect.

Set CONTRACT_SYNC_TEST_POSTGRES_URL (a superuser URL, e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) to run the store tests on
PostgreSQL too; each test then gets databases of its own.

Tests that write get fresh databases (`empty_sides`, `seeded`, `configured`; the seeded
ones copies of a pair seeded once per backend and process). Tests that only
read share one seeded pair per module and backend (`shared_seeded`, or a module fixture of
their own built with `seeded_sides` and `settings_for`), checked with `kept_as_is` when the
module is done: the databases must hold exactly what they held before its tests ran.

Hypothesis: the `ci` profile (150 examples) when CI is set, as CI runs do, else `dev`
(40); HYPOTHESIS_PROFILE=ci|dev picks one.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler import LoadScopeScheduling

# Prefect's home for the test session, set before anything imports Prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="contract-sync-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# The width of a pipe for the commands under test unless a test sets COLUMNS: readline, once
# imported, puts the terminal's COLUMNS and LINES (80x24 without one) in the environment
# that pytest-xdist's workers inherit.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
# The embedded databases' folder (and the validation cache in it): never the project's data/.
os.environ["CONTRACT_SYNC_DATA_DIR"] = tempfile.mkdtemp(prefix="contract-sync-data-")
# A benchmark run's history line: never the project's bench/history.tsv.
os.environ["BENCH_HISTORY"] = str(Path(tempfile.mkdtemp(prefix="contract-sync-bench-")) / "h.tsv")

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from contract_sync.demo.seed import default_directory_file, seed
from contract_sync.settings import get_settings
from contract_sync.store.db import make_engine, upgrade
from tests.stores import STORES, StoreUnderTest, store_under_test

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


def _work_unit(nodeid: str) -> str:
    """`module[backend]` for a test on a backend, else the test itself."""
    module, _, name = nodeid.partition("::")
    params = name.partition("[")[2].removesuffix("]").split("-")
    backend = next((p for p in params if p in ("sqlite", "postgresql")), None)
    return f"{module}[{backend}]" if backend else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling | None:
    """Under pytest-xdist (-n), the tests of a module on one backend run in one worker, in
    their order: what they share (`backend` is module-scoped, and so are the databases some
    modules build on it) is built once, not once per worker. Other tests go one by one."""
    if config.getoption("dist") != "load":
        return None  # a --dist the command line chose
    from xdist.scheduler import LoadScopeScheduling

    class ModuleBackendScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return ModuleBackendScheduling(config, log)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Module-scoped, so that a module's tests on one backend can share databases."""
    return request.param


MakeDatabase = Callable[..., str]  # (name, copy_of=None) -> the URL of a new database


def _copy_sqlite(url: str, path: Path) -> None:
    """A consistent copy of a SQLite database (its WAL included), by SQLite's backup."""
    with (
        closing(sqlite3.connect(sa.engine.make_url(url).database)) as source,
        closing(sqlite3.connect(path)) as target,
    ):
        source.backup(target)


@contextmanager
def fresh_databases(backend: str, folder: Path) -> Iterator[MakeDatabase]:
    """A factory of new databases on `backend`, empty or copies of the database at URL
    `copy_of` (on PostgreSQL its template: nobody may be connected to it); PostgreSQL ones
    dropped after."""
    created: list[str] = []

    def make(name: str, copy_of: str | None = None) -> str:
        if backend == "sqlite":
            path = folder / f"{name}.sqlite"
            if copy_of:
                _copy_sqlite(copy_of, path)
            return f"sqlite:///{path}"
        database = f"cs_test_{name}_{uuid.uuid4().hex[:10]}"
        template = f' TEMPLATE "{sa.engine.make_url(copy_of).database}"' if copy_of else ""
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{database}"{template}'))
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
def database_url(backend: str, tmp_path) -> Iterator[MakeDatabase]:
    """A factory of new databases on the backend under test."""
    with fresh_databases(backend, tmp_path) as make:
        yield make


@dataclass
class Sides:
    erp: sa.Engine
    store: sa.Engine
    erp_url: str
    store_url: str


@contextmanager
def _opened(erp_url: str, store_url: str) -> Iterator[Sides]:
    sides = Sides(make_engine(erp_url), make_engine(store_url), erp_url, store_url)
    try:
        yield sides
    finally:
        sides.erp.dispose()
        sides.store.dispose()


@contextmanager
def new_sides(make: MakeDatabase) -> Iterator[Sides]:
    """An ERP database and an upgraded, empty store."""
    with _opened(make("erp"), make("store")) as sides:
        upgrade(sides.store)
        yield sides


@contextmanager
def copied_sides(make: MakeDatabase, template: Sides) -> Iterator[Sides]:
    """Copies of `template`'s databases, and of the directory file a seed writes beside a
    SQLite store."""
    template.erp.dispose()  # its connections closed: PostgreSQL copies only a database
    template.store.dispose()  # nobody is connected to
    with _opened(make("erp", template.erp_url), make("store", template.store_url)) as sides:
        written = default_directory_file(template.store)
        if written and written.exists():
            shutil.copyfile(written, default_directory_file(sides.store))
        yield sides


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


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory) -> Iterator[Callable[[str], Sides]]:
    """Databases seeded with SMALL, once per backend (when first asked for) in this process:
    what `seeded` copies."""
    built: dict[str, Sides] = {}
    with ExitStack() as stack:

        def template(backend: str) -> Sides:
            if backend not in built:
                folder = tmp_path_factory.mktemp(f"seeded-{backend}")
                built[backend] = stack.enter_context(seeded_sides(backend, folder))
            return built[backend]

        yield template


@pytest.fixture
def seeded(backend: str, database_url, seeded_template) -> Iterator[Sides]:
    """Fresh databases holding SMALL: copies of ones seeded once (seeding costs more)."""
    with copied_sides(database_url, seeded_template(backend)) as sides:
        yield sides


@pytest.fixture
def configured(seeded: Sides, tmp_path) -> Iterator[Sides]:
    """Settings pointing at the seeded databases, as the flow reads them."""
    with settings_for(seeded, tmp_path / "reports"):
        yield seeded


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, seeded: Sides, tmp_path) -> Iterator[StoreUnderTest]:
    """The seeded databases with, as the project store, the SQL store or Procore (the
    simulator holding the same contracts); the environment the flows and commands read
    points at it. The re-import suites run against both."""
    with store_under_test(request.param, seeded, tmp_path) as under_test:
        yield under_test


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
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "the browser tests need Chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
