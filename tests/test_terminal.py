"""What a person reads in a 100-column terminal: every table fits, no code or amount is
cut; and the same tables as CSV and JSON, amounts exact."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from rich.console import Console
from rich.measure import Measurement
from typer.testing import CliRunner

from contract_sync.columns import display
from contract_sync.demo.edit import edit_erp
from contract_sync.settings import get_settings
from contract_sync_faces.cli import app
from contract_sync_faces.terminal import (
    AMOUNT,
    WORDS,
    Column,
    View,
    allot,
    audit_rows_view,
    changes_view,
    outcome_view,
    reason_legend,
    split,
)

COMMANDS = [
    ["ready"],
    ["ready", "--as", "admin"],
    ["sync", "--company", "1", "--dry-run"],
    ["audit", "report"],
    ["audit", "contract", "24003-"],
    ["reimport", "24003-", "24008-", "--as", "admin", "--dry-run"],
    ["diff", "24008-"],
]


def _run(args: list[str]):
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.fixture
def narrow(configured, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    edit_erp(configured.erp, 1, 0.5, seed=17)
    _run(["sync", "--company", "1"])  # history for the audit commands
    return configured


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_table_fits_100_columns_and_cuts_nothing(narrow):
    ready = pd.DataFrame(json.loads(_run(["ready", "--format", "json"])))
    for args in COMMANDS:
        shown = _run(args)
        assert max(map(len, shown.splitlines())) <= 100, args
        assert "…" not in shown, args
    shown = _run(["ready"])
    for row in ready.itertuples():
        assert row.contract_no in shown
        for code in row.reasons.split():
            assert code in shown.split(), code
        assert display(int(row.amount_after.replace(".", "")), "amount") in shown
        assert display(int(row.amount_delta.replace(".", "")), "amount") in shown


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tables_as_csv_and_json_with_exact_amounts(narrow):
    ready = pd.DataFrame(json.loads(_run(["ready", "--format", "json"])))
    as_csv = pd.read_csv(pd.io.common.StringIO(_run(["ready", "--format", "csv"])), dtype=str)
    assert list(as_csv["contract_no"]) == list(ready["contract_no"])
    amounts = ready["amount_after"].dropna()
    assert amounts.str.fullmatch(r"-?\d+\.\d{2}").all()  # text, no separators, no float
    outcomes = json.loads(_run(["sync", "--company", "1", "--dry-run", "--format", "json"]))
    assert {o["outcome"] for o in outcomes} >= {"blocked", "up_to_date"}
    assert all(isinstance(o["amount_before"], str | None) for o in outcomes)
    report = json.loads(_run(["audit", "report", "--format", "json"]))
    assert 0 < len(report["rows"]) <= report["summary"]["rows"]  # up-to-date rows: counted
    assert all(isinstance(r["amount_after"], str | None) for r in report["rows"])
    changes = ready["items_changed"] + ready["items_added"] + ready["header_changes"]
    pending = ready.loc[ready["imported"] & (changes > 0), "contract_no"].iloc[0]
    lines = json.loads(_run(["diff", pending, "--format", "json"]))
    assert lines and {"item_no", "change", "field", "before", "after", "note"} <= set(lines[0])
    assert CliRunner().invoke(app, ["ready", "--format", "xml"]).exit_code == 1


# --- The splitting renderer, on tiny frames ------------------------------------------------


def _render(view, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(view, crop=False)  # as the CLI
    return out.getvalue()


TINY = pd.DataFrame(
    {
        "company": ["1", "2"],
        "contract": ["24001-", "24001-"],
        "reasons": ["contract_in_multiple_projects", "not_imported\ninvalid_erp_data"],
        "title": ["Lakeside Senior Housing", "Harbor View Fire Station"],
        "amount after": ["3,095,100.82", "12,345,678.90"],
        "delta": ["-1,086,017.90", "0.00"],
    }
)
TINY_COLUMNS = [
    Column("company", key=True),
    Column("contract", key=True),
    Column("reasons"),
    Column("title", WORDS),
    Column("amount after", AMOUNT, group="amounts"),
    Column("delta", AMOUNT, group="amounts"),
]


@pytest.mark.parametrize("width", [48, 60, 80, 120])  # 48: the keys and the widest code
def test_a_view_cuts_no_value_at_any_width(width):
    shown = _render(View("Tiny", TINY_COLUMNS, TINY), width)
    assert max(map(len, shown.splitlines())) <= width, shown
    tokens = shown.split()
    for value in TINY[["contract", "amount after", "delta"]].to_numpy().ravel():
        assert value in tokens, (value, shown)
    for code in " ".join(TINY["reasons"]).split():
        assert code in tokens, (code, shown)
    for word in " ".join(TINY["title"]).split():  # wrapped at spaces, never inside a word
        assert word in tokens, (word, shown)
    assert "…" not in shown


def _whole_on_a_line(shown: str, values) -> None:
    """Each value on one line, a word of its own: not folded onto the next line."""
    tokens = {t for line in shown.splitlines() for t in line.split()}
    for value in values:
        assert value in tokens, (value, shown)


@pytest.mark.parametrize("width", [30, 40, 50, 60])
def test_a_view_narrower_than_a_group_breaks_it_then_the_keys_and_cuts_nothing(width):
    shown = _render(View("Tiny", TINY_COLUMNS, TINY), width)
    _whole_on_a_line(shown, TINY[["contract", "amount after", "delta"]].to_numpy().ravel())
    _whole_on_a_line(shown, " ".join(TINY["reasons"]).split())
    _whole_on_a_line(shown, " ".join(TINY["title"]).split())
    assert "…" not in shown
    said = " ".join(shown.split())
    wider = [line for line in shown.splitlines() if len(line) > width]
    if width > 40:  # the keys and any one column fit: every line does
        assert not wider and "wider than" not in said, shown
        apart = [r"amount after\s+delta"]
    else:  # the keys and the reasons do not fit, the contract alone names no row: whole
        assert re.search(rf"company, contract(,| and) reasons.* wider than {width} col", said)
        assert "even alone: printed whole, the terminal wraps the long lines" in said
        note = shown.split("columns that do not fit")[1].split("Tiny (continued)")[0]
        assert wider and not set(wider) & set(note.splitlines()), shown  # tables' lines
        apart = ["amount after", "delta"]  # the amounts (a group) apart, each by the keys
    for headings in apart:
        assert re.search(rf"^company\s+contract\s+{headings}\s*$", shown, re.M), shown
    assert re.search(r"^2\s+24001-\s+12,345,678\.90(\s+0\.00)?\s*$", shown, re.M), shown
    # Contracts of one company: the contract alone names a row, and fits beside the reasons.
    one = _render(View("Tiny", TINY_COLUMNS, TINY.assign(contract=["24001-", "24002-"])), width)
    _whole_on_a_line(one, " ".join(TINY["reasons"]).split())
    assert width < 40 or max(map(len, one.splitlines())) <= width, one  # 30: contract, reasons
    if width <= 40:
        assert re.search(r"^contract\s+reasons\s*$", one, re.M), one
        assert "or fewer of them where they do not fit beside a column" in " ".join(one.split())


def test_an_outcome_table_keeps_its_amounts_and_contracts_whole_at_40_and_50_columns():
    audit = pd.DataFrame(
        {
            "erp_company": [1, 2],
            "contract_no": ["24003-001", "24003-001"],
            "outcome": ["reimported", "blocked"],
            "reasons": ["", "invalid_erp_data"],
            "items_added": [1, 0],
            "items_changed": [12, 0],
            "items_removed": [0, 3],
            "header_changes": [2, 0],
            "amount_before": [12345678900, 5432100],
            "amount_after": [12345678900 + 5432100, None],
        }
    )
    for width in (40, 50):
        shown = _render(outcome_view(audit, wide=True), width)
        assert max(map(len, shown.splitlines())) <= width, shown
        _whole_on_a_line(shown, ["24003-001", "123,456,789.00", "123,511,110.00", "54,321.00"])
        _whole_on_a_line(shown, ["invalid_erp_data", "re-imported", "+1", "~12", "-3"])


def test_columns_that_do_not_fit_move_below_keyed_and_said_so():
    wide = _render(View("Tiny", TINY_COLUMNS, TINY), 120)
    assert "do not fit" not in wide and "(continued)" not in wide
    narrow = _render(View("Tiny", TINY_COLUMNS, TINY), 60)
    note = "columns that do not fit 60 columns: amount after, delta (shown below, by company"
    assert note in " ".join(narrow.split()), narrow
    first, below = narrow.split("Tiny (continued)")
    heading = first.splitlines()[1]
    assert heading.split() == ["company", "contract", "reasons", "title"]  # the group moved
    assert re.search(r"^company\s+contract\s+amount after\s+delta\s*$", below, re.M), below
    # Each row below names its company and contract: rows of two companies stay apart.
    assert re.search(r"^1\s+24001-\s+3,095,100\.82\s+-1,086,017\.90\s*$", below, re.M)
    assert re.search(r"^2\s+24001-\s+12,345,678\.90\s+0\.00\s*$", below, re.M)


def test_split_keeps_keys_in_every_table_and_the_order_of_the_others():
    ranges = [Measurement(w, w) for w in (4, 6, 10, 10, 10)]
    columns = [Column("a", key=True), Column("b"), Column("c"), Column("d"), Column("e")]
    assert split(columns, ranges, 100) == [[0, 1, 2, 3, 4]]
    # 4+6+10 and gaps = 24: c does not fit 23, and the first beside the keys is always taken
    assert split(columns, ranges, 23) == [[0, 1], [0, 2], [0, 3], [0, 4]]
    assert split(columns, ranges, 30) == [[0, 1, 2], [0, 3, 4]]
    grouped = [*columns[:3], Column("d", group="g"), Column("e", group="g")]
    assert split(grouped, ranges, 40) == [[0, 1, 2], [0, 3, 4]]  # 46 with d and e: together
    assert split([Column("a", key=True)], ranges[:1], 10) == [[0]]


def test_split_breaks_a_group_then_keeps_the_contract_alone_beside_a_column():
    columns = [Column("company", key=True), Column("contract", key=True), Column("x")]
    columns += [Column("y", group="g"), Column("z", group="g")]
    ranges = [Measurement(w, w) for w in (7, 8, 6, 13, 13)]
    assert split(columns, ranges, 47) == [[0, 1, 2], [0, 1, 3, 4]]  # 7+8+13+13 and gaps
    assert split(columns, ranges, 46) == [[0, 1, 2], [0, 1, 3], [0, 1, 4]]  # the group apart
    # The keys and y: 32, y beside the contract alone; company then beside x.
    assert split(columns, ranges, 31) == [[0, 1, 2], [1, 3], [1, 4]]
    # x beside the contract alone too: the company in a table of its own.
    assert split(columns, ranges, 20) == [[1, 2], [1, 3], [1, 4], [0, 1]]
    # Fewer keys that still tell the rows apart, with the contract, rather than it alone.
    assert split(columns, ranges, 31, lambda keys: True) == [[0, 1, 2], [1, 3], [1, 4]]
    three = [Column("when", key=True), Column("run", key=True), *columns[1:]]
    ranges = [Measurement(w, w) for w in (16, 8, 8, 6, 13, 13)]
    apart = lambda keys: 1 in keys  # noqa: E731 - the run tells the rows apart
    assert split(three, ranges, 36, apart) == [[1, 2, 3], [1, 2, 4], [1, 2, 5], [0, 1, 2]]


def test_allot_gives_natural_widths_when_they_fit_and_never_less_than_the_narrowest():
    ranges = [Measurement(8, 8), Measurement(8, 15), Measurement(12, 60)]
    assert allot(ranges, 100) == [8, 15, 60]
    assert allot(ranges, 20) == [8, 8, 12]  # no room: the narrowest (longest word)
    # Room for some: the column that lacks little (a field's name) gets all it lacks.
    assert allot(ranges, 50) == [8, 15, 23]


def test_the_reason_legend_names_each_reason_once_with_what_to_do():
    legend = reason_legend(["not_imported invalid_erp_data", "not_imported", "no_updates"])
    shown = _render(legend, 100)
    for code in ("invalid_erp_data", "not_imported", "no_updates"):
        assert len(re.findall(rf"^{code}\s", shown, re.M)) == 1, shown
    assert "import it first" in shown and "fix in the ERP" in shown
    assert reason_legend([]) is None and reason_legend([""]) is None


def test_field_changes_read_as_labels_and_money_in_the_one_format():
    rows = pd.DataFrame(
        {
            "audit_id": [1],
            "run_id": ["0f1e2d3c-aaaa"],
            "erp_company": [1],
            "contract_no": ["24001-"],
        }
    )
    item = '{"position": "3", "description": "Masonry", "amount": "58326.30", "uom": "LS"}'
    changes = pd.DataFrame(
        {
            "audit_id": [1, 1, 1, 1],
            "item_no": [None, "00010", "00020", "00030"],
            "change": ["changed", "changed", "added", "changed"],
            "field": ["original_amount", "unit_cost", None, "description"],
            "before": ["83041.08", "20.07000", None, "{}"],
            "after": ["9100.40", "12.50000", item, '{"a": 1}'],
            "overwritten": [False, True, False, False],
        }
    )
    shown = _render(changes_view(rows, changes), 100)
    assert "contract amount" in shown and "unit cost" in shown
    assert "original_amount" not in shown and "unit_cost" not in shown
    for value in ("83,041.08", "9,100.40", "20.07", "12.50", "58,326.30"):
        assert value in shown.split() or f"{value};" in shown.split(), (value, shown)
    assert "description: Masonry; amount: 58,326.30; unit: LS" in " ".join(shown.split())
    assert "(store edit overwritten)" in shown
    # A description that reads like JSON, changed: its text as it is (only an added or
    # removed item's values are the audit's JSON).
    assert re.search(
        r"^24001-\s+00030\s+changed\s+description\s+\{\}\s+\{\"a\": 1\}\s*$", shown, re.M
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_unknown_acting_user_is_told_what_to_do(configured, monkeypatch):
    monkeypatch.setenv("CONTRACT_SYNC_SERVICE_USER", "svc-gone")  # the setting it names
    get_settings.cache_clear()
    done = CliRunner().invoke(app, ["ready"])
    assert done.exit_code == 1
    [line] = done.stdout.strip().splitlines()
    assert line.startswith("error: 'svc-gone', the service user a command acts as without --as")
    assert "act as one of its logins with --as LOGIN" in line
    assert "directory file" in line and "set CONTRACT_SYNC_SERVICE_USER to a login" in line
    named = CliRunner().invoke(app, ["ready", "--as", "nobody"])
    assert named.exit_code == 1
    [line] = named.stdout.strip().splitlines()
    assert "'nobody' is not a user of the project store" in line and "--as LOGIN" in line
    assert "SERVICE_USER" not in line  # a user named with --as: the service user is not the cause


TWO_RUNS = pd.DataFrame(  # one contract synced twice within a minute, in two runs
    {
        "audit_id": [1, 2],
        "run_id": ["aaaa1111-0000-4000-8000-000000000001", "bbbb2222-0000-4000-8000-0002"],
        "recorded_at": ["2026-12-06T20:22:05Z", "2026-12-06T20:22:41Z"],
        "actor": ["svc-sync", "svc-sync"],
        "erp_company": [1, 1],
        "contract_no": ["24011-", "24011-"],
        "outcome": ["reimported", "reimported"],
        "reasons": ["contract_in_multiple_projects", "invalid_erp_data"],
        "items_added": [0, 0],
        "items_changed": [1, 1],
        "items_removed": [0, 0],
        "header_changes": [0, 0],
        "amount_before": [100, 200],
        "amount_after": [200, 300],
    }
)


def test_rows_of_two_runs_below_name_their_run():
    shown = _render(audit_rows_view(TWO_RUNS, "Audit rows"), 50)
    assert "(shown below, by when, run and contract" in " ".join(shown.split()), shown
    continued = shown.split("Audit rows (continued)")[1:]
    assert re.search(r"^when\s+run\s+contract\s+outcome\s*$", continued[0], re.M), shown
    # The reasons do not fit beside all three keys: the run and the contract, that tell
    # the two rows apart (the time to the minute and the contract do not).
    assert re.search(r"^run\s+contract\s+reasons\s*$", continued[-1], re.M), shown
    for part in continued:
        assert re.search(r"aaaa1111\s+24011-\s", part) and re.search(r"bbbb2222\s+24011-", part)
    changes = pd.DataFrame(
        {
            "audit_id": [1, 2],
            "item_no": ["00010", "00010"],
            "change": ["changed", "changed"],
            "field": ["description", "description"],
            "before": ["Masonry", "Masonry walls"],
            "after": ["Masonry walls", "Masonry walls and piers, grouted"],
            "overwritten": [False, False],
        }
    )
    shown = _render(changes_view(TWO_RUNS, changes), 40)
    assert "by run, contract, item and field" in " ".join(shown.split()), shown
    for part in shown.split("Field changes (continued)")[1:]:
        assert re.search(r"^aaaa1111\s+24011-\s+00010\s", part, re.M), part
        assert re.search(r"^bbbb2222\s+24011-\s+00010\s", part, re.M), part
    one_run = _render(audit_rows_view(TWO_RUNS.iloc[:1], "Audit rows"), 100)
    assert "aaaa1111" not in one_run  # one run: its id only with --wide
    assert "aaaa1111" in _render(audit_rows_view(TWO_RUNS.iloc[:1], "Audit rows", True), 120)
