"""What keeps a large run fast and its memory flat, behind one small interface.

Three pieces of machinery, none of which changes a run's outcome:
- the changed contracts' frames are held between the scan and compare in memory up to a
  group's items, in files beyond (held.HeldFrames);
- where the suites need Great Expectations (an expectation stages/suite_checks.py does
  not check), a large run's suites run in a helper process that loads it while the ERP
  is read (stages/suite_worker.py); when the changes go beyond a group, each validation
  holds two groups and is split between the helper and the run, on two cores; a run a
  person waits on forks its helper as it begins;
- the garbage collector is kept off the objects that live as long as the process
  (collector.py), frozen again once validation has imported its library.

A scan hands each piece's changed contracts to `keep`, asks `validation_groups` for them
back, and validates with `run_suites`; evaluation takes them again by `groups`. A preview's
Pace holds everything in memory and starts no helper (its process may serve many, and its
changes are not bounded by a group).
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
from contract_sync.stages.validate import checked_without_gx, contract_local

LANES = 2  # processes that validate at once: the run and its helper


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
            helper=settings.validation_helper and not checked_without_gx(settings.expectations_dir),
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

    def plan_helper(self, contracts_in_scope: int, needs_suites: Callable) -> None:
        """Whether this scan may start a helper: a run's (not a preview's) of at least
        suite_worker.MIN_CONTRACTS contracts in a process that has not loaded Great
        Expectations. It starts at the first changed contract that `needs_suites` (one
        without a kept verdict)."""
        self._want_helper = (
            self._allow_helper
            and contracts_in_scope >= suite_worker.MIN_CONTRACTS
            and "great_expectations" not in sys.modules
        )
        self._needs_suites = needs_suites

    def keep(self, changed: ErpFrames) -> None:
        """Hold a piece's changed contracts for compare; start the helper as they say."""
        self._held.add(changed)
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

    def validation_groups(self, suites_dir: Path) -> Iterator[ErpFrames]:
        """The held contracts, a validation at a time: two groups at once when changes went
        beyond a group, the helper runs and the suites check each contract on its own
        (run_suites splits them: each process then validates about a group), else a group."""
        split = (
            self._held.spilled
            and self._suites.running
            and self.group_items is not None
            and contract_local(suites_dir)
        )
        return self.groups(self.group_items * LANES if split else None)

    def run_suites(self, erp: ErpFrames, suites_dir: Path) -> Validation:
        """The suites on `erp`: in the helper when it runs; when changes went beyond a group,
        about half in the helper and the rest here at the same time."""
        if self._held.spilled:
            return self._suites.run_split(erp, suites_dir)
        return self._suites.run_suites(erp, suites_dir)

    def validated(self) -> None:
        """Validation is over: the helper ends, and what validation imported is kept off
        the collector too."""
        self._suites.close()
        if self._frozen is not None:
            self._frozen.after_validation()
