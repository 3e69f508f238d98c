"""A run keeps the process's long-lived objects out of the collector's passes, and gives
them back when it ends, failed or not."""

from __future__ import annotations

import gc
import sys
import weakref
from types import ModuleType

import pytest

from contract_sync.collector import VALIDATION_LIBRARY, long_lived_frozen
from contract_sync.erp.frames import ErpReadError
from contract_sync.hooks import Hooks
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import Settings


def _settings(seeded) -> Settings:
    return Settings(
        erp_url=seeded.erp_url, store_url=seeded.store_url, data_docs=False, group_items=50
    )


def test_a_run_freezes_long_lived_objects_while_it_runs_and_thaws_them(seeded):
    frozen: dict[str, int] = {}

    def watch(name, function, /, **arguments):
        frozen.setdefault(name, gc.get_freeze_count())
        return function(**arguments)

    assert gc.get_freeze_count() == 0
    edited = reimport(
        _settings(seeded),
        Request(company=1, actor="admin", full_refresh=True),
        hooks=Hooks(run_stage=watch),
    )
    assert len(edited.audit)
    assert {"extract", "validate", "apply"} <= frozen.keys()
    assert frozen["extract"] > 0 and frozen["apply"] > 0  # (a frozen object can still die)
    assert gc.get_freeze_count() == 0


def test_a_failed_run_thaws_them_too(seeded):
    def fail_read(name, function, /, **arguments):
        if name == "extract":
            assert gc.get_freeze_count() > 0
            raise ErpReadError("the ERP went away")
        return function(**arguments)

    with pytest.raises(ErpReadError):
        reimport(
            _settings(seeded), Request(company=1, actor="admin"), hooks=Hooks(run_stage=fail_read)
        )
    assert gc.get_freeze_count() == 0


class _Node:
    pass


def _frozen(thing: object) -> bool:
    """In no generation the collector scans (the freeze count moves as frozen objects die)."""
    return not any(any(o is thing for o in gc.get_objects(g)) for g in range(3))


def test_after_validation_freezes_again_with_the_garbage_of_the_moment_collected(monkeypatch):
    monkeypatch.delitem(sys.modules, VALIDATION_LIBRARY, raising=False)
    gc.disable()  # no collection but the one under test
    try:
        with long_lived_frozen() as frozen:
            young = _Node()
            frozen.after_validation()
            assert not _frozen(young)  # nothing validated yet: nothing to do

            cycle = _Node()
            cycle.itself = cycle
            garbage = weakref.ref(cycle)
            del cycle
            monkeypatch.setitem(sys.modules, VALIDATION_LIBRARY, ModuleType(VALIDATION_LIBRARY))
            frozen.after_validation()
            assert _frozen(young)
            assert garbage() is None  # collected, not kept frozen until the run ends
    finally:
        gc.enable()
    assert not _frozen(young)  # thawed


def test_overlapping_blocks_thaw_when_the_last_one_ends():
    with long_lived_frozen():
        with long_lived_frozen():
            pass
        assert gc.get_freeze_count() > 0  # the outer block still holds them
    assert gc.get_freeze_count() == 0
