"""Vista connector: JCJM/JCCM/JCCI read set-based into the canonical frames.

Two queries per run whatever the number of contracts (items streamed when read in groups),
plus one small query, when there are some, for the values with more decimals than their
scale: those are rejected (contract_sync.columns.REJECTED), never rounded, as are codes
the connector does not know.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import NamedTuple

import pandas as pd
import sqlalchemy as sa

from contract_sync.arrow_reads import arrow_chunks, read_arrow
from contract_sync.columns import (
    CONTRACT_COLUMNS,
    REJECTED,
    conform,
    normal_code,
    normal_text,
)
from contract_sync.erp.ahead import ReadAhead
from contract_sync.erp.frames import (
    BLANK_IS_ZERO,
    MAX_LISTED,
    ErpDataError,
    finish_items,
    rejected,
    unknown_codes,
)
from contract_sync.erp.groups import (
    ErpGroups,
    frames_in_groups,
    read_piece_items,
    split_by_contract,
)
from contract_sync.erp.vista_schema import BILL_TYPES, JCCI, JCCM, JCJM
from contract_sync.model import ErpFrames
from contract_sync.vocabulary import ERP_STATUSES, RETAINAGE_FRACTION_SCALE

# A value this far from a whole number of its smallest unit has more decimals than its scale
# (SQLite keeps NUMERIC as a float, so an exact test would see 12.34 * 100 != 1234).
SCALE_TOLERANCE = 1e-6
STREAM_ROWS = 20_000  # item rows fetched at a time when read in groups
READ_AHEAD = 5  # chunks fetched ahead of the run at most: one group of the default size
# canonical field -> the Vista column it is read from as it is (numbers: with their scale)
HEADER_SOURCE = {
    "contract_no": JCCM.c.Contract,
    "title": JCCM.c.Description,
    "erp_status": JCCM.c.ContractStatus,
    "customer": JCCM.c.Customer,
    "start_date": JCCM.c.StartMonth,
    "projected_completion": JCCM.c.ProjCloseDate,
}
HEADER_NUMBERS = {
    "retainage_pct": (JCCM.c.RetainagePCT, RETAINAGE_FRACTION_SCALE),
    "original_amount": (JCCM.c.OrigContractAmt, 2),
}
JOB_SOURCE = {"job_no": JCJM.c.Job}
ITEM_SOURCE = {
    "contract_no": JCCI.c.Contract,
    "item_no": JCCI.c.Item,
    "description": JCCI.c.Description,
    "cost_code": JCCI.c.SICode,
    "line_item_type": JCCI.c.BillType,
    "uom": JCCI.c.UM,
    "tax_code": JCCI.c.TaxCode,
}
ITEM_NUMBERS = {
    "quantity": (JCCI.c.OrigContractUnits, 3),
    "unit_cost": (JCCI.c.OrigUnitPrice, 5),
    "amount": (JCCI.c.OrigContractAmt, 2),
}
# The codes the connector maps, by field: Vista's code -> the canonical one.
CODES = {"erp_status": ERP_STATUSES, "line_item_type": BILL_TYPES}


def _scaled(column: sa.ColumnElement, scale: int) -> sa.ColumnElement:
    """An exact decimal column as a scaled integer, computed by the database."""
    return sa.cast(sa.func.round(column * 10**scale, 0), sa.BigInteger)


def _over_scale(column: sa.ColumnElement, scale: int) -> sa.ColumnElement:
    scaled = column * 10**scale
    return sa.func.abs(scaled - sa.func.round(scaled, 0)) > SCALE_TOLERANCE


def _flag(conditions) -> sa.ColumnElement:  # noqa: ANN001 - boolean SQL expressions
    """1 where any condition holds, else 0: never NULL (a missing number is not over scale),
    and no boolean in the select list (SQL Server has none)."""
    return sa.case((sa.or_(*conditions), 1), else_=0).label("bad_scale")


def _filters(table: sa.Table, company: int, contract_nos, job_nos) -> list:
    """Codes are asked for in their normal form and matched on it (Vista pads them)."""
    conditions = [table.c.JCCo == company]
    if contract_nos is not None:
        wanted = [normal_text(str(c)) for c in contract_nos]
        conditions.append(sa.func.trim(table.c.Contract).in_(wanted))
    if job_nos is not None:
        jobs = sa.select(JCJM.c.Contract).where(
            JCJM.c.JCCo == company,
            sa.func.trim(JCJM.c.Job).in_([normal_text(str(j)) for j in job_nos]),
        )
        conditions.append(table.c.Contract.in_(jobs))
    return conditions


def _contracts_query(company: int, contract_nos, job_nos) -> sa.Select:
    return sa.select(
        JCCM.c.JCCo.label("erp_company"),
        *(column.label(field) for field, column in HEADER_SOURCE.items()),
        *(_scaled(c, s).label(f) for f, (c, s) in HEADER_NUMBERS.items()),
        _flag(_over_scale(c, s) for c, s in HEADER_NUMBERS.values()),
    ).where(*_filters(JCCM, company, contract_nos, job_nos))


def _read_headers(connection: sa.Connection, company: int, contract_nos, job_nos) -> pd.DataFrame:
    """JCCM's rows with their job from JCJM. Two queries joined here rather than a join in
    SQL: JCJM's key is (JCCo, Job), and a database without an index on its Contract (SQLite
    makes none) would scan JCJM once per contract."""
    contracts = _read_sql(_contracts_query(company, contract_nos, job_nos), connection)
    jobs = _read_sql(
        sa.select(JCJM.c.Contract.label("contract_no"), JOB_SOURCE["job_no"].label("job_no")).where(
            *_filters(JCJM, company, contract_nos, job_nos), JCJM.c.Contract.is_not(None)
        ),
        connection,
    )
    jobs = jobs.assign(contract_no=normal_code(jobs["contract_no"]))
    matched = contracts.assign(_normal=normal_code(contracts["contract_no"])).merge(
        jobs.rename(columns={"contract_no": "_normal"}), on="_normal", how="left"
    )
    return matched.drop(columns="_normal")


def _items_query(company: int, contract_nos, job_nos) -> sa.Select:
    return sa.select(
        JCCI.c.JCCo.label("erp_company"),
        *(column.label(field) for field, column in ITEM_SOURCE.items()),
        *(_scaled(c, s).label(f) for f, (c, s) in ITEM_NUMBERS.items()),
        _flag(_over_scale(c, s) for c, s in ITEM_NUMBERS.values()),
    ).where(*_filters(JCCI, company, contract_nos, job_nos))


def read_vista(
    engine: sa.Engine,
    company: int,
    contract_nos: Sequence[str] | None = None,
    job_nos: Sequence[str] | None = None,
) -> ErpFrames:
    """Read one company's contracts and items, optionally narrowed to contracts or jobs."""
    with engine.connect() as connection:
        contracts = _read_headers(connection, company, contract_nos, job_nos)
        items = _read_sql(_items_query(company, contract_nos, job_nos), connection)
        over_scale = NO_VALUES
        if contracts["bad_scale"].eq(1).any() or items["bad_scale"].eq(1).any():
            over_scale = _over_scale_values(connection, company, contract_nos, job_nos)
    return ErpFrames(_contracts_frame(contracts, over_scale), _items_frame(items, over_scale))


