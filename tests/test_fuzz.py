"""Fuzzing the ERP side, on both backends, through the files and the Vista connectors.

A company of many contracts, each mutated at most once by a generated mutation (see
tests/fuzz_mutations.py: every class of bad or odd value per column, derived from the
canonical columns and the store's limits), then synced in one run. Invariants:

- nothing invalid reaches the store: every stored value of the company is valid (required
  text not blank, codes known, within the store's limits and the suites' rules);
- a mutation to an invalid value quarantines its contract (invalid_erp_data), the report
  naming its row and field, and leaves the contract in the store as it was;
- legitimate text (unicode, `=cmd`, `<script>`, a blank optional field) lands exactly as
  the connector read it;
- no healthy contract is blocked: every contract not mutated ends as a dry run before the
  mutations said it would;
- no traceback: the run completes; what the files connector cannot read at all (a blank
  or repeated contract number, bytes not in the export's encoding, a short row) fails its
  run with a one-line error and the store untouched.

FUZZ_MUTATIONS (per backend, shared by the two connectors; 300 by default) sets the size:
`make fuzz` runs 10,000. FUZZ_SEED picks another seed. Each run prints its figures.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.columns import HEADER_FIELDS, ITEM_FIELDS
from contract_sync.demo.export import write_files
from contract_sync.demo.generator import EDGE_CASES, edge_case_contracts
from contract_sync.demo.seed import seed
from contract_sync.erp.vista import read_vista
from contract_sync.errors import UserError
from contract_sync.model import ErpFrames, Request
from contract_sync.run import reimport
from contract_sync.settings import ErpConnector, Settings
from contract_sync.stages.store_limits import (
    BLANK,
    CODE_CHARACTERS,
    CONTROL_CHARACTERS,
    column_limits,
)
from contract_sync.store import schema as s
from contract_sync.vocabulary import Outcome, Reason
from tests.conftest import new_sides
from tests.fuzz_mutations import Column, Expect, Mutation, conditions, fuzzed_columns, plan
from tests.fuzz_sources import FilesSource, VistaSource

MUTATIONS = int(os.environ.get("FUZZ_MUTATIONS", "300"))
SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
ITEMS_PER_CONTRACT = 3
STORED = {"contracts": s.main_contracts, "items": s.line_items}


@dataclass
class Tally:
    """What one fuzz run found; every list must end empty."""

    tried: Counter = field(default_factory=Counter)
    invalid_passed: list = field(default_factory=list)  # an invalid value not quarantined
    unreported: list = field(default_factory=list)  # quarantined, its field not named
    valid_blocked: list = field(default_factory=list)  # a legitimate value quarantined
    not_landed: list = field(default_factory=list)  # a legitimate value stored otherwise
    touched: list = field(default_factory=list)  # a quarantined contract written
    healthy_blocked: list = field(default_factory=list)  # not mutated, ended otherwise
    invalid_stored: list = field(default_factory=list)  # a stored value the rules refuse
    tracebacks: list = field(default_factory=list)  # a run that did not end as it should
    refusals: Counter = field(default_factory=Counter)

    def problems(self) -> dict[str, list]:
        return {
            name: found[:5]
            for name, found in vars(self).items()
            if isinstance(found, list) and found
        }


@pytest.mark.parametrize("connector", ["files", "vista"])
def test_mutated_erp_values_never_reach_the_store(database_url, tmp_path, backend, connector):
    started = time.perf_counter()
    size = max(1, MUTATIONS // 2)
    healthy = max(20, size // 4)
    rng = random.Random(f"{SEED}-{backend}-{connector}")
    tally = Tally()
    with new_sides(database_url) as sides:
        seed(
            sides.erp,
            sides.store,
            companies=1,
            contracts=size + healthy + len(EDGE_CASES),
            items_per_contract=ITEMS_PER_CONTRACT,
            seed=SEED,
        )
        settings = Settings(
            erp_url=sides.erp_url,
            store_url=sides.store_url,
            data_docs=False,
            data_dir=tmp_path / "data",
        )
        if connector == "files":
            folder = write_files(read_vista(sides.erp, 1), tmp_path / "export", "csv", "utf-8")
            source = FilesSource(folder)
            settings = settings.model_copy(
                update={"erp_connector": ErpConnector.files, "erp_files_dir": folder}
            )
        else:
            source = VistaSource(sides.erp)
        before = source.read()
        control = _dry_run(settings)
        mutations = _mutations(rng, size, source, before)
        tally.tried.update(m.kind for m in mutations)
        stored_before = _stored(sides.store)
        baselines = _baselines(sides.store)
        source.apply(mutations)
        run_started = time.perf_counter()
        audit = _run(settings, tally)
        run_seconds = time.perf_counter() - run_started
        if audit is not None:
            read = source.read()
            _check(tally, mutations, audit, control, read, stored_before, baselines, sides.store)
        if connector == "files":
            _refusals(tally, rng, before, settings, sides.store, tmp_path, max(1, size // 1000))
    _report(backend, connector, tally, run_seconds, time.perf_counter() - started)
    for name, found in tally.problems().items():
        print(f"{name}:", *found, sep="\n  ")
    assert tally.problems() == {}


def _dry_run(settings: Settings) -> pd.DataFrame:
    """Each contract's outcome and reasons before the mutations, as a run would write it."""
    audit = reimport(settings, Request(company=1, actor="admin", dry_run=True)).audit
    outcome = audit["outcome"].replace({Outcome.would_reimport: Outcome.reimported})
    return audit.assign(outcome=outcome).set_index("contract_no")[["outcome", "reasons"]]


