"""Bulk writes (many rows at once, as apply writes them) keep the store's rules: a text too
long for its column is never cut, and money goes in as scaled integers only."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.bulk import insert_columns, sync_columns, update_columns
from contract_sync.store.db import make_engine
from contract_sync.store.types import Amount

PROBE = sa.Table(
    "bulk_probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(5)),
    sa.Column("amount", Amount()),
)


@pytest.fixture
def probe(database_url):
    engine = make_engine(database_url("bulk"))
    PROBE.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_text_too_long_is_refused_or_kept_whole_never_cut(probe):
    frame = pd.DataFrame({"id": [1], "code": ["ABCDEFGH"], "amount": pd.array([1250], "Int64")})
    if probe.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="too long"), probe.begin() as connection:
            insert_columns(connection, PROBE, frame)
        return
    with probe.begin() as connection:  # SQLite keeps any length: the validation's limits
        insert_columns(connection, PROBE, frame)  # stop such a value before it gets here
        assert connection.execute(sa.select(PROBE.c.code)).scalar_one() == "ABCDEFGH"


def test_money_goes_in_as_scaled_integers_only(probe):
    rows = pd.DataFrame({"id": [1], "code": ["A"], "amount": pd.array([1250], "Int64")})
    with probe.begin() as connection:
        insert_columns(connection, PROBE, rows)
        update_columns(connection, PROBE, rows.assign(amount=pd.array([1399], "Int64")))
        assert connection.execute(sa.select(PROBE.c.amount)).scalar_one() == 1399  # 13.99
    floats = rows.assign(amount=[12.5])
    for write in (insert_columns, update_columns):
        with pytest.raises(TypeError, match="scaled integers"), probe.begin() as connection:
            write(connection, PROBE, floats)


SCOPED = sa.Table(
    "bulk_scoped",
    sa.MetaData(),
    sa.Column("scope", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(10), primary_key=True),
    sa.Column("code", sa.String(5)),
    sa.Column("amount", Amount(), nullable=False),
)


def _changed_rows(connection: sa.Connection) -> set[tuple[int, str]]:
    """Rows written by this transaction (PostgreSQL: their xmin)."""
    current = connection.execute(sa.text("SELECT txid_current() % 4294967296")).scalar_one()
    rows = connection.execute(
        sa.text("SELECT scope, key FROM bulk_scoped WHERE xmin::text::bigint = :x"),
        {"x": current},
    ).all()
    return {tuple(r) for r in rows}


def test_sync_writes_only_the_rows_that_differ_within_its_scopes(database_url):
    engine = make_engine(database_url("bulk_sync"))
    SCOPED.metadata.create_all(engine)
    before = pd.DataFrame(
        {
            "scope": [1, 1, 1, 2, 3],
            "key": ["a", "b", "c", "a", "a"],
            "code": ["x", None, "z", "x", "x"],
            "amount": pd.array([100, 200, 300, 400, 500], "Int64"),
        }
    )
    with engine.begin() as connection:
        insert_columns(connection, SCOPED, before)
    after = pd.DataFrame(  # 1: a same, b's code set, c gone, d new; 2: emptied; 3: not in scope
        {
            "scope": [1, 1, 1],
            "key": ["a", "b", "d"],
            "code": pd.array(["x", "y", None], "string"),
            "amount": pd.array([100, 200, 999], "Int64"),
        }
    )
    with engine.begin() as connection:
        sync_columns(connection, SCOPED, after, [1, 2])
        if connection.dialect.name == "postgresql":  # 1/a, equal, is not written again
            assert _changed_rows(connection) == {(1, "b"), (1, "d")}
        rows = connection.execute(sa.select(SCOPED).order_by(SCOPED.c.scope, SCOPED.c.key)).all()
    assert [tuple(r) for r in rows] == [
        (1, "a", "x", 100),
        (1, "b", "y", 200),
        (1, "d", None, 999),
        (3, "a", "x", 500),
    ]
    with pytest.raises(TypeError, match="scaled integers"), engine.begin() as connection:
        sync_columns(connection, SCOPED, after.assign(amount=[1.0, 2.0, 3.0]), [1])
    engine.dispose()
