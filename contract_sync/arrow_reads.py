"""Arrow-native reads: a query's rows handed to pandas as Arrow columns by an ADBC driver
(SQLite, PostgreSQL), without a Python object per value, where SQLAlchemy's rows cost one
per value. Used when the driver is installed (the `arrow` extra) and
CONTRACT_SYNC_ARROW_READS is not `off`; otherwise, and whenever the driver cannot open the
database or run the query, None is returned and the caller reads through SQLAlchemy, which
gives the same frames (and its own errors, which the callers know how to word).

Reads made together (read_arrow_together: the store's items and baseline items) are made in
one transaction, which on PostgreSQL is REPEATABLE READ: one snapshot of the database.

On SQLite the read runs in a process of its own (contract_sync.arrow_child says why) and
streams its batches back as Arrow IPC. SQLite types a result's columns from its first
batch of rows: a column NULL throughout it
is taken for integers, and a text further down is then an error ("Type mismatch"). So each
SQLite read starts with one row of the query's own types (a text where it selects text, a
0 where integers), dropped before pandas sees it. PostgreSQL types its columns itself, and
streams a result (COPY) only when no parameter is bound: the query's values are rendered
into its text, as SQLAlchemy renders literals.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import sqlalchemy as sa

LOG = logging.getLogger(__name__)
SWITCH = "CONTRACT_SYNC_ARROW_READS"
READS = {"arrow": 0}  # reads this process made through Arrow (the benchmark's floor says so)
DRIVERS = {"sqlite": "adbc_driver_sqlite.dbapi", "postgresql": "adbc_driver_postgresql.dbapi"}
WHOLE_BATCH_ROWS = 65_536
PROBE = {"integer": "0", "text": "''"}  # a first row's value, by SQLite storage class
# A SQLite read through Arrow starts a process (about 0.3 s): worth it from this many rows
# (at 100,000 rows both reads take about 0.5 s; at 1M, 2.1 s against 5.0 s).
SQLITE_FROM_ROWS = 100_000
ISOLATION = "adbc.connection.transaction.isolation_level"  # ADBC's standard option
REPEATABLE_READ = "adbc.connection.transaction.isolation.repeatable_read"


def _driver(engine: sa.Engine) -> ModuleType | None:
    if os.environ.get(SWITCH, "on").strip().lower() in ("off", "0", "false", "no"):
        return None
    name = DRIVERS.get(engine.dialect.name)
    if name is None:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def available(engine: sa.Engine) -> bool:
    """Whether reads of this database can go through Arrow here (driver and switch)."""
    return _driver(engine) is not None and adbc_uri(engine.url) is not None


def adbc_uri(url: sa.URL) -> str | None:
    """The database as the ADBC driver names it: a SQLite file as a `file:` URI, PostgreSQL
    as a libpq URI (SQLAlchemy's `+driver` taken off); None for an in-memory SQLite."""
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return None
        return Path(url.database).resolve().as_uri()
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _text(engine: sa.Engine, query: sa.Select) -> str:
    """The query with its values rendered in it. With a "named" paramstyle: under the
    psycopg dialect's own (pyformat) SQLAlchemy writes a % in a text as %%, which the ADBC
    driver would send as it is."""
    dialect = type(engine.dialect)(paramstyle="named")
    return str(
        query.compile(
            dialect=dialect,
            compile_kwargs={"literal_binds": True, "render_postcompile": True},
        )
    )


def _sql(engine: sa.Engine, query: sa.Select) -> tuple[str, str | None] | None:
    """The query's text with its values in it, and on SQLite the query that finds a value
    of another type than its column's (see the module's docstring); the text starts with a
    first row of the query's types there. None when a column is neither integers nor text
    (those are the types read here as pandas.read_sql reads them)."""
    kinds = [_kind(column.type) for column in query.selected_columns]
    if None in kinds:
        return None
    text = _text(engine, query)
    if engine.dialect.name != "sqlite":
        return text, None
    quote = engine.dialect.identifier_preparer.quote
    probes, odd, stored = [], [], []
    for column, kind in zip(query.selected_columns, kinds, strict=True):
        name = quote(column.key)
        probes.append(f"{PROBE[kind]} AS {name}")
        # Only a column as stored can hold another type: a CAST or a CASE of numbers cannot.
        if isinstance(getattr(column, "element", column), sa.Column):
            stored.append(column)
            # Two comparisons, not NOT IN (a list): half the time per row.
            odd.append(f"(typeof({name}) <> '{kind}' AND typeof({name}) <> 'null')")
    check = None
    if stored:
        plain = _text(engine, query.with_only_columns(*stored).order_by(None))
        check = f"SELECT 1 FROM ({plain}) WHERE {' OR '.join(odd)} LIMIT 1"
    return f"SELECT {', '.join(probes)} UNION ALL SELECT * FROM ({text})", check


def _kind(kind: sa.types.TypeEngine) -> str | None:
    """SQLite's storage class for a column of this type (its typeof), where a probe has one."""
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, sa.Integer | sa.Boolean):
        return "integer"
    if isinstance(kind, sa.String):
        return "text"
    return None


