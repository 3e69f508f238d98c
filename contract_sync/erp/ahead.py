"""The ERP read a few chunks ahead of the run, in a thread of its own.

While the run finishes and hashes one group, the database works on the next rows (and a
remote one sends them): the driver waits on the database without the interpreter's lock,
so the two overlap even on one core's worth of Python.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from queue import Full, Queue
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()
_POLL_SECONDS = 0.1  # how soon the reader notices it was closed while the queue is full


class ReadAhead(Generic[T]):
    """Iterate `chunks` up to `depth` ahead of the caller. An error in the read is raised
    to the caller in the read's place. `close()` (always call it, before the connection
    closes) stops the reader and waits for it: it never outlives the connection it uses."""

    def __init__(self, chunks: Iterable[T], depth: int) -> None:
        self._queue: Queue = Queue(maxsize=depth)
        self._closed = threading.Event()
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
            self._put(error)
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._closed.set()  # a reader waiting on a full queue sees it within _POLL_SECONDS
        self._thread.join()