def _mutations(rng: random.Random, size: int, source, before: ErpFrames) -> list[Mutation]:  # noqa: ANN001
    """A mutation per contract of `size` regular contracts (the demo's edge cases are left)."""
    edge = set(edge_case_contracts(before.contracts["contract_no"]).values())
    targets = sorted(set(before.contracts["contract_no"]) - edge)
    rng.shuffle(targets)
    columns = [
        *fuzzed_columns("contracts", source.mapped("contracts"), source.dates),
        *fuzzed_columns("items", source.mapped("items"), source.dates),
    ]
    frames = {"contracts": before.contracts, "items": before.items}
    return plan(rng, size, columns, source, frames, targets)


def _run(settings: Settings, tally: Tally) -> pd.DataFrame | None:
    """The run over the mutated ERP: it must complete."""
    try:
        return reimport(settings, Request(company=1, actor="admin")).audit.set_index("contract_no")
    except Exception as error:  # noqa: BLE001 - counted, and the test fails
        tally.tracebacks.append(f"{type(error).__name__}: {error}"[:400])
        return None


def _check(
    tally: Tally,
    mutations: list[Mutation],
    audit: pd.DataFrame,
    control: pd.DataFrame,
    after: ErpFrames,
    stored_before: dict,
    baselines: dict,
    store: sa.Engine,
) -> None:
    stored = _stored(store)
    mutated = {m.contract for m in mutations}
    for m in mutations:
        reasons = audit.loc[m.contract, "reasons"].split()
        quarantined = Reason.invalid_erp_data in reasons
        if quarantined and stored.get(m.contract) != stored_before.get(m.contract):
            tally.touched.append(m)
        if m.expect is Expect.invalid and not quarantined:
            tally.invalid_passed.append((m, reasons))
        elif m.expect is Expect.invalid and not _reported(m, audit.loc[m.contract]):
            tally.unreported.append((m, audit.loc[m.contract, "failed_expectations"]))
        elif m.expect is Expect.valid and quarantined:
            tally.valid_blocked.append((m, audit.loc[m.contract, "failed_expectations"]))
        elif m.expect is Expect.valid and not _landed(m, after, stored, baselines):
            tally.not_landed.append(m)
    ended = audit.loc[control.index, ["outcome", "reasons"]]
    differs = (ended != control).any(axis=1) & ~control.index.isin(mutated)
    tally.healthy_blocked += [
        (n, tuple(control.loc[n]), tuple(ended.loc[n])) for n in control.index[differs]
    ]
    tally.invalid_stored += _invalid_values(store)


