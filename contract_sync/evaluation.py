"""A run's evaluation, a group of contracts at a time: each group of the changed
contracts the scan kept is compared and gated, for the caller to plan and apply; the
unchanged contracts go with the first group, as headers only. While the caller works on a
group, the next group's ERP frames are held and its store items read (items_ahead): memory
holds about three groups, whatever the company's size (at 1M items in groups of 100,000,
a full refresh peaked at 888 MB, run and validation helper together)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import ITEM_COLUMNS, empty
from contract_sync.hooks import Hooks
from contract_sync.items_ahead import ItemsAhead, load_items
from contract_sync.model import ErpFrames, Evaluation, Request, Scan
from contract_sync.project_store import SQL_STORE, ProjectStore, read_store_items
from contract_sync.stages.compare import compare
from contract_sync.stages.gate import evaluate_gates, evaluate_import_gates


def evaluations(
    store: sa.Engine,
    found: Scan,
    request: Request,
    *,
    first_import: bool = False,
    hooks: Hooks = Hooks(),
    target: ProjectStore = SQL_STORE,
) -> Iterator[Evaluation]:
    """The scan's contracts compared and gated a group at a time: each group of held
    (changed) contracts, the unchanged ones with the first; at least one evaluation. A
    group's store items are read while the one before it is planned and applied (see
    items_ahead), except for a first import (none to read) and from a remote store (whose
    own read comes first)."""
    rest = found.contracts[found.unchanged]
    ahead = ItemsAhead(store, found.state, ahead=not (first_import or target.remote))
    with closing(ahead):
        for changed, following in _with_next(_held_or_nothing(found)):
            contracts = pd.concat([rest, changed.contracts]).sort_index(kind="stable")
            rest = rest.iloc[0:0]
            erp = ErpFrames(contracts, changed.items)
            hashes = found.hashes.loc[contracts.index]
            unchanged = found.unchanged.loc[contracts.index]
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
            contract_ids = found.state.contract_ids(changed.contracts["contract_no"])
            if target.remote:
                hooks.stage(
                    "read remote items",
                    read_store_items,
                    store=target,
                    ledger=store,
                    erp_company=request.company,
                    contract_ids=contract_ids.tolist(),
                )
            if following is not None:  # read meanwhile (this group's was, unless the first)
                ahead.ask(found.state.contract_ids(following.contracts["contract_no"]))
            state = hooks.stage("load items", load_items, ahead=ahead, contract_ids=contract_ids)
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


def _with_next(groups: Iterator[ErpFrames]) -> Iterator[tuple[ErpFrames, ErpFrames | None]]:
    """Each group with the one after it (None after the last)."""
    current = next(groups)
    for following in groups:
        yield current, following
        current = following
    yield current, None


def _held_or_nothing(found: Scan) -> Iterator[ErpFrames]:
    nothing = True
    for frames in found.held.groups():
        nothing = False
        yield frames
    if nothing:
        yield ErpFrames(found.contracts.iloc[0:0], empty(ITEM_COLUMNS))
