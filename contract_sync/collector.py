"""The garbage collector kept off the objects that live as long as the process.

Importing pandas, SQLAlchemy and Great Expectations leaves over 100,000 tracked objects
(classes, functions, module dicts) that are never garbage. Each full collection scans them
again: 60 to 190 ms a pass, and streaming a large ERP triggers a pass every few hundred
milliseconds (its row tuples pass through the older generations). A run freezes what
exists when it starts, and again once its validation has imported Great Expectations; it
thaws them when it ends, so nothing frozen is kept from the collector for good.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

VALIDATION_LIBRARY = "great_expectations"  # imported when a run first validates
_lock = threading.Lock()
_holders = 0  # blocks in long_lived_frozen: the last one out thaws (unfreeze is global)


class Frozen:
    """What a run froze; see `after_validation`."""

    def __init__(self) -> None:
        self.had_validation = VALIDATION_LIBRARY in sys.modules

    def after_validation(self) -> None:
        """Once validation has imported its library: freeze everything alive again. The
        garbage of the moment is collected first, else it would stay until the run ends (a
        full refresh's peak grew 66 MB by it)."""
        if self.had_validation or VALIDATION_LIBRARY not in sys.modules:
            return
        gc.collect()
        gc.freeze()
        self.had_validation = True


@contextmanager
def long_lived_frozen() -> Iterator[Frozen]:
    """Freeze the tracked objects of the moment for the block; thaw them after it (after
    the last such block, when several overlap in one process)."""
    global _holders
    with _lock:
        _holders += 1
        gc.freeze()
    try:
        yield Frozen()
    finally:
        with _lock:
            _holders -= 1
            if not _holders:
                gc.unfreeze()
