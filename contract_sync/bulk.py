"""Set-based writes of DataFrames through SQLAlchemy Core."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from contract_sync.store.types import Scaled

CHUNK_ROWS = 50_000


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with None for missing values and plain Python scalars."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def insert_frame(connection: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = records(frame.iloc[start : start + CHUNK_ROWS])
        if chunk:
            connection.execute(table.insert(), chunk)


def reset_id_sequences(connection: sa.Connection, tables: list[sa.Table]) -> None:
    """After inserting explicit ids on PostgreSQL, move each serial past the largest id."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        connection.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )


def read_frame(connection: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """A small result as a frame, values as the column types process them."""
    result = connection.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def read_bulk(connection: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """Many rows in one frame, numbers as nullable integers (select scaled columns through
    contract_sync.store.types.exact). Read whole: chunks concatenated at the end would only
    hold the rows twice; bounding memory means working through contracts in groups."""
    return pd.read_sql(query, connection, dtype_backend="numpy_nullable")


def insert_columns(connection: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Many rows at once, without a Python type conversion per value: on PostgreSQL one
    INSERT ... SELECT FROM unnest(one array per column) per chunk, on SQLite the driver's
    executemany. Exact (Scaled) columns are given as their scaled integers."""
    _exact(table, frame)
    quote = connection.dialect.identifier_preparer.quote
    columns = [table.c[name] for name in frame.columns]
    into = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)})"
    if connection.dialect.name == "postgresql":
        values = ", ".join(_element(c, i) for i, c in enumerate(columns))
        statement = f"{into} SELECT {values} FROM {_unnest(connection, columns)}"
    else:
        statement = f"{into} VALUES ({', '.join('?' for _ in columns)})"
    _run(connection, statement, frame)


def update_columns(
    connection: sa.Connection, table: sa.Table, frame: pd.DataFrame, key: str = "id"
) -> None:
    """Rows found by `key` (the frame's first column) set to the frame's other columns, as
    insert_columns does it: one UPDATE ... FROM unnest(...) on PostgreSQL per chunk."""
    _exact(table, frame)
    quote = connection.dialect.identifier_preparer.quote
    columns = [table.c[name] for name in frame.columns]
    if connection.dialect.name == "postgresql":
        assigned = ", ".join(
            f"{quote(c.name)} = {_element(c, i)}" for i, c in enumerate(columns) if i
        )
        statement = (
            f"UPDATE {quote(table.name)} SET {assigned} FROM {_unnest(connection, columns)} "
            f"WHERE {quote(table.name)}.{quote(key)} = u.c0"
        )
    else:
        assigned = ", ".join(f"{quote(c.name)} = ?" for c in columns[1:])
        statement = f"UPDATE {quote(table.name)} SET {assigned} WHERE {quote(key)} = ?"
        frame = frame[[*frame.columns[1:], frame.columns[0]]]
    _run(connection, statement, frame)


def _run(connection: sa.Connection, statement: str, frame: pd.DataFrame) -> None:
    for start in range(0, len(frame), CHUNK_ROWS):
        values = [_plain(column) for _, column in frame.iloc[start : start + CHUNK_ROWS].items()]
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(statement, {f"p{i}": v for i, v in enumerate(values)})
        else:
            connection.exec_driver_sql(statement, list(zip(*values, strict=True)))


def _unnest(connection: sa.Connection, columns: list[sa.Column]) -> str:
    """unnest of one typed array parameter per column, as u(c0, c1, ...)."""
    arrays = ", ".join(f"%(p{i})s::{_array_type(connection, c)}[]" for i, c in enumerate(columns))
    return f"unnest({arrays}) AS u({', '.join(f'c{i}' for i in range(len(columns)))})"


def _element(column: sa.Column, i: int) -> str:
    """An array's element as its column's value: a scaled integer divided exactly."""
    return (
        f"u.c{i}::numeric / {10**column.type.scale}"
        if isinstance(column.type, Scaled)
        else f"u.c{i}"
    )


def _plain(column: pd.Series) -> list:
    """A column's values as plain Python objects, None for missing."""
    return column.astype(object).where(column.notna(), None).tolist()


def _array_type(connection: sa.Connection, column: sa.Column) -> str:
    """The array's element type, unbounded: the column's own type then applies on
    assignment, which refuses a text too long (an explicit cast would cut it)."""
    if isinstance(column.type, Scaled):
        return "bigint"
    if isinstance(column.type, sa.String):
        return "text"
    return column.type.compile(connection.dialect)


def _exact(table: sa.Table, frame: pd.DataFrame) -> None:
    """Money and quantities arrive as scaled integers, never floats."""
    for name, values in frame.items():
        if not isinstance(table.c[name].type, Scaled):
            continue
        integers = pd.api.types.is_integer_dtype(values.dtype) or (
            values.dtype == object and pd.api.types.infer_dtype(values) in ("integer", "empty")
        )
        if not integers:
            raise TypeError(f"{table.name}.{name}: scaled integers expected, not {values.dtype}")
