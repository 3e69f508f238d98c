"""A run's scan: the whole ERP in scope read a piece of contracts at a time (extract, hash;
see erp/groups.read_piece_items), the changed contracts kept (Pace) and validated before
anything is written: an ERP value that cannot be taken, or a suite that cannot run, still
fails the run with the store untouched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pandas as pd

from contract_sync.columns import ITEM_COLUMNS, empty, is_in
from contract_sync.erp.frames import MAX_LISTED, ErpReadError
from contract_sync.erp.groups import ErpGroups
from contract_sync.hashing import hashes_and_counts, header_hashes
from contract_sync.hooks import Hooks
from contract_sync.model import ErpFrames, Request, Scan, StoreState, Validation
from contract_sync.pace import Pace
from contract_sync.settings import Settings
from contract_sync.stages.compare import stored_hashes, unchanged_contracts
from contract_sync.stages.scope import in_project
from contract_sync.stages.validate import combined, needs_suites, validate
from contract_sync.store.validation_cache import ValidationCache

NO_CONTRACTS = pd.Series([], dtype="string")


@dataclass(frozen=True)
class _Read:
    """What reading the ERP in scope found, every column aligned with `contracts`."""

    contracts: pd.DataFrame
    hashes: pd.Series
    unchanged: pd.Series
    item_counts: pd.Series  # contract_no -> items read (0 for none)


def scan(
    settings: Settings,
    state: StoreState,
    request: Request,
    pace: Pace,
    erp: AbstractContextManager[ErpGroups],
    *,
    first_import: bool = False,
    run_id: str | None = None,
    hooks: Hooks = Hooks(),
) -> Scan:
    """Extract and hash the ERP contracts in scope (`erp`, their read in groups of
    `pace.group_items`: see erp.read.erp_groups_opened_ahead); keep the changed ones (every
    one for a first import or a full refresh) in `pace`, and validate them."""
    validates_all = first_import or request.full_refresh
    cache = _validation_cache(settings)
    read = read_changed(settings, state, request, pace, erp, validates_all, cache, hooks)
    validation = validate_changed(settings, pace, cache, run_id, hooks)
    pace.validated()
    return Scan(
        state, read.contracts, read.hashes, read.unchanged, read.item_counts, validation, pace
    )


def read_changed(
    settings: Settings,
    state: StoreState,
    request: Request,
    pace: Pace,
    erp_read: AbstractContextManager[ErpGroups],
    validates_all: bool,
    cache: ValidationCache | None,
    hooks: Hooks,
) -> _Read:
    """Every contract in scope read, hashed and found changed or not; the changed ones kept
    in `pace`. A stream that ends before every contract in scope was read is an error."""
    stored = stored_hashes(state)
    pieces: list[_Read] = []
    with erp_read as erp:
        scope = _scope(erp, state, request)
        pace.plan_helper(len(scope), _needs_suites(settings, cache))
        headers = header_hashes(erp.contracts)
        while (piece := _next_piece(erp, hooks)) is not None:
            if request.project is not None:  # else every contract read is in scope
                piece = piece.only(is_in(piece.contracts["contract_no"], scope))
            hashes, counts = hooks.stage(
                "hash",
                hashes_and_counts,
                contracts=piece.contracts,
                items=piece.items,
                headers=headers,
            )
            same = _unchanged(stored, piece.contracts, hashes, validates_all)
            pace.keep(piece.only(~same))
            pieces.append(_Read(piece.contracts, hashes, same, counts))
        read = _joined(pieces, erp.contracts.iloc[0:0])
    _require_all_read(scope, read.contracts["contract_no"])
    pace.read_done()
    return read


def validate_changed(
    settings: Settings,
    pace: Pace,
    cache: ValidationCache | None,
    run_id: str | None,
    hooks: Hooks,
) -> Validation:
    """The kept contracts validated together, a group's items at a time: Great Expectations
    then runs once for the few edits of an hourly sync, not once per group."""
    validations = [
        hooks.stage(
            "validate",
            validate,
            erp=changed,
            suites_dir=settings.expectations_dir,
            cache=cache,
            run_id=run_id,
            suites=pace.run_suites,
        )
        for changed in pace.validation_groups(settings.expectations_dir)
    ]
    return combined(validations)


def next_group(groups: Iterator[ErpFrames]) -> ErpFrames | None:
    """The ERP's next piece of contracts (None when all were read)."""
    return next(groups, None)


def _next_piece(erp: ErpGroups, hooks: Hooks) -> ErpFrames | None:
    return hooks.stage("extract", next_group, groups=erp.groups)


def _scope(erp: ErpGroups, state: StoreState, request: Request) -> pd.Series:
    """The numbers of the contracts in scope: every one read, or a project's."""
    if request.project is None:
        return erp.contracts["contract_no"]
    everyone = ErpFrames(erp.contracts, empty(ITEM_COLUMNS))
    return in_project(everyone, state, request.project).contracts["contract_no"]


def _unchanged(
    stored: pd.Series, contracts: pd.DataFrame, hashes: pd.Series, validates_all: bool
) -> pd.Series:
    """Contracts whose content hash is the one of their last import (none when every
    contract is compared)."""
    if validates_all:
        return pd.Series(False, index=contracts.index)
    return unchanged_contracts(stored, contracts, hashes)


def _joined(pieces: list[_Read], no_contracts: pd.DataFrame) -> _Read:
    """The pieces as one, in the ERP's order of contracts."""
    contracts = pd.concat([no_contracts, *(p.contracts for p in pieces)])
    order = contracts.index.argsort(kind="stable")
    return _Read(
        contracts.iloc[order],
        pd.concat([NO_CONTRACTS, *(p.hashes for p in pieces)]).iloc[order],
        pd.concat([pd.Series([], dtype=bool), *(p.unchanged for p in pieces)]).iloc[order],
        pd.concat([pd.Series([], dtype="int64"), *(p.item_counts for p in pieces)]),
    )


def _require_all_read(scope: pd.Series, read: pd.Series) -> None:
    """Every contract in scope came in a piece: a stream that ended early is an error, never
    a run over part of the company."""
    missing = scope[~scope.isin(read)]
    if len(missing):
        listed = ", ".join(map(repr, missing.head(MAX_LISTED)))
        raise ErpReadError(f"the ERP read ended before contracts {listed} were read")


def _validation_cache(settings: Settings) -> ValidationCache | None:
    path = settings.validation_cache_path
    return None if path is None else ValidationCache(path)


def _needs_suites(settings: Settings, cache: ValidationCache | None):  # noqa: ANN202
    """Whether validating these changed contracts would run the suites (no kept verdict)."""
    return lambda changed: needs_suites(changed, settings.expectations_dir, cache)
