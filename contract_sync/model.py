"""The run's data types, in one place: what a run is asked (Request, Origin), what it reads
(ErpFrames, StoreState), what its stages make of it (Validation, Comparison, Scan,
Evaluation, Plan) and what it returns (RunResult). Types only: every module that makes or
reads one imports it from here, and this module imports no stage, store or report."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from contract_sync.columns import BASELINE_ROW, CHANGE_COUNTS, is_in, normal_code
from contract_sync.vocabulary import ConflictPolicy, Trigger

# What a contract's audit record says of its state (see contract_sync.stages.plan.repeats).
STATE_COLUMNS = [
    "outcome",
    "reasons",
    "erp_hash",
    "project_id",
    "amount_before",
    "version_before",
    "failed_expectations",
]
LAST_RECORDED_COLUMNS = ["contract_no", *STATE_COLUMNS, "actor"]
COUNT_COLUMNS = [*CHANGE_COUNTS, "items_unchanged"]


@dataclass(frozen=True)
class Request:
    """What a run is asked to do, resolved (contract_sync.requests.resolve): contract
    numbers in their normal form (contract_sync.columns.normal_code), each once."""

    company: int
    actor: str
    contracts: list[str] | None = None  # ERP contract numbers; every contract when None
    project: str | None = None  # only the contracts of this store project
    dry_run: bool = False
    policy: ConflictPolicy = ConflictPolicy.erp_wins
    full_refresh: bool = False  # compare also the contracts unchanged since their last import

    def __post_init__(self) -> None:
        if self.contracts is not None:
            codes = normal_code(pd.Series(self.contracts, dtype="string"))
            object.__setattr__(self, "contracts", list(dict.fromkeys(codes)))


@dataclass(frozen=True)
class Origin:
    """Where a run comes from, for its run record."""

    trigger: Trigger = Trigger.cli
    deployment: str | None = None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class ErpFrames:
    """What every ERP connector returns: contract headers and their items."""

    contracts: pd.DataFrame
    items: pd.DataFrame

    @property
    def empty(self) -> bool:
        """No contract and no item: nothing to check, hold or write."""
        return self.contracts.empty and self.items.empty

    def only(self, keep: pd.Series) -> ErpFrames:
        """The contracts where `keep` (aligned with `contracts`) holds, with their items."""
        if not keep.any():  # an hourly sync's usual group: no pass over the items
            return ErpFrames(self.contracts.iloc[0:0], self.items.iloc[0:0])
        numbers = self.contracts.loc[keep, "contract_no"]
        return ErpFrames(
            self.contracts[keep], self.items[is_in(self.items["contract_no"], numbers)]
        )


@dataclass(frozen=True)
class StoreState:
    """The store side of a run for one company and actor (contract_sync.store.state)."""

    company_id: int
    erp_type: str | None
    integration_configured: bool
    actor: str
    actor_known: bool  # the actor is a store user (logins are matched exactly)
    erp_integrations_level: str
    main_contracts_levels: pd.DataFrame  # project_id, level
    synced_jobs: pd.DataFrame  # job_no, project_id
    projects: pd.DataFrame  # project_id, project (its number), project_name
    contracts: pd.DataFrame  # contract_id, project_id, contract_no, status, version, header fields
    baselines: pd.DataFrame  # contract_id, erp_hash, header fields
    # Items are loaded only for the contracts that go to compare (see with_items).
    items: pd.DataFrame  # contract_id, item_id, contract_no, item_no, item fields
    baseline_items: pd.DataFrame  # contract_id, item_no, item fields
    # Each contract's last audit record: contract_no, its state columns, the run's actor.
    last_recorded: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=LAST_RECORDED_COLUMNS)
    )
    # Contracts written in part (a store without transactions, a run stopped midway):
    # contract_no, kind, run_id, started_at, detail. The next run that writes them completes.
    partial: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["contract_no", "kind", "run_id", "started_at", "detail"]
        )
    )

    def single_contracts(self) -> pd.DataFrame:
        """Store contracts whose origin is attached to one project only: the ones a diff is
        for (the others are blocked as contract_in_multiple_projects)."""
        return self.contracts[~self.contracts["contract_no"].duplicated(keep=False)]

    def contract_ids(self, contract_nos: pd.Series) -> pd.Series:
        """Store ids of these ERP contracts, where each is in one project only."""
        single = self.single_contracts()
        return single.loc[is_in(single["contract_no"], contract_nos), "contract_id"]


@dataclass(frozen=True)
class Validation:
    invalid_contracts: pd.Series  # contracts in scope with at least one failing row
    failures: pd.DataFrame  # contract_no (also of orphan items), failed_expectations (dicts)
    docs_path: Path | None  # this run's validation report (contract_sync.reports.validation)
    reused: int = 0  # contracts whose verdict was taken from an earlier validation


NO_FAILURES = Validation(
    pd.Series([], dtype="string"),
    pd.DataFrame({"contract_no": [], "failed_expectations": []}),
    None,
)


@dataclass(frozen=True)
class Comparison:
    contracts: pd.DataFrame  # one row per diffable contract: counts, amounts, target header
    items: pd.DataFrame  # one row per item of a diffable contract: change and target values
    # One row per written field, added or removed item (audited) and kept store edit (not).
    changes: pd.DataFrame


class ChangedFrames(Protocol):
    """The changed contracts' frames a scan keeps for compare (contract_sync.pace)."""

    def groups(self, group_items: int | None) -> Iterator[ErpFrames]: ...


