"""Files connector: a folder of CSV or XLSX exports and a mapping.yaml that says what is what.

Every value is read as text and numbers are parsed exactly from it, never through float.
(An XLSX cell holds a binary float; its shortest text form is what is parsed.)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from contract_sync.columns import (
    CODE_COLUMNS,
    CONTRACT_COLUMNS,
    ITEM_COLUMNS,
    REJECTED,
    conform,
    normal_code,
    normal_text,
)
from contract_sync.erp.frames import (
    BLANK_IS_ZERO,
    MAX_LISTED,
    ErpDataError,
    ErpReadError,
    finish_items,
    parse_numbers,
    rejected,
    unknown_codes,
)
from contract_sync.exact import NumberFormat
from contract_sync.model import ErpFrames
from contract_sync.vocabulary import RETAINAGE_FRACTION_SCALE, SCALES

MAPPING_FILE = "mapping.yaml"
REQUIRED = {
    "contracts": {"contract_no", "job_no", "title", "erp_status", "original_amount"},
    "items": {"contract_no", "item_no", "description", "uom", "quantity", "unit_cost", "amount"},
}
NUMBERS = {
    "contracts": ["retainage_pct", "original_amount"],
    "items": ["quantity", "unit_cost", "amount"],
}
DATES = ["start_date", "projected_completion"]


class TableMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    sheet: str | None = None
    columns: dict[str, str]  # canonical field -> column name in the file
    values: dict[str, dict[str, str]] = {}  # canonical field -> {value in file: canonical}


class NumbersMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thousands: str | None = None
    decimal: str = "."
    parentheses_negative: bool = False
    trailing_minus: bool = False


class FilesMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    encoding: Literal["utf-8", "utf-8-sig", "cp1252"] = "utf-8"
    delimiter: str = ","
    date_format: str | None = None  # strftime format; ISO dates when unset
    retainage: Literal["percent", "fraction"] = "percent"  # 10 or 0.10 for ten percent
    numbers: NumbersMapping = NumbersMapping()
    contracts: TableMapping
    items: TableMapping

    @model_validator(mode="after")
    def _known_and_required_fields(self) -> FilesMapping:
        for name, known in (("contracts", CONTRACT_COLUMNS), ("items", ITEM_COLUMNS)):
            mapped = set(getattr(self, name).columns)
            if unknown := mapped - set(known):
                raise ValueError(f"{name}: unknown fields {sorted(unknown)}")
            if missing := REQUIRED[name] - mapped:
                raise ValueError(f"{name}: fields {sorted(missing)} must be mapped")
        return self


def load_mapping(folder: Path) -> FilesMapping:
    path = folder / MAPPING_FILE
    try:
        return FilesMapping.model_validate(yaml.safe_load(path.read_text()))
    except FileNotFoundError as error:
        raise ErpReadError(f"files connector: {path} does not exist") from error
    except (yaml.YAMLError, ValidationError) as error:
        raise ErpReadError(f"files connector: {path} is not a valid mapping: {error}") from error


def read_files(
    folder: Path,
    company: int,
    contract_nos: Sequence[str] | None = None,
    job_nos: Sequence[str] | None = None,
) -> ErpFrames:
    mapping = load_mapping(folder)
    contracts = _table(folder, mapping, mapping.contracts, company)
    items = _table(folder, mapping, mapping.items, company)
    _require_contracts(mapping.contracts, contracts, once=True)
    _require_contracts(mapping.items, items, once=False)  # a blank item fails validation
    if job_nos is not None:
        contracts = contracts[normal_code(contracts["job_no"]).isin(_normal(job_nos))]
    if contract_nos is not None:
        contracts = contracts[normal_code(contracts["contract_no"]).isin(_normal(contract_nos))]
    if contract_nos is not None or job_nos is not None:
        wanted = normal_code(contracts["contract_no"])
        items = items[normal_code(items["contract_no"]).isin(wanted)]
    fmt = NumberFormat(**mapping.numbers.model_dump())
    contracts, contract_rejections = _codes(contracts, mapping.contracts)
    items, item_rejections = _codes(items, mapping.items)
    contracts, rejections = _numbers(contracts, mapping, mapping.contracts, "contracts", fmt)
    contracts, dates = _dates(contracts, mapping)
    contract_rejections |= rejections | dates
    items, rejections = _numbers(items, mapping, mapping.items, "items", fmt)
    item_rejections |= rejections
    items = _blank_as_zero(items, item_rejections)
    contracts = contracts.assign(**{REJECTED: rejected(contracts.index, contract_rejections)})
    items = items.assign(**{REJECTED: rejected(items.index, item_rejections)})
    return ErpFrames(conform(contracts, CONTRACT_COLUMNS), finish_items(items))


def _blank_as_zero(items: pd.DataFrame, rejections: dict[str, pd.Series]) -> pd.DataFrame:
    """As Vista does: a blank quantity or unit cost is zero (a lump sum has neither); one
    that was rejected stays missing."""
    none = pd.Series([], dtype="string")
    return items.assign(
        **{
            field: items[field].fillna(0).mask(items.index.isin(rejections.get(field, none).index))
            for field in BLANK_IS_ZERO
        }
    )


def _normal(codes: Sequence[str]) -> list[str]:
    return [normal_text(str(c)) for c in codes]


def _table(folder: Path, mapping: FilesMapping, table: TableMapping, company: int) -> pd.DataFrame:
    """The file's rows of the company, renamed to canonical fields, values mapped, as text."""
    path = folder / table.file
    raw = _read_text_table(path, mapping, table.sheet)
    missing = [c for c in table.columns.values() if c not in raw.columns]
    if missing:
        raise ErpReadError(
            f"files connector: {path} has no column {', '.join(missing)} "
            f"(its columns: {', '.join(map(str, raw.columns))})"
        )
    frame = raw[list(table.columns.values())].set_axis(list(table.columns), axis=1)
    frame["_line"] = raw.index + 2  # the header is line 1 (row 1 of a sheet)
    if "erp_company" in frame:
        frame = frame[frame["erp_company"].str.strip() == str(company)]
    frame = frame.assign(erp_company=company)
    unmapped = set(ITEM_COLUMNS if "item_no" in frame else CONTRACT_COLUMNS) - set(frame)
    for field in unmapped - set(CODE_COLUMNS):  # an unmapped code is the key's own text
        frame[field] = pd.NA
    return frame.reset_index(drop=True)


