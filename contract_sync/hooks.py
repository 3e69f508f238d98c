"""How a caller takes part in a run (contract_sync.run): its stages, timing, progress."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from contract_sync.model import Plan


def _call(_name: str, function: Callable[..., Any], /, **arguments: Any) -> Any:
    return function(**arguments)


@dataclass(frozen=True)
class Hooks:
    """How a caller takes part in a run; every field has a do-nothing default."""

    # Runs one stage: (stage name, the core's function, its keyword arguments) -> result.
    # A run works through its contracts in groups: a stage runs once per group.
    run_stage: Callable[..., Any] = _call
    # Wraps each stage, e.g. a stopwatch: timer("compare") is a context manager.
    timer: Callable[[str], AbstractContextManager] = lambda _stage: nullcontext()
    # Called as contracts are written: progress(done, total). Until the last group is
    # planned, total counts each changed contract not yet planned as one to write.
    progress: Callable[[int, int], None] | None = None
    # Sees each group's plan before it is applied.
    planned: Callable[[Plan], None] | None = None

    def stage(self, name: str, function: Callable[..., Any], /, **arguments: Any) -> Any:
        with self.timer(name):
            return self.run_stage(name, function, **arguments)
