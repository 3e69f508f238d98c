"""Arrow-native ERP reads (contract_sync.arrow_reads, with the `arrow` extra): the frames the
SQLAlchemy read gives, on SQLite and PostgreSQL, whole and streamed; on SQLite a column
NULL through a first batch and a value stored as another type than its column's."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync import arrow_reads
from contract_sync.erp import vista
from contract_sync.erp.vista_schema import JCCI
from contract_sync.model import ErpFrames

pytest.importorskip("adbc_driver_sqlite", reason="the `arrow` extra (make test-arrow)")
pytest.importorskip("adbc_driver_postgresql", reason="the `arrow` extra (make test-arrow)")


@pytest.fixture(autouse=True)
def _arrow_for_small_reads(monkeypatch):
    monkeypatch.setattr(arrow_reads, "SQLITE_FROM_ROWS", 0)  # the seeded company is small


def _both(monkeypatch, read) -> tuple[ErpFrames, ErpFrames]:  # noqa: ANN001
    """What `read` gives through SQLAlchemy, then through Arrow."""
    monkeypatch.setenv(arrow_reads.SWITCH, "off")
    through_rows = read()
    monkeypatch.setenv(arrow_reads.SWITCH, "on")
    return through_rows, read()


def _streamed(engine: sa.Engine) -> ErpFrames:
    """The grouped read a run makes, put back together."""
    with vista.vista_groups(engine, 1, None, 40) as read:
        groups = list(read.groups)
    return ErpFrames(
        read.contracts,
        pd.concat([g.items for g in groups], ignore_index=True),
    )


def _same(left: ErpFrames, right: ErpFrames) -> None:
    pd.testing.assert_frame_equal(left.contracts, right.contracts)
    pd.testing.assert_frame_equal(left.items, right.items)


def _items_through_arrow(engine: sa.Engine) -> pd.DataFrame | None:
    return arrow_reads.read_arrow(engine, vista._items_query(1, None, None))


def test_the_seeded_erp_reads_the_same_whole_and_streamed(seeded, monkeypatch):
    monkeypatch.setattr(vista, "STREAM_ROWS", 7)  # many chunks, contracts across them
    assert _items_through_arrow(seeded.erp) is not None  # the Arrow read is the one taken
    _same(*_both(monkeypatch, lambda: vista.read_vista(seeded.erp, 1)))
    _same(*_both(monkeypatch, lambda: _streamed(seeded.erp)))


def test_a_column_null_through_the_first_batch_then_text_reads_the_same(seeded, monkeypatch):
    monkeypatch.setattr(vista, "STREAM_ROWS", 5)  # SQLite types a column from 5 rows
    with seeded.erp.begin() as connection:
        last = connection.execute(sa.select(sa.func.max(JCCI.c.Contract))).scalar_one()
        connection.execute(JCCI.update().values(TaxCode=None, SICode=None))
        connection.execute(JCCI.update().where(JCCI.c.Contract == last).values(TaxCode="TX9"))
    through_rows, through_arrow = _both(monkeypatch, lambda: _streamed(seeded.erp))
    _same(through_rows, through_arrow)
    assert (through_arrow.items["tax_code"] == "TX9").any()
    assert through_arrow.items["cost_code"].isna().all()


def test_a_value_stored_as_another_type_is_read_as_it_is(seeded, monkeypatch):
    """SQLite keeps bytes in a text column: the read is SQLAlchemy's then, the same frames
    (the contract quarantined downstream as its value says)."""
    if seeded.erp.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses such a value when it is written")
    with seeded.erp.begin() as connection:
        first = connection.execute(sa.select(sa.func.min(JCCI.c.Contract))).scalar_one()
        connection.execute(
            sa.text('UPDATE "JCCI" SET "Description" = X\'4142\' WHERE "Contract" = :c'),
            {"c": first},
        )
    assert _items_through_arrow(seeded.erp) is None  # bytes where text: not read so
    _same(*_both(monkeypatch, lambda: vista.read_vista(seeded.erp, 1)))


def test_contract_numbers_with_a_percent_and_a_quote_read_the_same(seeded, monkeypatch):
    """Named contracts are written into the query's text: a % stays one (PostgreSQL's
    dialect would double it for its own driver), a quote is doubled."""
    odd = ["50%-A", "O'Brien"]
    with seeded.erp.begin() as connection:
        first = connection.execute(sa.select(sa.func.min(JCCI.c.Contract))).scalar_one()
        connection.execute(JCCI.update().where(JCCI.c.Contract == first).values(Contract=odd[0]))
    for contract_nos in (odd, [odd[0]]):
        query = vista._items_query(1, contract_nos, None)
        through_arrow = arrow_reads.read_arrow(seeded.erp, query)
        assert through_arrow is not None and len(through_arrow) > 0
        monkeypatch.setenv(arrow_reads.SWITCH, "off")
        with seeded.erp.connect() as connection:
            through_rows = vista._read_sql(query, connection)
        monkeypatch.setenv(arrow_reads.SWITCH, "on")
        pd.testing.assert_frame_equal(through_rows, through_arrow)


def test_a_reader_cut_between_two_batches_is_an_error_not_an_end(seeded, monkeypatch):
    """The SQLite reader's process killed after its first batch: Arrow's reader sees a
    stream that ends; the exit status says it did not, and the read is an error."""
    if seeded.erp.dialect.name != "sqlite":
        pytest.skip("the reader's process is SQLite's")
    real = arrow_reads._child_reader

    @contextmanager
    def killed_after_one_batch(request):
        with real(request) as reader:
            batches = iter(reader.reader)
            first = next(batches)
            reader.reader = iter([first])  # the rest never arrives ...
            os.kill(reader.process.pid, signal.SIGKILL)  # ... its process killed
            yield reader

    monkeypatch.setattr(arrow_reads, "_child_reader", killed_after_one_batch)
    query = vista._items_query(1, None, None).order_by(JCCI.c.JCCo, JCCI.c.Contract)
    with (
        arrow_reads.arrow_chunks(seeded.erp, query, 5) as chunks,
        pytest.raises(arrow_reads.ArrowReadStopped, match="status -9"),
    ):
        list(chunks)
