"""Validate: the ERP frames against the Great Expectations suites in expectations/ and the
store's limits (store_limits: required values, lengths, codes, ranges, rejected values).

One validation per frame per run, over the contracts in scope; failing rows are mapped
back to their contracts, which are quarantined as `invalid_erp_data`. GX is imported
here only, since importing it costs seconds; and with a cache, a contract whose content
was validated before under the same rules takes that verdict without GX running at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from contract_sync.columns import CONTRACT_KEY, REJECTED, lookup, to_decimal
from contract_sync.errors import UserError
from contract_sync.hashing import contract_hashes
from contract_sync.model import NO_FAILURES, ErpFrames, Validation
from contract_sync.stages import store_limits, suite_checks
from contract_sync.stages.gx_import import great_expectations
from contract_sync.stages.store_limits import store_expectations
from contract_sync.stages.suite_checks import Outcome, checkable, failed, known, plain_values
from contract_sync.store.validation_cache import ValidationCache
from contract_sync.vocabulary import LUMP_SUM_UOM, SCALES

# suite file stem -> (frame it checks, key columns that name a failing row)
SUITES = {
    "contract_headers": ("contracts", ["contract_no"]),
    "line_items": ("items", ["contract_no", "item_no"]),
    "contract_aggregates": ("aggregates", ["contract_no"]),
}
# Expectations whose verdict on a contract depends on that contract's rows alone, or (the
# uniqueness of contract numbers) on the contracts of the same number, which never take a
# cached verdict: a cached verdict stands only for suites made of these.
CONTRACT_LOCAL = {
    "expect_column_pair_values_to_be_equal",
    "expect_column_value_lengths_to_be_between",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_not_match_regex",
    "expect_compound_columns_to_be_unique",
}


class SuiteFileError(UserError, ValueError):
    """A suite file that is not a valid Great Expectations 1.x suite."""


def validation_frames(erp: ErpFrames) -> dict[str, pd.DataFrame]:
    """The frames the suites check, with the derived columns they compare, in their own
    types (the checks here take them so: suite_checks; GX takes their plain_values)."""
    items = erp.items
    extended = extension(items["quantity"], items["unit_cost"])
    items = items.assign(
        extended_amount=extended.where(items["uom"] != LUMP_SUM_UOM, items["amount"])
    )
    totals = erp.items.groupby("contract_no")["amount"].sum()
    aggregates = erp.contracts[["contract_no", "original_amount"]].assign(
        items_total=erp.contracts["contract_no"].map(totals).fillna(0).astype("Int64")
    )
    frames = {"contracts": erp.contracts, "items": items, "aggregates": aggregates}
    return frames


# A product of scaled integers below this is exact in int64 (a bound computed in floats).
EXACT_PRODUCT = 2**62


def extension(quantity: pd.Series, unit_cost: pd.Series) -> pd.Series:
    """Quantity x unit cost rounded to the cent, half away from zero, exactly: in int64
    where the product fits (every real item), in Python integers for the few beyond;
    missing where a factor is, or where the amount itself is beyond int64."""
    bound = quantity.abs().astype("Float64") * unit_cost.abs().astype("Float64")
    fits = (bound < EXACT_PRODUCT).fillna(True)
    product = quantity.where(fits, 0) * unit_cost.where(fits, 0)  # scale 3 + 5 = 8
    rounded = (product.abs() + 500_000) // 1_000_000
    extended = rounded.where(product >= 0, -rounded).where(fits)
    if not fits.all():  # absurd values only: a few rows
        beyond = zip(quantity[~fits], unit_cost[~fits], strict=True)
        extended[~fits] = [_cents(int(q) * int(u)) for q, u in beyond]
    return extended


def _cents(product: int) -> int | None:
    """An exact product at scale 8 in cents, half away from zero; None beyond int64."""
    cents = (abs(product) + 500_000) // 1_000_000 * (1 if product >= 0 else -1)
    return cents if abs(cents) < 2**63 else None


def load_suite(path: Path, extra: list[dict] = ()):  # -> great_expectations.ExpectationSuite
    """A suite from its JSON file, with `extra` expectations (the store's limits); every
    expectation is checked, unknown types included."""
    gx = great_expectations()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    try:
        document = _with_limits(json.loads(path.read_text()), extra)
        expectations = [
            ExpectationConfiguration(**e).to_domain_obj() for e in document["expectations"]
        ]
        return gx.ExpectationSuite(**{**document, "expectations": expectations})
    except Exception as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SuiteFileError(
            f"{path} is not a valid Great Expectations suite: {first_line}"
        ) from error


def _with_limits(document: dict, extra: list[dict]) -> dict:
    """The suite's JSON with the `extra` expectations (the store's limits) it does not say
    already."""
    own = document.get("expectations", [])
    said = {_what(e) for e in own}
    return {**document, "expectations": [*own, *(e for e in extra if _what(e) not in said)]}


def _what(expectation: dict) -> str:
    """What an expectation checks (its type and arguments): the store's limits leave out
    one that the suite says already, so that a failing row is reported once."""
    return json.dumps([expectation.get("type"), expectation.get("kwargs")], sort_keys=True)


def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    gx = great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def validate(
    erp: ErpFrames,
    suites_dir: Path,
    cache: ValidationCache | None = None,
    run_id: str | None = None,
    suites: Callable[[ErpFrames, Path], Validation] | None = None,
) -> Validation:
    """The contracts of `erp` that fail the suites, and why. With a cache, only contracts
    whose content (every column, codes' exact text included) was not validated before under
    the same rules are checked; the verdicts of those are kept for the next time. `suites`
    runs them (run_suites, or the same in a helper process: stages/suite_worker.py)."""
    run = suites or run_suites
    nothing = erp.empty
    rules = None if cache is None or nothing else rules_key(suites_dir)
    if rules is None:
        return run(erp, suites_dir)
    keys, known, cacheable, reuse, orphan = _kept_verdicts(erp, rules, cache)
    numbers = erp.contracts["contract_no"]
    checked_numbers = numbers[~reuse]
    checked = run(
        ErpFrames(
            erp.contracts[~reuse],
            erp.items[erp.items["contract_no"].isin(checked_numbers) | orphan],
        ),
        suites_dir,
    )
    found = checked.failures.set_index("contract_no")["failed_expectations"]
    fresh = keys[cacheable & ~reuse]
    verdicts = lookup(fresh["contract_no"], found).map(lambda f: f if isinstance(f, list) else [])
    cache.save(rules, fresh.assign(failures=verdicts), run_id)
    earlier = pd.DataFrame({"contract_no": numbers[reuse], "failed_expectations": known[reuse]})
    earlier = earlier[earlier["failed_expectations"].map(len) > 0]
    failures = pd.concat([checked.failures, earlier], ignore_index=True)
    in_scope = failures["contract_no"].isin(numbers)
    found = Validation(
        invalid_contracts=failures.loc[in_scope, "contract_no"].astype("string"),
        failures=failures,
        docs_path=None,
        reused=int(reuse.sum()),
    )
    return found


class KeptVerdicts(NamedTuple):
    keys: pd.DataFrame  # per contract: erp_company, contract_no, content (its content key)
    known: pd.Series  # per contract: the failures kept for its content (None: no verdict)
    cacheable: pd.Series  # per contract: a verdict can be kept (not a number held twice)
    reuse: pd.Series  # per contract: its kept verdict stands
    orphan: pd.Series  # per item: its contract is not among the contracts


def _kept_verdicts(erp: ErpFrames, rules: str, cache: ValidationCache) -> KeptVerdicts:
    keys = erp.contracts[CONTRACT_KEY].assign(content=content_keys(erp))
    known = cache.lookup(rules, keys)
    numbers = erp.contracts["contract_no"]
    cacheable = numbers.notna() & ~numbers.duplicated(keep=False)
    orphan = ~erp.items["contract_no"].isin(numbers.dropna())
    return KeptVerdicts(keys, known, cacheable, cacheable & known.notna(), orphan)


def needs_suites(erp: ErpFrames, suites_dir: Path, cache: ValidationCache | None) -> bool:
    """Whether validate would run the suites on any of `erp` (a contract or orphan item
    without a kept verdict): the run's helper is started for that alone."""
    if erp.empty:
        return False
    rules = None if cache is None else rules_key(suites_dir)
    if rules is None:
        return True
    kept = _kept_verdicts(erp, rules, cache)
    return bool((~kept.reuse).any() or kept.orphan.any())


def combined(parts: list[Validation]) -> Validation:
    """The validations of groups of whole contracts as one (no report page yet)."""
    if not parts:
        return NO_FAILURES
    return Validation(
        invalid_contracts=pd.concat([p.invalid_contracts for p in parts], ignore_index=True),
        failures=pd.concat([p.failures for p in parts], ignore_index=True),
        docs_path=None,
        reused=sum(p.reused for p in parts),
    )


def halves(erp: ErpFrames) -> tuple[ErpFrames, ErpFrames]:
    """The contracts in two parts of about half the items each (run_split): every row of a
    contract number on one side, since the suites check numbers across contracts (their
    uniqueness); items of no contract in the second, where they fail as in the whole."""
    numbers = erp.contracts["contract_no"].dropna().drop_duplicates()
    items_of = numbers.map(erp.items["contract_no"].value_counts()).fillna(0)
    starts = (items_of.cumsum() - items_of).to_numpy()  # items before each number
    first = numbers[starts < len(erp.items) / 2]
    in_first = erp.contracts["contract_no"].isin(first), erp.items["contract_no"].isin(first)
    return (
        ErpFrames(erp.contracts[in_first[0]], erp.items[in_first[1]]),
        ErpFrames(erp.contracts[~in_first[0]], erp.items[~in_first[1]]),
    )


def one_validation(parts: list[Validation], erp: ErpFrames) -> Validation:
    """The validations of the halves of `erp` as run_suites gives the one of it whole: the
    failures in the order of their contract numbers, a missing one last."""
    failures = pd.concat([part.failures for part in parts], ignore_index=True)
    failures = failures.sort_values(
        "contract_no", na_position="last", kind="stable", ignore_index=True
    )
    in_scope = failures["contract_no"].isin(erp.contracts["contract_no"])
    return Validation(
        invalid_contracts=failures.loc[in_scope, "contract_no"].astype("string"),
        failures=failures,
        docs_path=None,
    )


def contract_local(suites_dir: Path) -> bool:
    """Whether the suites' verdict on a contract depends on its rows alone (and those of
    its number), so that it can be checked apart from the others: see CONTRACT_LOCAL."""
    return rules_key(suites_dir) is not None


def rules_key(suites_dir: Path) -> str | None:
    """What a verdict depends on besides the contract: the suite files, the store's limits,
    the code that shapes the frames, the GX version. None when a suite holds an expectation
    that is not contract-local, or cannot be read (the run then reports that)."""
    digest = hashlib.sha256(version("great_expectations").encode())
    for module in (__file__, store_limits.__file__, suite_checks.__file__):
        digest.update(Path(module).read_bytes())
    for stem, (frame, _keys) in SUITES.items():
        try:
            text = (suites_dir / f"{stem}.json").read_bytes()
            types = {e["type"] for e in json.loads(text).get("expectations", [])}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        if not types <= CONTRACT_LOCAL:
            return None
        digest.update(text)
        digest.update(json.dumps(store_expectations(frame), sort_keys=True).encode())
    return digest.hexdigest()


def content_keys(erp: ErpFrames) -> pd.Series:
    """Per contract, a digest of everything the suites see of it: every header and item
    column, the ERP's exact text of its codes included. NA for a number held twice."""
    single = ~erp.contracts.duplicated(CONTRACT_KEY, keep=False)
    keys = pd.Series(pd.NA, index=erp.contracts.index, dtype="string")
    every_column = (list(erp.contracts.columns), list(erp.items.columns))
    keys[single] = contract_hashes(erp.contracts[single], erp.items, columns=every_column)
    return keys


def run_suites(erp: ErpFrames, suites_dir: Path, *, in_gx: bool = False) -> Validation:
    """The suites over every contract and item of `erp`: checked here (suite_checks) when
    every expectation is one whose answer here is GX's, else (or `in_gx`) in Great
    Expectations."""
    if erp.empty:  # nothing to check: not even GX is imported
        return NO_FAILURES
    frames = validation_frames(erp)
    parameters = {"erp_contract_nos": sorted(erp.contracts["contract_no"].dropna())}
    documents = _suite_documents(suites_dir)
    here = (
        not in_gx
        and _named_apart(documents)
        and all(
            checkable(documents[stem], frames[frame], parameters)
            for stem, (frame, _keys) in SUITES.items()
        )
    )
    context = None if here else _context()
    rows = []
    for stem, (frame, keys) in SUITES.items():
        if here:
            found = failed(documents[stem]["expectations"], frames[frame], keys, parameters)
        else:
            plain = plain_values(frames[frame])
            found = _failed_in_gx(context, suites_dir / f"{stem}.json", plain, parameters)
        rows.extend(_failed_rows(stem, found))
    rows = pd.DataFrame(_unexplained(rows, erp), columns=["contract_no", "detail"])
    grouped = rows.groupby("contract_no", dropna=False)["detail"].agg(list)
    failures = pd.DataFrame({"contract_no": grouped.index, "failed_expectations": grouped.values})
    in_scope = failures["contract_no"].isin(erp.contracts["contract_no"])
    return Validation(
        invalid_contracts=failures.loc[in_scope, "contract_no"].astype("string"),
        failures=failures,
        docs_path=None,
    )


def checked_without_gx(suites_dir: Path) -> bool:
    """Whether the suites hold only what suite_checks checks, so that validating them
    loads no Great Expectations (and a run needs no helper to load it)."""
    documents = _suite_documents(suites_dir)
    return _named_apart(documents) and all(map(known, documents.values()))


def _named_apart(documents: dict[str, dict | None]) -> bool:
    """Each suite has a name of its own (GX refuses two of one name in a context)."""
    names = [d.get("name") for d in documents.values() if isinstance(d, dict)]
    return len(set(map(str, names))) == len(documents)


def _suite_documents(suites_dir: Path) -> dict[str, dict | None]:
    """Each suite file's JSON with the store's limits added as load_suite adds them; None
    for one that cannot be read as such (GX then runs, and says why)."""
    documents = {}
    for stem, (frame, _keys) in SUITES.items():
        try:
            document = json.loads((suites_dir / f"{stem}.json").read_text())
            documents[stem] = _with_limits(document, store_expectations(frame))
        except (OSError, ValueError, AttributeError, TypeError):
            documents[stem] = None
    return documents


def _failed_in_gx(context, path: Path, frame: pd.DataFrame, parameters: dict) -> list[Outcome]:  # noqa: ANN001
    """The expectations of one suite file that `frame` fails in Great Expectations."""
    gx = great_expectations()
    stem = path.stem
    frame_name, keys = SUITES[stem]
    suite = load_suite(path, store_expectations(frame_name))
    source = context.data_sources.add_pandas(name=frame_name)
    batch = source.add_dataframe_asset(name=frame_name).add_batch_definition_whole_dataframe("all")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=stem, data=batch, suite=context.suites.add(suite))
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": keys},
    )
    found = []
    for outcome in result.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        if error := _raised(outcome.exception_info):
            raise RuntimeError(f"expectation {config.type} in suite {stem} could not run: {error}")
        failing = outcome.result.get("unexpected_index_list")
        if not failing:  # failed, yet names no row: never let that pass silently
            raise RuntimeError(
                f"expectation {config.type} in suite {stem} failed without naming a row"
            )
        found.append(Outcome(config.type, config.kwargs, config.meta or {}, failing))
    return found


