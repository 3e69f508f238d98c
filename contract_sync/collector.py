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
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """Freeze the tracked objects of the moment for the block (see `freeze_more`)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def freeze_more() -> None:
    """Inside `long_lived_frozen`: freeze what was imported since it began."""
    gc.freeze()
