"""Extraction: the Vista and files connectors, exact numbers, faults with clear messages."""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.columns import REJECTED
from contract_sync.demo.export import write_files
from contract_sync.erp import vista
from contract_sync.erp.files import read_files
from contract_sync.erp.frames import ErpReadError, ErpTransientError
from contract_sync.erp.read import classify, with_retries
from contract_sync.erp.vista import read_vista
from contract_sync.erp.vista_schema import JCCI
from contract_sync.exact import NumberFormat, parse_scaled
from contract_sync.hashing import contract_hashes
from contract_sync.stages.validate import validate
from contract_sync.store.db import make_engine
from tests.test_validate import SUITES

ACCOUNTING = NumberFormat(thousands=",", parentheses_negative=True, trailing_minus=True)


def _same(left, right) -> None:
    pd.testing.assert_frame_equal(left.contracts, right.contracts)
    pd.testing.assert_frame_equal(left.items, right.items)


@pytest.mark.parametrize(
    ("fmt", "encoding"), [("csv", "utf-8"), ("csv", "cp1252"), ("xlsx", "utf-8")]
)
def test_files_export_reads_back_as_the_same_frames(shared_seeded, tmp_path, fmt, encoding):
    vista = read_vista(shared_seeded.erp, 1)
    vista.items.loc[0, "description"] = "Façade – Level 2 (€)"  # cp1252 has all three
    files = read_files(write_files(vista, tmp_path / "export", fmt, encoding), 1)
    _same(vista, files)
    assert contract_hashes(vista.contracts, vista.items).equals(
        contract_hashes(files.contracts, files.items)
    )


def test_xlsx_with_numeric_cells_is_read_exactly(shared_seeded, tmp_path):
    vista = read_vista(shared_seeded.erp, 1)
    folder = write_files(vista, tmp_path / "export", "xlsx")
    items = pd.read_excel(folder / "items.xlsx", dtype=str)
    for column in ("OrigContractUnits", "OrigUnitPrice", "OrigContractAmt"):
        text = items[column].str.replace(",", "").str.replace("(", "-").str.replace(")", "")
        items[column] = text.astype(float)  # as a spreadsheet keeps them: binary floats
    items.to_excel(folder / "items.xlsx", index=False)
    _same(vista, read_files(folder, 1))


def test_connectors_narrow_to_contracts_and_jobs(shared_seeded, tmp_path):
    vista = read_vista(shared_seeded.erp, 1, contract_nos=["24003-", "24004-"])
    assert set(vista.contracts["contract_no"]) == {"24003-", "24004-"}
    assert set(vista.items["contract_no"]) == {"24003-", "24004-"}
    by_job = read_vista(shared_seeded.erp, 1, job_nos=["24004-001"])
    assert list(by_job.contracts["contract_no"]) == ["24004-"]
    folder = write_files(read_vista(shared_seeded.erp, 1), tmp_path / "export")
    _same(vista, read_files(folder, 1, contract_nos=["24003-", "24004-"]))
    _same(by_job, read_files(folder, 1, job_nos=["24004-001"]))


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("0.10", 2, 10),
        ("0.20", 2, 20),
        ("9,999,999.99", 2, 999_999_999),
        ("(1,250.00)", 2, -125_000),
        ("1,250.00-", 2, -125_000),
        ("-0.01", 2, -1),
        ("12.34567", 5, 1_234_567),
        ("1.5", 2, 150),
        ("1.500", 2, 150),
        ("007", 3, 7_000),
    ],
)
def test_numbers_are_parsed_exactly(text, scale, expected):
    parsed = parse_scaled(pd.Series([text]), scale, ACCOUNTING)
    assert parsed.problems.isna().all()
    assert parsed.values[0] == expected


def test_exact_sums_and_rejections():
    tenths = parse_scaled(pd.Series(["0.10", "0.20"]), 2).values
    assert tenths.sum() == parse_scaled(pd.Series(["0.30"]), 2).values[0]
    bad = parse_scaled(pd.Series(["1.234", "12a", "1" * 20]), 2)
    assert list(bad.problems) == ["has more than 2 decimals", "is not a number", "is too large"]
    assert bad.values.isna().all()


def _export(sides, tmp_path):
    return write_files(read_vista(sides.erp, 1), tmp_path / "export")


