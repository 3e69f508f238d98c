"""Engines, migrations and the schema-version check for the project store."""

from __future__ import annotations

import weakref
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from contract_sync.errors import UserError
from contract_sync.settings import Settings
from contract_sync.store.schema import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreSchemaError(UserError, RuntimeError):
    """The store's schema is not the one this version of contract-sync expects."""


_ENGINES: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # every engine made, for close_all
WRITE_LOCK = "write_lock"  # execution option: take SQLite's write lock when the transaction begins


class DatabaseUrlError(UserError, ValueError):
    """A database URL that cannot be used: unparsable, an unknown or missing driver, or a
    SQLite file that is not there."""


def make_engine(url: str, busy_timeout: float = 30, must_exist: bool = False) -> sa.Engine:
    """An engine for the store or the ERP; SQLite files get their folder and sane pragmas,
    unless `must_exist` (a database to read: a wrong path must not leave an empty file).

    On SQLite, a connection with the execution option `write_lock=True` begins its
    transactions with BEGIN IMMEDIATE, so two writers never interleave.
    """
    try:
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return _kept(sa.create_engine(url, pool_pre_ping=True))
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatabaseUrlError(f"cannot use the database URL {_shown(url)}: {first}") from None
    on_disk = parsed.database and parsed.database != ":memory:"
    if on_disk and must_exist and not Path(parsed.database).is_file():
        raise DatabaseUrlError(
            f"no database file at {parsed.database}: check the URL (CONTRACT_SYNC_ERP_URL, "
            "CONTRACT_SYNC_STORE_URL), or create the project store with `contract-sync db upgrade`"
        )
    if on_disk:
        _make_folder(Path(parsed.database))
    engine = _kept(sa.create_engine(url, connect_args={"timeout": busy_timeout}))

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_LOCK)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _kept(engine: sa.Engine) -> sa.Engine:
    _ENGINES.add(engine)
    return engine


def close_all() -> None:
    """Close the pooled connections of every engine still alive, as a process's end would:
    for a process that leaves without its teardown (a SQLite WAL is checkpointed into its
    database when the last connection to it closes)."""
    for engine in list(_ENGINES):
        engine.dispose()


def _make_folder(database: Path) -> None:
    """The folder of a SQLite file to create; one it cannot be is a one-line error."""
    from contract_sync.output_files import reason

    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUrlError(
            f"cannot make the folder of the SQLite database {database}: {reason(error, database)}"
        ) from None


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = metadata  # autogenerate's; no migration reads it
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def require_current_schema(engine: sa.Engine) -> None:
    """Refuse to work on a store whose schema is older (or newer) than the code."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        found = f"at revision {current}" if current else "not initialised"
        raise StoreSchemaError(
            f"the project store at {where} is {found}, this version needs {head}: "
            "run `contract-sync db upgrade`"
        )


def safe_url(url: str) -> str:
    """A database URL as it may be shown: without its password."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _shown(url: str) -> str:
    try:
        return safe_url(url)
    except sa.exc.ArgumentError:
        return repr(url.split("@")[-1])  # unparsable: at least no credentials


class StoreUnreachable(UserError, ConnectionError):
    """The project store does not answer (down, wrong host or port, no such database)."""


def check_reachable(engine: sa.Engine, what: str) -> None:
    """Connect once, so that an unreachable database is one clear line, not a traceback."""
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as error:
        first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        failed = "cannot open" if engine.dialect.name == "sqlite" else "cannot reach"
        raise StoreUnreachable(
            f"{failed} the {what} at {safe_url(str(engine.url))}: {first}"
        ) from None


def open_store(settings: Settings) -> sa.Engine:
    """The store's engine, refusing a schema that is not the current one."""
    store = make_engine(settings.store_database_url, must_exist=True)
    check_reachable(store, "project store")
    require_current_schema(store)
    return store
