"""The ERP read ahead of the run in a thread: every chunk in order, the read's error in its
place, and never a reader left behind its connection."""

from __future__ import annotations

import threading
import time

import pytest

from contract_sync.erp.ahead import ReadAhead
from contract_sync.erp.vista import vista_groups


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "erp-read-ahead"]


def test_every_chunk_comes_in_order():
    ahead = ReadAhead(iter(range(100)), depth=3)
    try:
        assert list(ahead) == list(range(100))
    finally:
        ahead.close()
    assert not _readers()


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


def test_closing_stops_a_reader_waiting_on_a_full_queue():
    pulled = []

    def endless():
        while True:
            pulled.append(len(pulled))
            yield pulled[-1]

    ahead = ReadAhead(endless(), depth=2)
    first = next(iter(ahead))
    time.sleep(0.3)  # the reader fills the queue and waits
    started = time.perf_counter()
    ahead.close()
    assert time.perf_counter() - started < 2
    assert first == 0 and len(pulled) <= 4  # never more than depth ahead (one in hand)
    assert not _readers()


def test_a_read_left_after_its_first_group_stops_its_reader(shared_seeded, monkeypatch):
    monkeypatch.setattr("contract_sync.erp.vista.STREAM_ROWS", 1)  # a reader with more to read
    with vista_groups(shared_seeded.erp, 1, None, group_items=5) as erp:
        first = next(erp.groups)
        assert len(first.items)
        assert _readers()
    assert not _readers()
