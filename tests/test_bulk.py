"""Bulk writes (many rows at once, as apply writes them) keep the store's rules: a text too
long for its column is never cut, and money goes in as scaled integers only."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.store import bulk
from contract_sync.store.bulk import delete_rows, insert_columns, update_columns, upsert_columns
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


def test_upsert_writes_new_and_changed_rows_and_delete_removes_keys(database_url, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 1)  # a statement per row: chunks change nothing
    engine = make_engine(database_url("bulk_upsert"))
    SCOPED.metadata.create_all(engine)
    before = pd.DataFrame(
        {
            "scope": [1, 1, 1, 2],
            "key": ["a", "b", "c", "a"],
            "code": ["x", None, "z", "x"],
            "amount": pd.array([100, 200, 300, 400], "Int64"),
        }
    )
    with engine.begin() as connection:
        insert_columns(connection, SCOPED, before)
    changed = pd.DataFrame(  # 1/b's code set and amount moved, 1/d new; 1/a, 2/a untouched
        {
            "scope": [1, 1],
            "key": ["b", "d"],
            "code": pd.array(["y", None], "string"),
            "amount": pd.array([250, 999], "Int64"),
        }
    )
    with engine.begin() as connection:
        upsert_columns(connection, SCOPED, changed)
        delete_rows(connection, SCOPED, pd.DataFrame({"scope": [1, 2, 9], "key": ["c", "b", "c"]}))
        rows = connection.execute(sa.select(SCOPED).order_by(SCOPED.c.scope, SCOPED.c.key)).all()
    assert [tuple(r) for r in rows] == [
        (1, "a", "x", 100),
        (1, "b", "y", 250),
        (1, "d", None, 999),
        (2, "a", "x", 400),
    ]
    with pytest.raises(TypeError, match="scaled integers"), engine.begin() as connection:
        upsert_columns(connection, SCOPED, changed.assign(amount=[1.0, 2.0]))
    twice = pd.concat([changed, changed.iloc[[0]]])
    with pytest.raises(ValueError, match=r"given twice: \(1, 'b'\)"), engine.begin() as connection:
        upsert_columns(connection, SCOPED, twice)
    with pytest.raises(ValueError, match="nothing to write besides"), engine.begin() as connection:
        upsert_columns(connection, SCOPED, changed[["scope", "key"]])
    with pytest.raises(ValueError, match="starts with its key"), engine.begin() as connection:
        delete_rows(connection, SCOPED, pd.DataFrame({"key": ["a"], "scope": [1]}))
    engine.dispose()