def _pandas_type(arrow_type: Any) -> Any:  # noqa: ANN401 - pyarrow's and pandas' types
    """The numpy_nullable dtype pandas.read_sql gives such a column."""
    import pyarrow as pa

    if isinstance(arrow_type, pa.BaseExtensionType):
        arrow_type = arrow_type.storage_type
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype()
    return None


class ArrowReadStopped(sa.exc.OperationalError):
    """A read through Arrow that stopped after its first rows (the database's connection
    lost, the SQLite reader's process gone): a database error, as the callers word one."""

    def __init__(self, words: str) -> None:
        super().__init__("a read through Arrow", None, RuntimeError(words))


@contextmanager
def _readers(engine: sa.Engine, queries: list[sa.Select], batch_rows: int) -> Iterator[Any]:
    """Readers of record batches over the queries' rows, in their order, all in one snapshot
    of the database (each read to its end before the next is taken; on SQLite the probe row
    first), or None when the read is not available or the driver refused it before any
    row. Reading them raises ArrowReadStopped when a read stops before its end."""
    driver = _driver(engine)
    uri = adbc_uri(engine.url) if driver else None
    sqls = [_sql(engine, query) for query in queries] if uri else [None]
    if None in sqls:
        yield None
        return
    if engine.dialect.name == "sqlite":
        if sum(_rows(engine, query) for query in queries) < SQLITE_FROM_ROWS:
            yield None  # a process's start costs more than it saves
            return
        reads = [{"sql": text, "check": check} for text, check in sqls]
        with _child_reader({"uri": uri, "reads": reads, "batch_rows": batch_rows}) as readers:
            yield readers
        return
    try:
        connection = driver.connect(uri)
    except driver.Error:
        yield None  # SQLAlchemy's read says what is wrong, in the words callers expect
        return
    with connection:
        if len(queries) > 1:  # one transaction is one snapshot only from REPEATABLE READ
            connection.adbc_connection.set_options(**{ISOLATION: REPEATABLE_READ})
        with connection.cursor() as cursor:
            try:
                cursor.execute(sqls[0][0])
                first = cursor.fetch_record_batch()
            except driver.Error:
                yield None
                return
            yield _postgresql_readers(driver, cursor, first, [text for text, _ in sqls[1:]])


def _postgresql_readers(
    driver: ModuleType,
    cursor: Any,  # noqa: ANN401 - ADBC's cursor
    first: Any,  # noqa: ANN401 - its reader of the first query
    rest: list[str],
) -> Iterator[Any]:
    yield _Batches(first, lambda: None)
    for text in rest:
        try:
            cursor.execute(text)
            reader = cursor.fetch_record_batch()
        except driver.Error as error:
            raise ArrowReadStopped(str(error)) from error
        yield _Batches(reader, lambda: None)


@contextmanager
def _reader(engine: sa.Engine, query: sa.Select, batch_rows: int) -> Iterator[Any]:
    """The reader of one query's batches (_readers)."""
    with _readers(engine, [query], batch_rows) as readers:
        yield None if readers is None else next(readers)


def _rows(engine: sa.Engine, query: sa.Select) -> int:
    counted = query.with_only_columns(sa.func.count()).order_by(None)
    with engine.connect() as connection:
        return connection.execute(counted).scalar_one()