@contextmanager
def vista_groups(
    engine: sa.Engine,
    company: int,
    contract_nos: Sequence[str] | None,
    group_items: int | None,
) -> Iterator[ErpGroups]:
    """The same read a group of contracts at a time (groups.read_piece_items): the items
    streamed in the order of JCCI's key (no sort), while the connection stays open. The
    read runs up to `group_items` rows ahead."""
    with ExitStack() as stack:
        query = _items_query(company, contract_nos, None).order_by(JCCI.c.JCCo, JCCI.c.Contract)
        # The items' read through Arrow first: on SQLite its process's start and first rows
        # take longer than the headers' read.
        chunks = stack.enter_context(arrow_chunks(engine, query, STREAM_ROWS))
        connection = stack.enter_context(engine.connect())
        raw = _read_headers(connection, company, contract_nos, None)
        over_scale: list[pd.DataFrame] = []  # read once, when a row first needs it

        def over_scale_values(flagged: pd.Series) -> pd.DataFrame:
            if not flagged.eq(1).any():
                return NO_VALUES
            if not over_scale:
                with engine.connect() as other:  # the first streams the items
                    over_scale.append(_over_scale_values(other, company, contract_nos, None))
            return over_scale[0]

        contracts = _contracts_frame(raw, over_scale_values(raw["bad_scale"]))
        if chunks is None:
            streamed = connection.execution_options(stream_results=True)
            chunks = _read_sql(query, streamed, chunksize=STREAM_ROWS)
        ahead = ReadAhead(chunks, _depth(group_items))

        def items() -> Iterator[pd.DataFrame]:
            for group in split_by_contract(ahead, read_piece_items(group_items)):
                yield _items_frame(group, over_scale_values(group["bad_scale"]))

        try:
            yield ErpGroups(contracts, frames_in_groups(contracts, items()))
        finally:
            ahead.close()  # before the connection it reads on


