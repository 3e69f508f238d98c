"""A run's evaluation, a group of contracts at a time.

The scan reads the whole ERP a piece of contracts at a time (extract, hash; see
erp/groups.read_piece_items) and validates the changed contracts before anything is
written: an ERP value that cannot be taken, or a suite that cannot run, still fails the run
with the store untouched. Only the changed contracts' frames are kept (HeldFrames).
Then each group of them is compared and gated (`evaluations`), for the caller to plan and
apply before the next is loaded; the unchanged contracts go with the first group, as
headers only. Memory so holds about two groups, whatever the company's size.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import ITEM_COLUMNS, empty
from contract_sync.erp.frames import MAX_LISTED, ErpFrames, ErpReadError
from contract_sync.erp.read import read_contract_numbers, read_erp_groups
from contract_sync.errors import UserError
from contract_sync.hashing import hashes_and_counts
from contract_sync.held import HeldFrames
from contract_sync.hooks import Hooks
from contract_sync.settings import Settings
from contract_sync.stages import suite_worker
from contract_sync.stages.compare import (
    Comparison,
    compare,
    stored_hashes,
    unchanged_contracts,
)
from contract_sync.stages.gate import evaluate_gates, evaluate_import_gates
from contract_sync.stages.scope import in_project
from contract_sync.stages.validate import (
    Validation,
    combined,
    needs_suites,
    validate,
    with_report,
)
from contract_sync.store.state import StoreState, with_items
from contract_sync.store.validation_cache import ValidationCache

if TYPE_CHECKING:
    from contract_sync.run import Request


@dataclass(frozen=True)
class Evaluation:
    """One group's evaluation, up to the gates' decisions: what a plan is made from."""

    state: StoreState  # with the items of the compared contracts
    erp: ErpFrames  # the group's contracts; the items of the compared ones
    hashes: pd.Series
    unchanged: pd.Series  # same content hash as at the last import: not compared
    validation: Validation  # the whole run's
    comparison: Comparison | None  # None for a first import
    decisions: pd.DataFrame  # contract_no, reasons, eligible
    item_counts: pd.Series  # contract_no -> items in the ERP (of every contract in scope)


@dataclass(frozen=True)
class Scan:
    """What a run learnt reading the ERP, before any write."""

    state: StoreState
    contracts: pd.DataFrame  # every ERP contract in scope, in the ERP's order
    hashes: pd.Series  # aligned with contracts
    unchanged: pd.Series  # aligned with contracts
    item_counts: pd.Series  # contract_no -> items read (0 for none)
    validation: Validation  # of the changed contracts, with the run's report page
    held: HeldFrames  # the changed contracts' frames


class UnknownContract(UserError, LookupError):
    """A contract asked for by number that the ERP does not hold."""


def require_known(settings: Settings, request: Request, erp_contracts: pd.DataFrame) -> None:
    """Every contract the request names is in the ERP; else the error lists the nearest
    numbers the ERP holds for each one that is not."""
    missing = sorted(set(request.contracts or []) - set(erp_contracts["contract_no"]))
    if not missing:
        return
    known = read_contract_numbers(settings, request.company)
    lines = []
    for number in missing:
        nearest = difflib.get_close_matches(number, known, n=3, cutoff=0.5)
        hint = f" (nearest: {', '.join(nearest)})" if nearest else ""
        lines.append(f"{number!r}{hint}")
    raise UnknownContract(f"not in the ERP for company {request.company}: {'; '.join(lines)}")


def _require_all_read(scope: pd.Series, read: pd.Series) -> None:
    """Every contract in scope came in a group: a stream that ended early is an error, never
    a run over part of the company."""
    missing = scope[~scope.isin(read)]
    if len(missing):
        listed = ", ".join(map(repr, missing.head(MAX_LISTED)))
        raise ErpReadError(f"the ERP read ended before contracts {listed} were read")


def next_group(groups: Iterator[ErpFrames]) -> ErpFrames | None:
    """The ERP's next group of contracts (None when all were read)."""
    return next(groups, None)


def _validation_inputs(settings: Settings, run_id: str | None) -> dict:
    path = settings.validation_cache_path
    return {
        "suites_dir": settings.expectations_dir,
        "docs_dir": None,  # one report for the run, written when every group is validated
        "cache": None if path is None else ValidationCache(path),
        "run_id": run_id,
    }


def _wants_helper(settings: Settings, request: Request, first_import: bool, scope: int) -> bool:
    """Whether a run's scan loads Great Expectations in a helper process
    (stages/suite_worker.py): a large run whose process has not loaded it yet, and not a
    full refresh or first import, which validate everything (their memory is the largest)."""
    return (
        settings.validation_helper
        and scope >= suite_worker.MIN_CONTRACTS
        and not (first_import or request.full_refresh)
        and "great_expectations" not in sys.modules
    )


