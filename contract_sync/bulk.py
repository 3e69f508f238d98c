"""Set-based writes of DataFrames through SQLAlchemy Core."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

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
