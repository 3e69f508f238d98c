"""What keeps a large run fast and its memory flat, behind one small interface.

Three pieces of machinery, none of which changes a run's outcome:
- the changed contracts' frames are held between the scan and compare in memory up to a
  group's items, in files beyond (held.HeldFrames);
- a large run's suites run in a helper process that loads Great Expectations while the ERP
  is read (stages/suite_worker.py), ended as soon as the changes go beyond a group; a run a
  person waits on forks its helper as it begins;
- the garbage collector is kept off the objects that live as long as the process
  (collector.py), frozen again once validation has imported its library.

A scan hands each piece's changed contracts to `keep`, asks `groups` for them back, and
validates with `run_suites`; a preview's Pace holds everything in memory and starts no
helper (its process may serve many, and its changes are not bounded by a group).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from types import TracebackType

from contract_sync.collector import Frozen, long_lived_frozen
from contract_sync.held import HeldFrames
from contract_sync.model import ErpFrames, Validation
from contract_sync.settings import Settings
from contract_sync.stages import suite_worker


class Pace:
    """The run's held frames, its validation helper and its collector, for one block."""

    def __init__(
        self,
        group_items: int | None,
        *,
        helper: bool = False,
        freeze: bool = False,
        waited_on: bool = False,
    ) -> None:
        self.group_items = group_items  # None: everything in memory, validated at once
        self._allow_helper = helper
        self._waited_on = waited_on
        self._freeze = freeze
        self._want_helper = False
        self._needs_suites: Callable[[ErpFrames], bool] = lambda _changed: False
        self._held = HeldFrames(group_items)
        self._suites = suite_worker.SuiteWorker()
        self._frozen: Frozen | None = None
        self._stack = ExitStack()

    @classmethod
    def for_run(cls, settings: Settings, *, waited_on: bool = False) -> Pace:
        """A run's Pace; `waited_on`: a person waits for this run at the command line."""
        return cls(
            settings.group_items,
            helper=settings.validation_helper,
            freeze=True,
            waited_on=waited_on,
        )

    @classmethod
    def for_preview(cls) -> Pace:
        return cls(None)

    def __enter__(self) -> Pace:
        if self._freeze:
            self._frozen = self._stack.enter_context(long_lived_frozen())
        self._stack.enter_context(self._held)
        self._stack.enter_context(closing(self._suites))
        if self._allow_helper and self._waited_on and "great_expectations" not in sys.modules:
            try:
                self._suites.start(forked=True)  # GX loads while the run reads; ended if unused
            except BaseException:  # a Ctrl-C held back from the fork
                self._stack.close()
                raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()

    def plan_helper(
        self, contracts_in_scope: int, validates_all: bool, needs_suites: Callable
    ) -> None:
        """Whether this scan may start a helper: a run's (not a preview's) of at least
        suite_worker.MIN_CONTRACTS contracts in a process that has not loaded Great
        Expectations, and not a full refresh or first import, which validate everything
        (their memory is the largest). It starts at the first changed contract that
        `needs_suites` (one without a kept verdict)."""
        self._want_helper = (
            self._allow_helper
            and contracts_in_scope >= suite_worker.MIN_CONTRACTS
            and not validates_all
            and "great_expectations" not in sys.modules
        )
        self._needs_suites = needs_suites

    def keep(self, changed: ErpFrames) -> None:
        """Hold a piece's changed contracts for compare; start or end the helper as they
        say: changes spilled to files are validated here, the helper's memory given back."""
        self._held.add(changed)
        if self._held.spilled:
            self._suites.close()
            self._want_helper = False
        if self._want_helper and self._needs_suites(changed):
            self._suites.start()  # loads Great Expectations while the read goes on
            self._want_helper = False

    def read_done(self) -> None:
        """The ERP is read: changes not bounded by a group are validated here."""
        if self.group_items is None:
            self._suites.close()

    def groups(self, group_items: int | None = None) -> Iterator[ErpFrames]:
        """The held contracts, a group at a time (this Pace's group when not given)."""
        return self._held.groups(group_items if group_items is not None else self.group_items)

    def run_suites(self, erp: ErpFrames, suites_dir: Path) -> Validation:
        """The suites on `erp`, in the helper when it runs."""
        return self._suites.run_suites(erp, suites_dir)

    def validated(self) -> None:
        """Validation is over: the helper ends, and what validation imported is kept off
        the collector too."""
        self._suites.close()
        if self._frozen is not None:
            self._frozen.after_validation()