def _depth(group_items: int | None) -> int:
    """Chunks read ahead: about a group's rows, READ_AHEAD at most (memory follows groups)."""
    if group_items is None:
        return READ_AHEAD
    return max(1, min(READ_AHEAD, -(-group_items // STREAM_ROWS)))


def _read_sql(query: sa.Select, connection: sa.Connection, chunksize: int | None = None):
    """pandas.read_sql (a frame, or chunks of one), letting the database's own error
    through (pandas wraps it); a whole frame through Arrow where it can be (arrow_reads)."""
    if chunksize is None:
        frame = read_arrow(connection.engine, query)
        if frame is not None:
            return frame
    try:
        return pd.read_sql(query, connection, dtype_backend="numpy_nullable", chunksize=chunksize)
    except pd.errors.DatabaseError as error:
        if isinstance(error.__cause__, sa.exc.DBAPIError):
            raise error.__cause__ from None
        raise


NO_VALUES = pd.DataFrame(columns=["table", "contract_no", "item_no", "field", "what"])


def _over_scale_values(
    connection: sa.Connection, company: int, contract_nos, job_nos
) -> pd.DataFrame:
    """Every value with more decimals than its column's scale: table, contract_no and
    item_no (as Vista writes them), field, and what is wrong with it."""
    found = []
    for table, numbers in ((JCCM, HEADER_NUMBERS), (JCCI, ITEM_NUMBERS)):
        for field, (column, scale) in numbers.items():
            item = table.c.Item if table is JCCI else sa.null()
            rows = connection.execute(
                sa.select(table.c.Contract, item, sa.cast(column, sa.String)).where(
                    *_filters(table, company, contract_nos, job_nos), _over_scale(column, scale)
                )
            ).all()
            what = f"{table.name}, column {column.name}: {{!r}} has more than {scale} decimals"
            found += [
                (table.name, contract, item_no, field, what.format(value))
                for contract, item_no, value in rows
            ]
    return pd.DataFrame(found, columns=NO_VALUES.columns)


def _rejections(
    raw: pd.DataFrame, table: sa.Table, over_scale: pd.DataFrame, coded: dict[str, Coded]
) -> dict[str, pd.Series]:
    """What is wrong with the values of `raw` (rows of `table`, `coded`: their _coded) that
    cannot be taken: codes the connector does not know, numbers with more decimals than
    their scale."""
    source = HEADER_SOURCE if table is JCCM else ITEM_SOURCE
    found = {
        field: unknown_codes(
            table.name, code.text, code.mapped, source[field].name, list(CODES[field])
        )
        for field, code in coded.items()
    }
    keys = ["contract_no", "item_no"] if table is JCCI else ["contract_no"]
    mine = over_scale[over_scale["table"] == table.name]
    if len(mine):
        rows = raw[keys].reset_index().merge(mine, on=keys)
        for field, what in rows.groupby("field"):
            found[field] = pd.Series(what["what"].to_numpy(), index=what["index"], dtype="string")
    return found | _unexplained(raw, table, found)


def _unexplained(raw: pd.DataFrame, table: sa.Table, found: dict[str, pd.Series]) -> dict:
    """A row flagged with a value past its scale that the values read apart do not name
    (they were read in another snapshot, and the ERP changed between the two): each of its
    numbers rejected, never taken rounded; the next read tells which one it was."""
    numbers = ITEM_NUMBERS if table is JCCI else HEADER_NUMBERS
    flagged = raw.index[raw["bad_scale"].eq(1).fillna(False).to_numpy()]
    named = {row for field in numbers if field in found for row in found[field].index}
    rows = [row for row in flagged if row not in named]
    if not rows:
        return {}
    said = f"{table.name}: a value with more decimals than its scale, changed while it was read"
    return {
        field: pd.concat(
            [
                found.get(field, pd.Series(dtype="string")),
                pd.Series(said, index=rows, dtype="string"),
            ]
        )
        for field in numbers
    }


def _code_text(codes: pd.Series) -> pd.Series:
    """Codes as text in their normal form, a blank one missing (a SQLite ERP may hand an
    integer column back as text)."""
    text = normal_code(codes.astype("string"))
    return text.mask(text.eq(""))


class Coded(NamedTuple):
    """A coded field's values: Vista's codes as text (_code_text), and their canonical codes
    (missing where Vista's code is unknown or blank)."""

    text: pd.Series
    mapped: pd.Series


def _coded(raw: pd.DataFrame, table: sa.Table) -> dict[str, Coded]:
    """The coded fields of `raw` (rows of `table`), each made once per piece read."""
    source = HEADER_SOURCE if table is JCCM else ITEM_SOURCE
    found = {}
    for field, codes in CODES.items():
        if field in source:
            text = _code_text(raw[field])
            found[field] = Coded(text, text.map({str(k): v for k, v in codes.items()}))
    return found


def _taken(raw: pd.DataFrame, found: dict[str, pd.Series]) -> pd.DataFrame:
    """`raw` with its rejected values missing and said in REJECTED."""
    missing = {f: raw[f].mask(raw.index.isin(what.index)) for f, what in found.items() if len(what)}
    return raw.assign(**missing, **{REJECTED: rejected(raw.index, found)})


def _contracts_frame(raw: pd.DataFrame, over_scale: pd.DataFrame) -> pd.DataFrame:
    # A contract linked to several jobs keeps its first job; Vista links one job per contract.
    raw = raw.sort_values(["contract_no", "job_no"]).drop_duplicates("contract_no")
    # Vista keeps retainage as a fraction at scale 4: the same integer as percent at scale 2.
    raw = raw.assign(retainage_pct=raw["retainage_pct"].fillna(0))
    coded = _coded(raw, JCCM)  # an unknown code is rejected, and not mapped either
    raw = _taken(raw, _rejections(raw, JCCM, over_scale, coded))  # a rejected one stays missing
    frame = raw.assign(
        erp_status=coded["erp_status"].mapped,
        start_date=_iso_dates(raw["start_date"]),
        projected_completion=_iso_dates(raw["projected_completion"]),
    )
    frame = conform(frame, CONTRACT_COLUMNS)
    twice = frame[frame["contract_no"].duplicated(keep=False)]
    if len(twice):  # ' 1001-' and '1001-': one contract to anyone reading them
        codes = twice.groupby("contract_no")["contract_code"].agg(lambda c: ", ".join(map(repr, c)))
        raise ErpDataError(
            "JCCM: "
            + "; ".join(f"contracts {c} differ only in spaces" for c in codes.head(MAX_LISTED))
        )
    return frame.reset_index(drop=True)  # labelled in contract order: a run keeps that order


def _items_frame(raw: pd.DataFrame, over_scale: pd.DataFrame) -> pd.DataFrame:
    _require_one_code(raw)
    raw = raw.assign(**{f: raw[f].fillna(0) for f in BLANK_IS_ZERO})
    coded = _coded(raw, JCCI)  # an unknown code is rejected, and not mapped either
    raw = _taken(raw, _rejections(raw, JCCI, over_scale, coded))  # a rejected one stays missing
    return finish_items(raw.assign(line_item_type=coded["line_item_type"].mapped))


def _require_one_code(raw: pd.DataFrame) -> None:
    """A contract's items all under one code: ' 1001-' and '1001-' would be one contract to
    anyone reading them, yet JCCI's key order puts them apart (and a run reads a group of
    contracts at a time)."""
    codes = raw["contract_no"].astype("string")
    normal = normal_code(codes)
    if not normal.ne(codes).any():  # no padding: nothing can differ only in spaces
        return
    variants = codes.groupby(normal).unique()
    twice = variants[variants.map(len) > 1]
    if len(twice):
        raise ErpDataError(
            "JCCI: "
            + "; ".join(
                f"the items of contract {number} are stored under codes that differ only in "
                f"spaces: {', '.join(map(repr, sorted(found)))}"
                for number, found in twice.head(MAX_LISTED).items()
            )
        )


def _iso_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")
