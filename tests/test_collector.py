"""A run keeps the process's long-lived objects out of the collector's passes, and gives
them back when it ends, failed or not."""

from __future__ import annotations

import gc
import sys
import weakref
from types import ModuleType

import pytest

from contract_sync.collector import long_lived_frozen
from contract_sync.erp.frames import ErpReadError
from contract_sync.run import Hooks, Request, reimport
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


def test_what_was_imported_since_is_frozen_and_the_garbage_of_the_moment_collected(
    monkeypatch,
):
    with long_lived_frozen() as frozen:
        before = gc.get_freeze_count()
        frozen.imports_since()
        assert gc.get_freeze_count() == before  # nothing imported: nothing to do

        cycle = _Node()
        cycle.itself = cycle
        garbage = weakref.ref(cycle)
        del cycle
        monkeypatch.setitem(sys.modules, "contract_sync_imported_meanwhile", ModuleType("m"))
        frozen.imports_since()
        assert garbage() is None  # collected, not kept frozen until the run ends
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == 0
