"""The ERP read ahead of the run in a thread: every chunk in order, the read's error in its
place, and never a reader left behind its connection."""

from __future__ import annotations

import threading

import pytest

from contract_sync.erp.ahead import ReadAhead
from contract_sync.erp.vista import vista_groups


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