def _reported(m: Mutation, row: pd.Series) -> bool:
    """The report names the mutated field (for a lump sum: its units or unit price), on
    the mutated item where the item number itself was not mutated."""
    fields = {checked for where, _v, checked, _a in conditions() if where == m.column.name}
    fields = fields if m.kind == "lump_sum_terms" else {m.column.name}
    return any(
        fields & set(detail["values"])
        and (m.item is None or m.column.name == "item_no" or detail.get("item_no") == m.item)
        for detail in row["failed_expectations"] or []
    )


def _landed(m: Mutation, after: ErpFrames, stored: dict, baselines: dict) -> bool:
    """The field holds in the store what the connector read from the ERP; unless the ERP
    holds what it held at the last import, so that the store's own value stands."""
    if m.column.name not in (HEADER_FIELDS if m.item is None else ITEM_FIELDS):
        return True  # not a field a re-import writes
    frame = after.contracts if m.item is None else after.items
    rows = frame[frame["contract_no"] == m.contract]
    if m.item is not None:
        rows = rows[rows["item_no"] == m.item]
    read = _plain(rows[m.column.name].iloc[0])
    if baselines.get((m.contract, m.item), {}).get(m.column.name, object()) == read:
        return True
    header, items = stored[m.contract]
    if m.item is None:
        return header[m.column.name] == read
    return any(i["origin_id"] == m.item and i[m.column.name] == read for i in items)


def _baselines(store: sa.Engine) -> dict[tuple[str, str | None], dict]:
    """(origin id, item number or None) -> the ERP's values at the contract's last import."""
    m = s.main_contracts
    with store.connect() as connection:
        headers = connection.execute(
            sa.select(m.c.origin_id, s.import_baselines).join(s.import_baselines)
        ).mappings()
        found = {(h["origin_id"], None): dict(h) for h in headers}
        items = connection.execute(
            sa.select(m.c.origin_id, s.baseline_items).join(s.baseline_items)
        ).mappings()
        found |= {(i["origin_id"], i["item_no"]): dict(i) for i in items}
    return found


def _plain(value: object) -> object:
    """A frame's value as the store hands it back: None for missing, Python scalars."""
    if not isinstance(value, str) and pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _stored(store: sa.Engine) -> dict[str, tuple[dict, list[dict]]]:
    """origin id -> (its store contract, its items in id order), as plain values."""
    m, i = s.main_contracts, s.line_items
    with store.connect() as connection:
        headers = connection.execute(sa.select(m)).mappings().all()
        items = connection.execute(sa.select(i).order_by(i.c.id)).mappings().all()
    by_id: dict[int, list[dict]] = {}
    for row in items:
        by_id.setdefault(row["contract_id"], []).append(dict(row))
    return {h["origin_id"]: (dict(h), by_id.get(h["id"], [])) for h in headers}


def _invalid_values(store: sa.Engine) -> list[tuple]:
    """Every stored value of the contracts and items that the store's limits or the suites
    refuse."""
    found = []
    with store.connect() as connection:
        for frame, table in STORED.items():
            rows = pd.DataFrame(connection.execute(sa.select(table)).mappings().all())
            for column, limits in column_limits(frame).items():
                [effective] = fuzzed_columns(frame, [column], dates=[])
                for held in (c for c in limits.held_in if c.table is table):
                    bad = _refused(rows[held.name], effective)
                    wrong = rows.loc[bad, ["id", held.name]].itertuples(index=False)
                    found += [(table.name, i, held.name, v) for i, v in wrong]
            if frame == "items":
                for where, equals, checked, allowed in conditions():
                    bad = rows[where].eq(equals) & ~rows[checked].isin(allowed)
                    found += [(table.name, i, checked, "lump sum") for i in rows.loc[bad, "id"]]
    return found


