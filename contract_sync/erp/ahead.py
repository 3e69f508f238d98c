"""The ERP read a few chunks ahead of the run, in a thread of its own.

While the run finishes and hashes one piece, the database works on the next rows (and a
remote one sends them). Building rows and frames still takes the interpreter's lock: only
the driver's wait on the database overlaps with the run's work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from queue import Empty, Full, Queue
from typing import Generic, TypeVar

T = TypeVar("T")
_POLL_SECONDS = 0.1  # how soon either side notices the other has stopped


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


class ReadAhead(Generic[T]):
    """Iterate `chunks` with up to `depth` of them waiting ahead of the caller (and one in
    the reader's hands). An error in the read is raised to the caller in the read's place.
    `close()` (always call it, before the connection closes) stops the reader and waits for
    it: it never outlives the connection it uses. One pass; after the end or `close()`,
    iterating raises instead of waiting."""

    def __init__(self, chunks: Iterable[T], depth: int) -> None:
        self._queue: Queue = Queue(maxsize=depth)
        self._closed = threading.Event()
        self._ended = False
        self._thread = threading.Thread(
            target=self._pull, args=(iter(chunks),), name="erp-read-ahead", daemon=True
        )
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except Full:
                continue
        return False

    def _pull(self, chunks: Iterator[T]) -> None:
        try:
            for chunk in chunks:
                if not self._put(chunk):
                    return
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            self._put(_Failed(error))
            return
        self._put(_DONE)

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        while True:
            if self._closed.is_set():
                raise RuntimeError("the ERP read was closed")
            try:
                item = self._queue.get(timeout=_POLL_SECONDS)
                break
            except Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the ERP read stopped without a word") from None
        if item is _DONE:
            self._ended = True
            raise StopIteration
        if isinstance(item, _Failed):
            self._ended = True
            raise item.error
        return item

    def close(self) -> None:
        self._closed.set()  # a reader waiting on a full queue sees it within _POLL_SECONDS
        self._thread.join()
