"""The ERP sides tests/test_fuzz.py mutates: a files export (CSV) and a Vista database.

Each says what it maps, what it can hold (a PostgreSQL ERP holds no NUL, no text longer
than its column, no number beyond its NUMERIC), which codes it does not map, and writes
mutations (tests/fuzz_mutations.py) the way its own ERP would hold them. The demo's codes
are unpadded, so a code's normal form is its text in both."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from contract_sync.erp.files import DATES, load_mapping, read_files
from contract_sync.erp.vista import (
    CODES,
    HEADER_NUMBERS,
    HEADER_SOURCE,
    ITEM_NUMBERS,
    ITEM_SOURCE,
    JOB_SOURCE,
    read_vista,
)
from contract_sync.erp.vista_schema import JCCI, JCJM
from contract_sync.model import ErpFrames
from tests.fuzz_mutations import Column, Mutation

TOKENS = ["X", "9", "?", "-1", "Z", "p", "x1", "FURLONG", "ls", "M2", "EACH", "L S", "progress"]
IDENTITY = {"erp_company", "contract_no"}  # the contract itself: see the refusals instead


def _source_number(column: Column, value: Decimal, fraction: bool) -> Decimal:
    """A number's meaning as its source writes it: retainage as a fraction (0.10 for 10 %)."""
    return value / 100 if column.name == "retainage_pct" and fraction else value


class FilesSource:
    """A CSV export with its mapping.yaml: holds any text."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mapping = load_mapping(folder)
        self.fraction = self.mapping.retainage == "fraction"

    def tables(self) -> dict:
        return {"contracts": self.mapping.contracts, "items": self.mapping.items}

    def mapped(self, frame: str) -> list[str]:
        return [c for c in self.tables()[frame].columns if c not in IDENTITY]

    dates = DATES

    def read(self) -> ErpFrames:
        return read_files(self.folder, 1)

    def holds(self, _column: Column, _value: object) -> bool:
        return True

    def can_be_missing(self, _column: Column) -> bool:
        return True

    def unique(self, _column: Column) -> bool:
        return False

    def unmapped(self, column: Column) -> list:
        values = self.tables()[column.frame].values.get(column.name)
        accepted = set(values) if values else set(column.allowed or ())
        candidates = [*(values or {}).values(), *(c.lower() for c in column.allowed or ()), *TOKENS]
        return [c for c in dict.fromkeys(candidates) if c.strip(" ") not in accepted]

    def text(self, column: Column, value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format(_source_number(column, value, self.fraction), "f")
        if isinstance(value, tuple):  # ("duplicate", item): that item's number
            return value[1]
        return str(value)

    def apply(self, mutations: list[Mutation]) -> None:
        for frame, table in self.tables().items():
            path = self.folder / table.file
            with path.open(newline="", encoding=self.mapping.encoding) as text:
                rows = list(csv.DictReader(text, delimiter=self.mapping.delimiter))
            item = table.columns.get("item_no", "")
            where = {(r[table.columns["contract_no"]], r.get(item)): r for r in rows}
            for m in mutations:
                if m.column.frame != frame:
                    continue
                row = where[(m.contract, m.item)]
                row[table.columns[m.column.name]] = self.text(m.column, m.value)
            with path.open("w", newline="", encoding=self.mapping.encoding) as out:
                writer = csv.DictWriter(
                    out, fieldnames=list(rows[0]), delimiter=self.mapping.delimiter
                )
                writer.writeheader()
                writer.writerows(rows)


VISTA_COLUMNS = {
    "contracts": {**HEADER_SOURCE, **{f: c for f, (c, _s) in HEADER_NUMBERS.items()}, **JOB_SOURCE},
    "items": {**ITEM_SOURCE, **{f: c for f, (c, _s) in ITEM_NUMBERS.items()}},
}
KEYS = {JCJM.c.Job, JCCI.c.Item}  # part of a primary key: never NULL, and unique


class VistaSource:
    """A Vista database: on PostgreSQL typed and bounded as its columns say."""

    dates = ["start_date", "projected_completion"]

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.strict = engine.dialect.name != "sqlite"  # SQLite keeps what it is given

    def mapped(self, frame: str) -> list[str]:
        return [c for c in VISTA_COLUMNS[frame] if c not in IDENTITY]

    def read(self) -> ErpFrames:
        return read_vista(self.engine, 1)

    def column(self, column: Column) -> sa.Column:
        return VISTA_COLUMNS[column.frame][column.name]

    def can_be_missing(self, column: Column) -> bool:
        return self.column(column) is JCJM.c.Job or self.column(column) not in KEYS

    def unique(self, column: Column) -> bool:
        return self.column(column) is JCJM.c.Job  # the key of JCJM (with JCCo)

    def holds(self, column: Column, value: object) -> bool:
        target = self.column(column)
        kind = target.type
        if value is None or isinstance(value, tuple):
            return True
        if isinstance(kind, sa.Date):
            return False
        if isinstance(kind, sa.Integer):
            return isinstance(value, int) or not self.strict
        if isinstance(kind, sa.Numeric):
            if not isinstance(value, Decimal):
                return False  # SQLite would keep the text, and compute with its digits
            number = _source_number(column, value, True)
            if not self.strict:
                return abs(number) < 10**15  # a float: exact enough to be told apart
            places = -number.as_tuple().exponent if number.as_tuple().exponent < 0 else 0
            return places <= kind.scale and abs(number) < 10 ** (kind.precision - kind.scale)
        text = str(value)
        if self.strict:
            return "\x00" not in text and len(text) <= kind.length
        return True

    def unmapped(self, column: Column) -> list:
        target = self.column(column)
        codes = CODES.get(column.name)
        if codes and isinstance(target.type, sa.Integer):
            return [max(codes) + 1, max(codes) + 4, -1, 99]
        accepted = set(codes) if codes else set(column.allowed or ())
        candidates = [*(c.lower() for c in accepted), *TOKENS]
        return [c for c in candidates if c.strip(" ") not in accepted and self.holds(column, c)]

    def value(self, column: Column, mutation: Mutation) -> object:
        value = mutation.value
        if isinstance(value, tuple):  # ("duplicate", item): its number in another padding
            return " " + value[1]
        if isinstance(value, Decimal):
            number = _source_number(column, value, True)
            return number if self.strict else float(number)
        return value

    def apply(self, mutations: list[Mutation]) -> None:
        updates: dict[sa.Column, list[dict]] = defaultdict(list)
        for m in mutations:
            updates[self.column(m.column)].append(
                {"contract": m.contract, "item": m.item, "value": self.value(m.column, m)}
            )
        with self.engine.begin() as connection:
            for target, rows in updates.items():
                table = target.table
                where = [table.c.JCCo == 1, table.c.Contract == sa.bindparam("contract")]
                if table is JCCI:
                    where.append(table.c.Item == sa.bindparam("item"))
                if target is JCJM.c.Job:  # a missing job: the contract linked to none
                    unlink = [r for r in rows if r["value"] is None]
                    rows = [r for r in rows if r["value"] is not None]
                    if unlink:
                        connection.execute(
                            table.update().where(*where).values(Contract=None), unlink
                        )
                if rows:
                    connection.execute(
                        table.update().where(*where).values({target.name: sa.bindparam("value")}),
                        rows,
                    )
