"""Great Expectations imported without the modules it loads for expectations we never run.

When it loads, GX imports scipy.stats and altair for its KL-divergence and KS-test
expectations and their charts, and jsonschema for its JSON-schema expectation, and uses
them only inside those expectations' functions. That is more than half of its import time
(0.9 s of 1.9 s for the first two, 0.16 s for jsonschema), paid by every run that
validates. They are deferred: a stand-in takes their place in sys.modules until one of
their attributes is first asked for; the real module is then imported and the stand-in
takes its attributes.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

DEFERRED = ("scipy.stats", "altair", "jsonschema")
_SWAP = threading.Lock()


class _StandIn(types.ModuleType):
    """A module not imported yet: the first attribute asked for imports it."""

    def __getattr__(self, attribute: str) -> object:
        name = self.__name__
        with _SWAP:  # never two threads removing it, nor one removing the real module
            if sys.modules.get(name) is self:
                del sys.modules[name]
        real = importlib.import_module(name)  # two threads at once: the import lock orders them
        self.__dict__.update(real.__dict__)
        return getattr(real, attribute)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)  # imports the parent package (scipy: 3 ms)
    except ImportError:
        return
    if spec is None:
        return
    stand_in = _StandIn(name)
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in


def great_expectations() -> types.ModuleType:
    """The great_expectations module, imported the first time with DEFERRED deferred."""
    if "great_expectations" not in sys.modules:
        for name in DEFERRED:
            _defer(name)
    import great_expectations

    return great_expectations