def scan(
    settings: Settings,
    state: StoreState,
    request: Request,
    held: HeldFrames,
    *,
    first_import: bool = False,
    docs_dir: Path | None = None,
    run_id: str | None = None,
    hooks: Hooks = Hooks(),
    group_items: int | None = None,
    helper: bool = False,
) -> Scan:
    """Extract and hash the ERP contracts in scope a piece at a time; the changed ones
    (every one for a first import or a full refresh) go to `held`, and are validated. With
    `helper` (a run's scan; not a preview's, whose process may serve many), in a helper
    process when the run qualifies (_wants_helper) and its changes stay within one group."""
    inputs = _validation_inputs(settings, run_id)
    nothing = pd.Series([], dtype="string")
    headers, hashes, unchanged, counts = [], [nothing], [], []
    with closing(suite_worker.SuiteWorker()) as suites:
        with read_erp_groups(settings, request.company, request.contracts, group_items) as erp:
            if first_import:
                require_known(settings, request, erp.contracts)
            scope = erp.contracts["contract_no"]
            if request.project is not None:
                everyone = ErpFrames(erp.contracts, empty(ITEM_COLUMNS))
                scope = in_project(everyone, state, request.project).contracts["contract_no"]
            want_helper = helper and _wants_helper(settings, request, first_import, len(scope))
            stored = stored_hashes(state)
            headers.append(erp.contracts.iloc[0:0])
            unchanged.append(pd.Series([], dtype=bool))
            while (group := hooks.stage("extract", next_group, groups=erp.groups)) is not None:
                if request.project is not None:  # else every contract read is in scope
                    group = group.only(group.contracts["contract_no"].isin(scope))
                group_hashes, group_counts = hooks.stage(
                    "hash", hashes_and_counts, contracts=group.contracts, items=group.items
                )
                if first_import or request.full_refresh:
                    same = pd.Series(False, index=group.contracts.index)
                else:
                    same = unchanged_contracts(stored, group.contracts, group_hashes)
                changed = group.only(~same)
                held.add(changed)
                if held.spilled:  # validated here: the helper's memory given back at once
                    suites.close()
                    want_helper = False
                if want_helper and needs_suites(changed, inputs["suites_dir"], inputs["cache"]):
                    suites.start()  # loads Great Expectations while the read goes on
                    want_helper = False
                headers.append(group.contracts)
                hashes.append(group_hashes)
                unchanged.append(same)
                counts.append(group_counts)
        contracts = pd.concat(headers)
        _require_all_read(scope, contracts["contract_no"])
        order = contracts.index.argsort(kind="stable")  # the ERP's order of contracts
        if group_items is None:  # changes not bounded by a group: validated here
            suites.close()
        # The changed contracts validated together, a group's items at a time: Great
        # Expectations then runs once for the few edits of an hourly sync, not once per group.
        validations, checked = [], [nothing]
        for changed in held.groups(group_items):
            validations.append(
                hooks.stage("validate", validate, erp=changed, suites=suites.run_suites, **inputs)
            )
            checked.append(changed.contracts["contract_no"])
    validation = combined(validations)
    checked = pd.concat(checked)
    if len(checked):
        validation = with_report(validation, checked, docs_dir, run_id)
    return Scan(
        state,
        contracts.iloc[order],
        pd.concat(hashes).iloc[order],
        pd.concat(unchanged).iloc[order],
        pd.concat([pd.Series([], dtype="int64"), *counts]),
        validation,
        held,
    )


def evaluations(
    store: sa.Engine,
    found: Scan,
    request: Request,
    *,
    first_import: bool = False,
    hooks: Hooks = Hooks(),
    group_items: int | None = None,
) -> Iterator[Evaluation]:
    """The scan's contracts compared and gated a group at a time: each group of held
    (changed) contracts, the unchanged ones with the first; at least one evaluation."""
    rest = found.contracts[found.unchanged]
    for changed in _held_or_nothing(found, group_items):
        contracts = pd.concat([rest, changed.contracts]).sort_index(kind="stable")
        rest = rest.iloc[0:0]
        erp = ErpFrames(contracts, changed.items)
        hashes, unchanged = found.hashes.loc[contracts.index], found.unchanged.loc[contracts.index]
        invalid = found.validation.invalid_contracts
        if first_import:
            decisions = hooks.stage(
                "gate",
                evaluate_import_gates,
                state=found.state,
                erp_contracts=contracts,
                invalid_contracts=invalid,
            )
            yield Evaluation(
                found.state,
                erp,
                hashes,
                unchanged,
                found.validation,
                None,
                decisions,
                found.item_counts,
            )
            continue
        state = hooks.stage(
            "load items",
            with_items,
            engine=store,
            state=found.state,
            contract_ids=found.state.contract_ids(changed.contracts["contract_no"]),
        )
        comparison = hooks.stage(
            "compare",
            compare,
            state=state,
            erp_contracts=changed.contracts,
            erp_items=changed.items,
        )
        decisions = hooks.stage(
            "gate",
            evaluate_gates,
            state=state,
            erp_contracts=contracts,
            invalid_contracts=invalid,
            comparison=comparison,
            policy=request.policy,
            unchanged=unchanged,
        )
        yield Evaluation(
            state,
            erp,
            hashes,
            unchanged,
            found.validation,
            comparison,
            decisions,
            found.item_counts,
        )


def _held_or_nothing(found: Scan, group_items: int | None) -> Iterator[ErpFrames]:
    nothing = True
    for frames in found.held.groups(group_items):
        nothing = False
        yield frames
    if nothing:
        yield ErpFrames(found.contracts.iloc[0:0], empty(ITEM_COLUMNS))
