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
    INSERT ... SELECT from one JSON document per chunk (see _rows), on SQLite the driver's
    executemany. Exact (Scaled) columns are given as their scaled integers."""
    _insert(connection, table, frame)


def _insert(
    connection: sa.Connection, table: sa.Table, frame: pd.DataFrame, conflict: str = ""
) -> None:
    """insert_columns, with an ON CONFLICT clause when given."""
    _exact(table, frame)
    quote = connection.dialect.identifier_preparer.quote
    columns = [table.c[name] for name in frame.columns]
    into = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)})"
    if connection.dialect.name == "postgresql":
        values = ", ".join(_element(c, i) for i, c in enumerate(columns))
        statement = f"{into} SELECT {values} FROM {_rows(connection, columns)} {conflict}"
    else:
        statement = f"{into} VALUES ({', '.join('?' for _ in columns)}) {conflict}"
    _run(connection, statement, frame)


def update_columns(
    connection: sa.Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    key: str = "id",
    within: tuple[str, list[int]] | None = None,
) -> None:
    """Rows found by `key` (the frame's first column) set to the frame's other columns, as
    insert_columns does it: one UPDATE ... FROM (its rows) on PostgreSQL per chunk.
    `within` (column, values): where all the rows are, e.g. their contracts; PostgreSQL then
    reads only those rows (by an index) instead of joining the whole table."""
    _exact(table, frame)
    if frame.empty:
        return
    quote = connection.dialect.identifier_preparer.quote
    columns = [table.c[name] for name in frame.columns]
    extra: dict[str, list[int]] = {}
    if connection.dialect.name == "postgresql":
        assigned = ", ".join(
            f"{quote(c.name)} = {_element(c, i)}" for i, c in enumerate(columns) if i
        )
        statement = (
            f"UPDATE {quote(table.name)} SET {assigned} FROM {_rows(connection, columns)} "
            f"WHERE {quote(table.name)}.{quote(key)} = u.c0"
        )
        if within is not None:
            column, values = within
            statement += f" AND {quote(table.name)}.{quote(column)} = ANY(%(within)s::bigint[])"
            extra = {"within": [int(v) for v in values]}
    else:
        assigned = ", ".join(f"{quote(c.name)} = ?" for c in columns[1:])
        statement = f"UPDATE {quote(table.name)} SET {assigned} WHERE {quote(key)} = ?"
        frame = frame[[*frame.columns[1:], frame.columns[0]]]
    _run(connection, statement, frame, extra)


def upsert_columns(connection: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Rows inserted, or set to the frame's values where the table holds their key (its
    primary key, the frame's first columns), as insert_columns writes them: one INSERT ...
    ON CONFLICT per chunk. ValueError for a key the frame holds twice (which PostgreSQL
    refuses within a statement and SQLite would let the last row win)."""
    quote = connection.dialect.identifier_preparer.quote
    names = [quote(name) for name in frame.columns]
    key = _key_of(table, frame)
    twice = frame[frame.duplicated(key, keep=False)]
    if len(twice):
        shown = ", ".join(map(str, twice[key].drop_duplicates().head(5).itertuples(False, None)))
        raise ValueError(f"{table.name}: keys given twice: {shown}")
    keys = len(key)
    if len(names) == keys:
        raise ValueError(f"{table.name}: nothing to write besides the key {key}")
    fields = ", ".join(f"{n} = excluded.{n}" for n in names[keys:])
    conflict = f"ON CONFLICT ({', '.join(names[:keys])}) DO UPDATE SET {fields}"
    _insert(connection, table, frame, conflict)


def delete_rows(connection: sa.Connection, table: sa.Table, keys: pd.DataFrame) -> None:
    """The rows of these keys deleted (`keys`: the table's primary key columns): one DELETE
    ... USING (its rows) per chunk on PostgreSQL, the driver's executemany on SQLite."""
    quote = connection.dialect.identifier_preparer.quote
    columns = [table.c[name] for name in _key_of(table, keys)]
    names = [quote(c.name) for c in columns]
    name = quote(table.name)
    if connection.dialect.name == "postgresql":
        matched = " AND ".join(f"t.{n} = u.c{i}" for i, n in enumerate(names))
        statement = f"DELETE FROM {name} t USING {_rows(connection, columns)} WHERE {matched}"
    else:
        statement = f"DELETE FROM {name} WHERE {' AND '.join(f'{n} = ?' for n in names)}"
    _run(connection, statement, keys[[c.name for c in columns]])


def _key_of(table: sa.Table, frame: pd.DataFrame) -> list[str]:
    """The table's primary key columns, which the frame must start with."""
    key = [c.name for c in table.primary_key.columns]
    if list(frame.columns[: len(key)]) != key:
        raise ValueError(f"{table.name}: the frame starts with its key {key}")
    return key


def _run(
    connection: sa.Connection, statement: str, frame: pd.DataFrame, extra: dict | None = None
) -> None:
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(statement, {"rows": _document(chunk), **(extra or {})})
        else:
            values = [_plain(column) for _, column in chunk.items()]
            connection.exec_driver_sql(statement, list(zip(*values, strict=True)))


def _rows(connection: sa.Connection, columns: list[sa.Column]) -> str:
    """The rows of parameter `rows` (one JSON array of arrays, see _document) as a table
    u(c0, c1, ...), each value cast to its column's type, unbounded: PostgreSQL parses the
    document; no Python function runs per value (psycopg adapts a list value by value)."""
    values = ", ".join(
        f"(r ->> {i})::{_array_type(connection, c)} AS c{i}" for i, c in enumerate(columns)
    )
    return f"(SELECT {values} FROM jsonb_array_elements(%(rows)s::jsonb) AS r) AS u"


def _document(frame: pd.DataFrame) -> str:
    """Rows as one JSON array of arrays, missing values as null (pandas' encoder, in C).
    Only integers, text and booleans: their JSON text is their value exactly."""
    for name, values in frame.items():
        if not (
            pd.api.types.is_integer_dtype(values.dtype)
            or pd.api.types.is_string_dtype(values.dtype)
            or pd.api.types.is_bool_dtype(values.dtype)
            or pd.api.types.infer_dtype(values, skipna=True) in ("integer", "string", "empty")
        ):
            raise TypeError(f"{name}: integers, text or booleans expected, not {values.dtype}")
    return frame.to_json(orient="values", force_ascii=False)


def _element(column: sa.Column, i: int) -> str:
    """A row's value as its column's value: a scaled integer divided exactly."""
    value = f"u.c{i}"
    return (
        f"{value}::numeric / {10**column.type.scale}" if isinstance(column.type, Scaled) else value
    )


def _plain(column: pd.Series) -> list:
    """A column's values as plain Python objects, None for missing (one conversion: half the
    time of astype + where)."""
    return column.to_numpy(dtype=object, na_value=None).tolist()


def _array_type(connection: sa.Connection, column: sa.Column) -> str:
    """A value's type, unbounded: the column's own type then applies on
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