def _rejected(frame: pd.DataFrame) -> dict:
    """(contract_no, item_no or None) -> what the connector said of the row's values."""
    said = frame[frame[REJECTED].notna()]
    items = said["item_no"] if "item_no" in said else [None] * len(said)
    return {
        (number, item): json.loads(text)
        for number, item, text in zip(said["contract_no"], items, said[REJECTED], strict=True)
    }


def test_a_value_with_too_many_decimals_is_rejected_naming_file_column_and_value(
    shared_seeded, tmp_path
):
    folder = _export(shared_seeded, tmp_path)
    items = pd.read_csv(folder / "items.csv", dtype=str)
    items.loc[1, "OrigContractAmt"] = "12.345"
    items.loc[2, "OrigContractUnits"] = "1.2.3"
    items.to_csv(folder / "items.csv", index=False)
    frames = read_files(folder, 1)
    assert _rejected(frames.items) == {
        (items.loc[1, "Contract"], items.loc[1, "Item"]): {
            "amount": "items.csv, column OrigContractAmt: '12.345' has more than 2 decimals"
        },
        (items.loc[2, "Contract"], items.loc[2, "Item"]): {
            "quantity": "items.csv, column OrigContractUnits: '1.2.3' is not a number"
        },
    }
    assert frames.items.loc[frames.items[REJECTED].notna(), "amount"].isna().sum() == 1
    assert set(validate(frames, SUITES).invalid_contracts) >= set(items.loc[1:2, "Contract"])


def _finer_unit_price(seeded, backend: str) -> None:  # noqa: ANN001
    """A unit price of 24009- with more decimals than Vista's scale (5)."""
    if backend == "postgresql":
        pytest.skip("PostgreSQL's NUMERIC(16,5) rounds on write: the ERP cannot hold the value")
    with seeded.erp.begin() as connection:
        connection.execute(
            JCCI.update()
            .where(JCCI.c.JCCo == 1, JCCI.c.Contract == "24009-")
            .values(OrigUnitPrice=sa.literal(1.234567))
        )


def test_vista_value_with_too_many_decimals_is_rejected_not_rounded(seeded, backend):
    _finer_unit_price(seeded, backend)
    frames = read_vista(seeded.erp, 1)
    rejected = _rejected(frames.items)
    assert {number for number, _item in rejected} == {"24009-"}
    assert {text for said in rejected.values() for text in said.values()} == {
        "JCCI, column OrigUnitPrice: '1.234567' has more than 5 decimals"
    }
    items = frames.items[frames.items["contract_no"] == "24009-"]
    assert items["unit_cost"].isna().all()


def test_a_flagged_value_the_values_read_apart_do_not_name_is_rejected_not_rounded(
    seeded, backend, monkeypatch
):
    """The values past their scale are read apart, in another snapshot than the rows (the
    Arrow read's own process): when the ERP changed between the two, the flagged row's
    numbers are all rejected, none taken rounded."""
    _finer_unit_price(seeded, backend)
    monkeypatch.setattr(vista, "_over_scale_values", lambda *_: vista.NO_VALUES)  # read before
    items = read_vista(seeded.erp, 1).items
    flagged = items[items[REJECTED].notna()]
    assert set(flagged["contract_no"]) == {"24009-"}
    assert flagged[["quantity", "unit_cost", "amount"]].isna().all().all()
    assert "changed while it was read" in flagged[REJECTED].iloc[0]


def test_codes_the_connectors_do_not_know_are_rejected(seeded, tmp_path):
    """`open` where the export's mapping says `1` is not taken for the status it names."""
    folder = _export(seeded, tmp_path)
    contracts = pd.read_csv(folder / "contracts.csv", dtype=str)
    contracts.loc[0, "ContractStatus"] = "open"
    contracts.loc[1, "ContractStatus"] = " 2 "  # a code in any padding is the code
    contracts.to_csv(folder / "contracts.csv", index=False)
    frames = read_files(folder, 1)
    assert _rejected(frames.contracts) == {
        (contracts.loc[0, "Contract"], None): {
            "erp_status": "contracts.csv, column ContractStatus: 'open' is not one of its codes "
            "(0, 1, 2, 3)"
        }
    }
    assert frames.contracts.loc[1, "erp_status"] == "soft_close"
    with seeded.erp.begin() as connection:
        connection.execute(
            JCCI.update().where(JCCI.c.JCCo == 1, JCCI.c.Contract == "24009-").values(BillType="Z")
        )
    said = _rejected(read_vista(seeded.erp, 1).items)
    assert {n for n, _i in said} == {"24009-"}
    assert {t for s in said.values() for t in s.values()} == {
        "JCCI, column BillType: 'Z' is not one of its codes (P, T, B, N)"
    }