@contextmanager
def _child_reader(request: dict[str, Any]) -> Iterator[Any]:
    """The SQLite reads in a process of its own (contract_sync.arrow_child says why), their
    batches read from its stdout, a stream per read; None when it read nothing. Ended with
    the block."""
    import pyarrow as pa

    with tempfile.TemporaryFile() as said:
        process = subprocess.Popen(
            [sys.executable, "-m", "contract_sync.arrow_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=said,
        )

        def ended() -> None:
            """Raised unless the process ended well: a stream cut at a batch's end reads as
            a whole one (Arrow's reader cannot tell), its exit status can."""
            status = process.wait()
            if status != 0:
                said.seek(0)
                words = said.read().decode(errors="replace").strip().splitlines()[-1:]
                raise ArrowReadStopped(
                    f"the SQLite reader's process ended with status {status}: {' '.join(words)}"
                )

        try:
            try:
                process.stdin.write(json.dumps(request).encode())
                process.stdin.close()
                first = pa.ipc.open_stream(process.stdout)
            except (pa.ArrowInvalid, OSError):  # it read nothing: read through SQLAlchemy
                _said_why(process, said)
                yield None
                return
            yield _streams(process, first, len(request["reads"]), ended)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()


def _streams(process: subprocess.Popen, first: Any, reads: int, ended: Any) -> Iterator[Any]:  # noqa: ANN401 - pyarrow's reader, a callable
    """The child's streams one after the other, its exit status checked after the last."""
    import pyarrow as pa

    reader = first
    for number in range(reads):
        if number:
            try:
                reader = pa.ipc.open_stream(process.stdout)
            except (pa.ArrowInvalid, OSError) as error:
                ended()  # its status says why, when it ended badly
                raise ArrowReadStopped(str(error)) from error
        yield _Batches(reader, ended if number == reads - 1 else lambda: None, process)


def _said_why(process: subprocess.Popen, said: Any) -> None:  # noqa: ANN401 - a file
    """A process that read nothing for another reason than its own (NOT_READ): its last
    words logged, as the read goes on through SQLAlchemy."""
    from contract_sync.arrow_child import NOT_READ

    status = process.wait()
    if status not in (0, NOT_READ):
        said.seek(0)
        words = said.read().decode(errors="replace").strip().splitlines()[-1:]
        LOG.warning("the Arrow read's process ended with status %s: %s", status, words)


class _Batches:
    """A reader's batches, to its end: an error while reading, or an end that was not one
    (`ended` raises), is ArrowReadStopped."""

    def __init__(self, reader: Any, ended: Any, process: subprocess.Popen | None = None) -> None:  # noqa: ANN401 - pyarrow's reader
        self.reader, self.ended, self.process = reader, ended, process
        self.schema = reader.schema

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self.reader
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise ArrowReadStopped(str(error)) from error
        self.ended()


def read_arrow(engine: sa.Engine, query: sa.Select) -> pd.DataFrame | None:
    """The query's rows as pandas.read_sql(dtype_backend="numpy_nullable") gives them, read
    through Arrow; None when this read is not available, or stopped (it is read through
    SQLAlchemy then, which says what is wrong in the callers' words)."""
    frames = read_arrow_together(engine, [query])
    return None if frames is None else frames[0]


def read_arrow_together(engine: sa.Engine, queries: list[sa.Select]) -> list[pd.DataFrame] | None:
    """read_arrow of each query, all read in one snapshot of the database (one transaction,
    REPEATABLE READ on PostgreSQL); on SQLite through Arrow from SQLITE_FROM_ROWS rows in
    all. None as read_arrow."""
    with _readers(engine, queries, WHOLE_BATCH_ROWS) as readers:
        if readers is None:
            return None
        try:
            tables = [_table(list(reader), reader.schema) for reader in readers]
        except ArrowReadStopped as stopped:
            LOG.warning("read through SQLAlchemy instead: %s", stopped.orig)
            return None
    READS["arrow"] += 1
    return [_pandas(table.slice(_skipped(engine))) for table in tables]


@contextmanager
def arrow_chunks(
    engine: sa.Engine, query: sa.Select, chunk_rows: int
) -> Iterator[Iterator[pd.DataFrame] | None]:
    """The query's rows in frames of `chunk_rows` (the last fewer), streamed while the block
    runs (the connection closes at its end); None when this read is not available."""
    with _reader(engine, query, chunk_rows) as reader:
        if reader is not None:
            READS["arrow"] += 1
        yield None if reader is None else _chunks(reader, chunk_rows, _skipped(engine))


def _chunks(reader: Any, chunk_rows: int, skip: int) -> Iterator[pd.DataFrame]:  # noqa: ANN401
    held, rows = [], 0
    for batch in reader:
        held.append(batch)
        rows += batch.num_rows
        if rows - skip < chunk_rows:
            continue
        table = _table(held, reader.schema).slice(skip)
        whole = len(table) - len(table) % chunk_rows
        for start in range(0, whole, chunk_rows):
            yield _pandas(table.slice(start, chunk_rows))
        rest = table.slice(whole)
        held, rows, skip = rest.to_batches(), len(rest), 0
    if rows - skip > 0:
        yield _pandas(_table(held, reader.schema).slice(skip))


def _table(batches: list, schema: Any) -> Any:  # noqa: ANN401 - pyarrow's types
    import pyarrow as pa

    return pa.Table.from_batches(batches, schema=schema)


def _pandas(table: Any) -> pd.DataFrame:  # noqa: ANN401 - a pyarrow Table
    return table.to_pandas(types_mapper=_pandas_type).reset_index(drop=True)


def _skipped(engine: sa.Engine) -> int:
    """The rows a read starts with that are not the query's (SQLite's probe row)."""
    return 1 if engine.dialect.name == "sqlite" else 0