def _failed_rows(suite: str, found: list[Outcome]) -> list[tuple[str, dict]]:
    """(contract_no, detail) for every failing row of every failed expectation."""
    rows = []
    for outcome in found:
        kwargs = outcome.kwargs
        columns = [c for k in ("column", "column_A", "column_B") if (c := kwargs.get(k))]
        columns += list(kwargs.get("column_list") or [])
        for entry in outcome.failing:
            detail = {"suite": suite, "expectation": outcome.type}
            if (item := _plain(entry.get("item_no"), "item_no")) is not None:
                detail["item_no"] = item  # a missing one is left out (NaN is not JSON)
            detail["values"] = {c: _plain(entry.get(c), c) for c in columns if c in entry}
            if REJECTED in detail["values"]:  # what the connector said of each field
                detail["values"] = json.loads(detail["values"][REJECTED])
            if rule := outcome.meta.get("notes"):
                detail["rule"] = rule
            rows.append((entry.get("contract_no"), detail))
    return rows


def _unexplained(rows: list[tuple[str, dict]], erp: ErpFrames) -> list[tuple[str, dict]]:
    """The failing rows less those a rejected value explains: a failure of the same row
    that shows a field the connector rejected as missing (it is, because it was)."""
    rejected = _rejected_fields(erp)
    return [
        (number, detail)
        for number, detail in rows
        if not any(
            field in detail["values"] and detail["values"][field] is None
            for field in rejected.get((number, detail.get("item_no")), ())
        )
    ]


def _rejected_fields(erp: ErpFrames) -> dict[tuple, set[str]]:
    """(contract_no, item_no or None) -> the fields the connector rejected in that row."""
    found: dict[tuple, set[str]] = {}
    for frame in (erp.contracts, erp.items):
        said = frame[frame[REJECTED].notna()]  # a few rows, when any
        items = said["item_no"] if "item_no" in said else pd.Series(None, index=said.index)
        for number, item, text in zip(said["contract_no"], items, said[REJECTED], strict=True):
            row = (number, None if pd.isna(item) else item)
            found.setdefault(row, set()).update(json.loads(text))
    return found


def _raised(info: dict) -> str | None:
    """The message of an exception GX caught while checking, at the top or per metric."""
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return str(nested.get("exception_message"))
    return None


def _plain(value: object, column: str) -> object:
    """A JSON-ready value: exact decimal text for scaled columns, None for missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    scale_field = "amount" if column in ("extended_amount", "items_total") else column
    if scale_field in SCALES:
        return str(to_decimal(value, scale_field))
    return value.item() if isinstance(value, np.generic) else value
