"""The ERP read ahead of the run in a thread: every chunk in order, the read's error in its
place, and never a reader left behind its connection. And the read opened ahead, while the
run loads the store's state: the same groups, closed when never taken, and an error opening
it failing the run as any read's."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.erp.ahead import ReadAhead
from contract_sync.erp.frames import ErpReadError
from contract_sync.erp.read import erp_groups_opened_ahead, read_erp_groups
from contract_sync.erp.vista import vista_groups
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.store import schema as s


def _readers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "erp-read-ahead"}


def test_every_chunk_comes_in_order_and_then_the_end_for_good():
    ahead = ReadAhead(iter(range(100)), depth=3)
    try:
        assert list(ahead) == list(range(100))
        assert list(ahead) == []  # one pass: no waiting for more
    finally:
        ahead.close()
    assert not ahead._thread.is_alive()


def test_an_error_in_the_read_reaches_the_caller_after_the_chunks_before_it():
    def chunks():
        yield 1
        yield 2
        raise ConnectionError("the ERP went away")

    ahead = ReadAhead(chunks(), depth=5)
    came = []
    with pytest.raises(ConnectionError, match="went away"):
        came.extend(ahead)
    ahead.close()
    assert came == [1, 2]


def test_closing_stops_a_reader_waiting_on_a_full_queue_and_reading_on_raises():
    pulled = []
    waiting = threading.Event()

    def endless():
        while True:
            pulled.append(len(pulled))
            if len(pulled) > 3:  # depth 2 waiting, one taken, one in the reader's hands
                waiting.set()
            yield pulled[-1]

    ahead = ReadAhead(endless(), depth=2)
    assert next(ahead) == 0
    assert waiting.wait(5)
    ahead.close()
    assert not ahead._thread.is_alive()
    assert len(pulled) == 4  # never more than depth ahead of the caller, plus one in hand
    with pytest.raises(RuntimeError, match="closed"):
        next(ahead)


def test_a_read_left_early_stops_its_reader(shared_seeded, monkeypatch):
    monkeypatch.setattr("contract_sync.erp.vista.STREAM_ROWS", 1)  # a reader with more to read
    before = _readers()
    with pytest.raises(KeyError), vista_groups(shared_seeded.erp, 1, None, group_items=5) as erp:
        assert len(next(erp.groups).items)
        assert _readers() - before
        raise KeyError("the caller fails after its first group")
    assert not _readers() - before


def _threads(name: str) -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(name)}


def test_a_read_opened_ahead_gives_the_groups_of_a_read_opened_when_asked(shared_seeded):
    settings = Settings(erp_url=shared_seeded.erp_url, store_url=shared_seeded.store_url)
    with read_erp_groups(settings, 1, None, 5) as erp:
        expected = [group.items for group in erp.groups]
    with erp_groups_opened_ahead(settings, 1, None, 5) as opened, opened as erp:
        read = [group.items for group in erp.groups]
    assert len(read) == len(expected) > 1
    for got, want in zip(read, expected, strict=True):
        pd.testing.assert_frame_equal(got, want)


def test_a_read_opened_ahead_and_never_taken_is_closed_with_its_block(shared_seeded):
    """The run failed before its scan (say, loading the store's state): the read opened
    meanwhile leaves no thread behind."""
    settings = Settings(erp_url=shared_seeded.erp_url, store_url=shared_seeded.store_url)
    before = _threads("erp-")
    with (
        pytest.raises(KeyError),
        erp_groups_opened_ahead(settings, 1, None, 5),
    ):
        raise KeyError("the store's state could not be loaded")
    assert not _threads("erp-") - before


def test_a_run_whose_erp_read_cannot_open_is_recorded_failed_with_the_erp_s_words(seeded):
    with seeded.erp.begin() as connection:
        connection.execute(sa.text('DROP TABLE "JCCI"'))
    settings = Settings(erp_url=seeded.erp_url, store_url=seeded.store_url, data_docs=False)
    with pytest.raises(ErpReadError, match="JCCI"):
        reimport(settings, Request(company=1, actor="admin"))
    with seeded.store.connect() as connection:
        ends = connection.execute(sa.select(s.run_ends.c.status)).scalars().all()
    assert ends == ["failed"]
    assert not _threads("erp-")
