"""The garbage collector kept off the objects that live as long as the process.

Importing pandas, SQLAlchemy and Great Expectations leaves over 100,000 tracked objects
(classes, functions, module dicts) that are never garbage. Each full collection scans them
again: 60 to 190 ms a pass, and streaming a large ERP triggers a pass every few hundred
milliseconds (its row tuples pass through the older generations). A run freezes what
exists when it starts, and again once validation has imported Great Expectations; it
thaws them when it ends, so nothing frozen is kept from the collector for good.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class Frozen:
    def __init__(self) -> None:
        self.modules = len(sys.modules)

    def imports_since(self) -> None:
        """Freeze what modules imported since the last freeze. The garbage of the moment is
        collected first: frozen, it would stay until the run ends (a full refresh's peak
        grew 66 MB by it)."""
        if len(sys.modules) == self.modules:
            return
        gc.collect()
        gc.freeze()
        self.modules = len(sys.modules)


@contextmanager
def long_lived_frozen() -> Iterator[Frozen]:
    """Freeze the tracked objects of the moment for the block; thaw them after it."""
    gc.freeze()
    try:
        yield Frozen()
    finally:
        gc.unfreeze()