def _refused(values: pd.Series, column: Column) -> pd.Series:
    """Where stored values break a column's limits (the store's and the suites')."""
    missing = values.isna()
    bad = missing & column.required
    if column.kind == "number":
        number = values.astype("Int64")
        return bad | (~missing & (number.lt(column.low) | number.gt(column.high)).fillna(False))
    text = values.dropna().astype(str)
    wrong = text.str.contains(CODE_CHARACTERS if column.kind == "key" else CONTROL_CHARACTERS)
    if column.max_length is not None:
        wrong |= text.str.len().gt(column.max_length)
    if column.required:
        wrong |= text.str.contains(BLANK)
    if column.allowed is not None:
        wrong |= ~text.isin(column.allowed)
    return bad | wrong.reindex(values.index, fill_value=False)


ONE_LINE = re.compile(r"^[^\n]+$")


def _refusals(
    tally: Tally,
    rng: random.Random,
    before: ErpFrames,
    settings: Settings,
    store: sa.Engine,
    folder: Path,
    times: int,
) -> None:
    """Exports the files connector cannot read at all: each fails its run in one line,
    the store untouched."""
    for kind, change in REFUSALS.items():
        for n in range(times):
            export = write_files(before, folder / f"refused-{kind}-{n}", "csv", "utf-8")
            change(rng, export)
            stored = _stored(store)
            try:
                reimport(
                    settings.model_copy(update={"erp_files_dir": export}),
                    Request(company=1, actor="admin"),
                )
                tally.tracebacks.append(f"{kind}: the run completed")
            except UserError as error:
                if not ONE_LINE.match(str(error)):
                    tally.tracebacks.append(f"{kind}: {error}")
            except Exception as error:  # noqa: BLE001 - counted, and the test fails
                tally.tracebacks.append(f"{kind}: {type(error).__name__}: {error}"[:400])
            if _stored(store) != stored:
                tally.touched.append(kind)
            tally.refusals[kind] += 1
            shutil.rmtree(export)


def _set_contract(rng: random.Random, path: Path, value: str | None) -> None:
    """One row's contract number (not the first row's) set to `value`, or to the first
    row's number when None."""
    with path.open(newline="", encoding="utf-8") as text:
        rows = list(csv.DictReader(text))
    rows[rng.randint(1, len(rows) - 1)]["Contract"] = (
        rows[0]["Contract"] if value is None else value
    )
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _short_row(rng: random.Random, path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = rng.randint(1, len(lines) - 1)
    lines[at] = lines[at].rstrip("\r\n").rsplit(",", 1)[0] + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def _not_utf8(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b" - ", b" \xff ", 1))


REFUSALS = {
    "blank contract": lambda r, f: _set_contract(r, f / "contracts.csv", ""),
    "blank contract of an item": lambda r, f: _set_contract(r, f / "items.csv", " "),
    "contract twice": lambda r, f: _set_contract(r, f / "contracts.csv", None),
    "short row": lambda r, f: _short_row(r, f / "items.csv"),
    "bytes not utf-8": lambda _r, f: _not_utf8(f / "items.csv"),
}


def _report(backend: str, connector: str, tally: Tally, run: float, total: float) -> None:
    problems = {name: len(found) for name, found in vars(tally).items() if isinstance(found, list)}
    print(
        f"\nfuzz {backend}/{connector}: {sum(tally.tried.values())} mutations "
        f"{json.dumps(dict(sorted(tally.tried.items())))}; refusals "
        f"{json.dumps(dict(tally.refusals))}; {json.dumps(problems)}; "
        f"run {run:.1f} s, all {total:.1f} s"
    )
