"""Arrow-native reads (contract_sync.arrow_reads, with the `arrow` extra): the frames the
SQLAlchemy read gives, on SQLite and PostgreSQL, of the ERP whole and streamed and of the
store's items; on SQLite a column NULL through a first batch and a value stored as another
type than its column's; reads made together see one snapshot."""

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
from contract_sync.store import schema as s
from contract_sync.store.state import load_state, with_items

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
        with real(request) as readers:
            reader = next(readers)
            batches = iter(reader.reader)
            first = next(batches)
            reader.reader = iter([first])  # the rest never arrives ...
            os.kill(reader.process.pid, signal.SIGKILL)  # ... its process killed
            yield iter([reader])

    monkeypatch.setattr(arrow_reads, "_child_reader", killed_after_one_batch)
    query = vista._items_query(1, None, None).order_by(JCCI.c.JCCo, JCCI.c.Contract)
    with (
        arrow_reads.arrow_chunks(seeded.erp, query, 5) as chunks,
        pytest.raises(arrow_reads.ArrowReadStopped, match="status -9"),
    ):
        list(chunks)


def _store_items(store: sa.Engine) -> tuple[pd.DataFrame, ...]:
    state = load_state(store, 1, "admin")
    read = with_items(store, state, state.contracts["contract_id"])
    return read.items, read.baseline_items, read.baselines


def test_the_store_items_read_the_same_through_arrow(seeded, monkeypatch):
    """Items with missing values, a contract without a baseline: the same frames."""
    with seeded.store.begin() as connection:
        first = connection.execute(sa.select(sa.func.min(s.line_items.c.id))).scalar_one()
        missing = {"description": None, "cost_code": None}
        connection.execute(s.line_items.update().where(s.line_items.c.id == first), missing)
        contract = connection.execute(sa.select(sa.func.max(s.import_baselines.c.contract_id)))
        gone = s.import_baselines.c.contract_id == contract.scalar_one()
        connection.execute(s.import_baselines.delete().where(gone))
    reads = arrow_reads.READS["arrow"]
    through_rows, through_arrow = _both(monkeypatch, lambda: _store_items(seeded.store))
    assert arrow_reads.READS["arrow"] == reads + 1  # the second read went through Arrow
    assert through_arrow[0]["description"].isna().sum() == 1
    for rows, arrow in zip(through_rows, through_arrow, strict=True):
        pd.testing.assert_frame_equal(rows, arrow)


def test_an_import_while_the_store_items_are_read_reads_them_again(seeded, monkeypatch):
    """A baseline rewritten between the two reads of the baselines that bracket the Arrow
    read (as an import does): the items are read again, as of after it."""
    real = arrow_reads.read_arrow_together
    b = s.baseline_items.c

    def imported_meanwhile(engine, queries):  # noqa: ANN001, ANN202
        frames = real(engine, queries)
        with engine.begin() as connection:
            contract = connection.execute(sa.select(sa.func.min(b.contract_id))).scalar_one()
            connection.execute(
                sa.update(s.baseline_items).where(b.contract_id == contract), {"amount": 4242}
            )
            stamp = s.import_baselines.c.contract_id == contract
            connection.execute(
                sa.update(s.import_baselines).where(stamp).values(imported_at=sa.func.now())
            )
        return frames

    import contract_sync.store.state as state_module

    monkeypatch.setattr(state_module, "read_arrow_together", imported_meanwhile)
    items, baseline_items, _baselines = _store_items(seeded.store)
    assert (baseline_items["amount"] == 4242).any()  # the values after the import
    monkeypatch.setenv(arrow_reads.SWITCH, "off")
    for again, now in zip(_store_items(seeded.store), (items, baseline_items), strict=False):
        pd.testing.assert_frame_equal(again, now)


def test_reads_together_see_the_database_as_of_one_moment(seeded):
    """An item deleted after the first read ended, before the second began: the second
    does not see it gone (one transaction; on SQLite, the reader's process blocks on a
    first read larger than its pipe until it is read)."""
    padding = {"sqlite": "printf('%.*c', 200000, 'x')", "postgresql": "repeat('x', 200000)"}
    large = sa.select(sa.literal_column(padding[seeded.store.dialect.name], sa.String).label("x"))
    items = sa.select(s.line_items.c.id)
    with seeded.store.connect() as connection:
        before = connection.execute(sa.select(sa.func.count()).select_from(s.line_items)).scalar()
    with arrow_reads._readers(seeded.store, [large, items], 1000) as readers:
        assert readers is not None
        assert sum(batch.num_rows for batch in next(readers)) >= 1
        with seeded.store.begin() as connection:
            last = sa.select(sa.func.max(s.line_items.c.id)).scalar_subquery()
            connection.execute(s.line_items.delete().where(s.line_items.c.id == last))
        read = sum(batch.num_rows for batch in next(readers))
    assert read - arrow_reads._skipped(seeded.store) == before