@dataclass(frozen=True)
class Scan:
    """What a run learnt reading the ERP, before any write."""

    state: StoreState
    contracts: pd.DataFrame  # every ERP contract in scope, in the ERP's order
    hashes: pd.Series  # aligned with contracts
    unchanged: pd.Series  # aligned with contracts
    item_counts: pd.Series  # contract_no -> items read (0 for none)
    validation: Validation  # of the changed contracts, with the run's report page
    held: ChangedFrames  # the changed contracts' frames


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
class Plan:
    """Everything apply needs, computed before anything is written."""

    audit: pd.DataFrame  # one row per contract in scope, outcome set where already known
    comparison: Comparison | None  # None for a first import
    erp: ErpFrames
    company_id: int
    dry_run: bool
    settle: pd.Series  # contracts with nothing to re-import whose ERP hash moved: see apply
    # Per contract to re-import: the digest of its store items as compare saw them; apply
    # refuses (stale) a contract whose items changed since, version bumped or not.
    store_digests: dict[str, str] = field(default_factory=dict)
    # Contracts whose state is the one last recorded: counted in the run's end, not recorded.
    repeated: pd.Series = field(default_factory=lambda: pd.Series(dtype=bool))
    # The baseline items that writing the contracts to re-import or settle changes
    # (baseline_changes), and by contract_id the ERP hash of the baseline they were computed
    # from: apply refuses (stale) a contract whose baseline moved since.
    baseline_item_changes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=BASELINE_ROW)
    )
    compared_baseline_hashes: pd.Series = field(default_factory=lambda: pd.Series(dtype="string"))
    # Baselines written before they kept the ERP status (NULL) of contracts unchanged since:
    # contract_id, erp_hash, erp_status (the ERP's now, so the one of the last import).
    unrecorded_statuses: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["contract_id", "erp_hash", "erp_status"])
    )
    # Per contract to write: what the write replaces that its audit rows do not say
    # (contract_sync.stages.undo_images): contract_id, image.
    undo_images: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["contract_id", "image"])
    )


@dataclass(frozen=True)
class RunResult:
    run_id: str
    audit: pd.DataFrame  # one row per contract in scope, as recorded
    scan: Scan  # every contract's header, hash and verdict; the store state it started from