def _require_contracts(table: TableMapping, frame: pd.DataFrame, once: bool) -> None:
    """Every row names its contract; with `once`, a contract is given once. A row that
    breaks this cannot even be quarantined: the run is refused, naming file and line."""
    numbers = normal_code(frame["contract_no"])
    blank = numbers.fillna("").eq("")
    problems = [
        f"{table.file} line {line}: column {table.columns['contract_no']} is blank"
        for line in frame.loc[blank, "_line"].head(MAX_LISTED)
    ]
    twice = numbers.duplicated(keep=False) & ~blank & once
    problems += [
        f"{table.file} lines {', '.join(map(str, lines))}: contract {number} is given "
        f"{len(lines)} times"
        for number, lines in frame.loc[twice, "_line"].groupby(numbers[twice])
    ]
    if problems:
        raise ErpDataError("\n".join(problems[:MAX_LISTED]))


def _field_counts(path: Path, mapping: FilesMapping) -> None:
    """A CSV row with more or fewer fields than its header is an error naming its line
    (pandas would fill a short row with blanks silently)."""
    with path.open(newline="", encoding=mapping.encoding) as text:
        rows = csv.reader(text, delimiter=mapping.delimiter)
        header = len(next(rows, []))
        for line, row in enumerate(rows, start=2):
            if row and len(row) != header:
                raise ErpDataError(
                    f"{path.name} line {line}: {len(row)} fields, the header has {header}"
                )


def _read_text_table(path: Path, mapping: FilesMapping, sheet: str | None) -> pd.DataFrame:
    spreadsheet = path.suffix.lower() in (".xlsx", ".xlsm")
    try:
        if spreadsheet:
            return pd.read_excel(path, sheet_name=sheet or 0, dtype=str)
        _field_counts(path, mapping)
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding=mapping.encoding,
            sep=mapping.delimiter,
        )
    except FileNotFoundError as error:
        raise ErpReadError(f"files connector: {path} does not exist") from error
    except UnicodeDecodeError as error:
        raise ErpReadError(
            f"files connector: {path} is not {mapping.encoding} text "
            f"(byte {error.object[error.start]:#x} at offset {error.start})"
        ) from error
    except ErpDataError:
        raise
    except (ValueError, OSError) as error:
        raise ErpReadError(f"files connector: cannot read {path}: {error}") from error


def _codes(frame: pd.DataFrame, table: TableMapping) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Coded fields through the table's `values` mapping, matched on their normal form; a
    code the mapping lacks is rejected (the canonical codes themselves included: `open`
    where the mapping says `1`), a blank one is missing."""
    mapped, found = {}, {}
    for field, values in table.values.items():
        codes = normal_code(frame[field])
        codes = codes.mask(codes.eq(""))
        mapped[field] = codes.map(values).astype("string")
        found[field] = unknown_codes(
            table.file, codes, mapped[field], table.columns[field], list(values)
        )
    return frame.assign(**mapped), found


def _numbers(
    frame: pd.DataFrame, mapping: FilesMapping, table: TableMapping, name: str, fmt: NumberFormat
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Parse the table's number columns exactly; one that is not mapped is zero."""
    columns = {}
    for field in NUMBERS[name]:
        scale = SCALES[field]
        if field == "retainage_pct" and mapping.retainage == "fraction":
            scale = RETAINAGE_FRACTION_SCALE
        if field in table.columns:
            columns[field] = (table.columns[field], scale)
    parsed, found = parse_numbers(table.file, frame, columns, fmt)
    return parsed.assign(**{f: 0 for f in NUMBERS[name] if f not in columns}), found


def _dates(
    contracts: pd.DataFrame, mapping: FilesMapping
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """ISO dates from the mapping's date format; a value that is not a date is rejected."""
    parsed, found = {}, {}
    for field in DATES:
        text = contracts[field].astype("string").str.strip()
        dates = pd.to_datetime(text, format=mapping.date_format or "ISO8601", errors="coerce")
        bad = dates.isna() & text.notna() & text.ne("")
        parsed[field] = dates.dt.strftime("%Y-%m-%d")
        found[field] = (
            f"{mapping.contracts.file}, column {mapping.contracts.columns[field]}: "
            + text[bad].map(repr)
            + f" is not a date ({mapping.date_format or 'YYYY-MM-DD'})"
        ).astype("string")
    return contracts.assign(**parsed), found