def test_files_faults_name_what_is_wrong(shared_seeded, tmp_path):
    folder = _export(shared_seeded, tmp_path)
    (folder / "contracts.csv").write_bytes("Contract\n\xe9t\xe9\n".encode("cp1252"))
    with pytest.raises(ErpReadError, match="contracts.csv is not utf-8 text"):
        read_files(folder, 1)
    (folder / "contracts.csv").write_text("Contract,Job\n24001-,24001-001\n")
    with pytest.raises(ErpReadError, match="contracts.csv has no column JCCo, Description"):
        read_files(folder, 1)
    (folder / "items.csv").unlink()
    (folder / "contracts.csv").unlink()
    with pytest.raises(ErpReadError, match="contracts.csv does not exist"):
        read_files(folder, 1)
    (folder / "mapping.yaml").write_text("contracts: {file: c.csv, columns: {colour: X}}\n")
    with pytest.raises(ErpReadError, match="mapping.yaml is not a valid mapping"):
        read_files(folder, 1)


def test_a_bad_date_is_rejected_naming_the_column_and_value(shared_seeded, tmp_path):
    folder = _export(shared_seeded, tmp_path)
    contracts = pd.read_csv(folder / "contracts.csv", dtype=str)
    contracts.loc[2, "StartMonth"] = "31/31/2025"
    contracts.to_csv(folder / "contracts.csv", index=False)
    assert _rejected(read_files(folder, 1).contracts) == {
        ("24003-", None): {
            "start_date": "contracts.csv, column StartMonth: '31/31/2025' is not a date (%m/%d/%Y)"
        }
    }


def test_a_missing_table_is_permanent(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with pytest.raises(sa.exc.OperationalError) as caught:
        read_vista(engine, 1)
    error = classify(caught.value, "test")
    assert type(error) is ErpReadError and "JCCM" in str(error)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_database_is_transient_and_retried(caplog):
    engine = sa.create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/erp",
        connect_args={"connect_timeout": 2},
    )
    attempts = []

    def read():
        attempts.append(1)
        try:
            return read_vista(engine, 1)
        except sa.exc.DBAPIError as error:
            raise classify(error, "127.0.0.1") from error

    waits = []
    with pytest.raises(ErpTransientError, match="not reachable"):
        with_retries(read, delays=(0.1, 0.2), sleep=waits.append)
    assert len(attempts) == 3
    assert waits == [0.1, 0.2]
    warned = [r.getMessage() for r in caplog.records if r.name == "contract_sync.erp"]
    assert [line.split(":")[0] for line in warned] == ["attempt 1", "attempt 2"]
    assert all("not reachable" in line and "; retrying in 0 s" in line for line in warned)


def test_a_read_that_recovers_is_read_once_more_and_a_permanent_fault_is_not_retried():
    answers = [ErpTransientError("busy"), ErpTransientError("busy"), "read"]

    def recovering():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    waits = []
    assert with_retries(recovering, sleep=waits.append) == "read"
    assert waits == [1.0, 3.0]  # RETRY_DELAYS, in order, until the read succeeds

    def permanent():
        waits.append("read")
        raise ErpReadError("cannot read the ERP: no table JCCM")

    waits.clear()
    with pytest.raises(ErpReadError, match="no table JCCM"):
        with_retries(permanent, sleep=waits.append)
    assert waits == ["read"]


def test_missing_vista_numbers_reach_validation_instead_of_failing_the_read(seeded):
    with seeded.erp.begin() as connection:
        connection.execute(
            JCCI.update()
            .where(JCCI.c.JCCo == 1, JCCI.c.Contract == "24010-")
            .values(OrigContractAmt=None, OrigContractUnits=None, RetainPCT=None)
        )
    frames = read_vista(seeded.erp, 1)
    items = frames.items[frames.items["contract_no"] == "24010-"]
    assert items["amount"].isna().all() and (items["quantity"] == 0).all()
    result = validate(frames, SUITES)
    assert "24010-" in set(result.invalid_contracts)
    found = {
        d["expectation"]
        for d in result.failures.set_index("contract_no").loc["24010-", "failed_expectations"]
    }
    assert "expect_column_values_to_not_be_null" in found
