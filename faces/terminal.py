"""Tables a person reads in the terminal (rich), built from the core's frames, and the same
frames as CSV or JSON for a program. A table never cuts a code or an amount: those columns
are as wide as their longest value, reasons take a line each, and the narrow view (the
default) leaves out what fits only a wide terminal (`--wide` shows every column)."""

from __future__ import annotations

import json

import pandas as pd
from rich import box
from rich.table import Table
from rich.text import Text

from contract_sync.columns import CHANGE_COUNTS, display, field_text
from contract_sync.vocabulary import OUTCOME_COLOURS, ItemChange

AMOUNTS = ("amount_before", "amount_after", "amount_delta")
FORMATS = ("table", "csv", "json")


def _amounts(frame: pd.DataFrame, separators: bool) -> pd.DataFrame:
    """Amounts as exact decimal text: with thousands separators for a person, plain for a
    program (CSV, JSON)."""
    shown = {
        c: frame[c].map(lambda v: display(v, "amount"))
        if separators
        else field_text(frame[c], "amount")
        for c in AMOUNTS
        if c in frame
    }
    return frame.assign(**{c: v.fillna("") for c, v in shown.items()})


def as_text(frame: pd.DataFrame, output_format: str) -> str:
    """A frame as CSV or JSON (records): amounts as exact decimal text, never floats."""
    plain = _amounts(frame, separators=False)
    if output_format == "csv":
        return plain.to_csv(index=False)
    records = plain.astype(object).where(plain.notna(), None).to_dict(orient="records")
    return json.dumps(records, indent=1, default=str) + "\n"


def _view(title: str, columns: list[tuple[str, str]]) -> Table:
    """A table whose (heading, kind) columns never cut: kind `code` and `amount` stay whole
    (no wrap), `words` fold onto more lines."""
    view = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True)
    for heading, kind in columns:
        view.add_column(
            heading,
            justify="right" if kind == "amount" else "left",
            no_wrap=kind in ("code", "amount"),
            overflow="fold",
        )
    return view


def _lines(reasons: pd.Series) -> pd.Series:
    return reasons.fillna("").astype(str).str.split().str.join("\n")


def ready_view(table: pd.DataFrame, actor: str, company: int, wide: bool = False) -> Table:
    """The ready list of one ERP company: one row per ERP contract, whatever it lacks
    (project, title, amounts)."""
    columns = [("contract", "code"), ("project", "code"), ("action", "code"), ("reasons", "code")]
    if wide:
        columns[1:1] = [("title", "words")]
        columns += [("items +/~/-", "code"), ("header", "code"), ("amount before", "amount")]
    columns += [("amount after", "amount"), ("delta", "amount")]
    view = _view(
        f"ERP company {company}: main contracts ready to be imported (as {actor})", columns
    )
    shown = _amounts(table, separators=True)
    action = pd.Series("", index=table.index).mask(table["import_available"], "import")
    action = action.mask(table["reimport_available"], "re-import")
    words = {"title": shown["title"], "project": shown["project"], "action": action}
    _fill(view, pd.DataFrame({h: {**_shared(shown), **words}[h] for h, _ in columns}))
    return view


def outcome_view(audit: pd.DataFrame, wide: bool = False) -> Table:
    """A run's outcome per contract; its ERP company beside it wherever contract numbers
    of several companies meet (they repeat from one company to the next)."""
    columns = [("contract", "code"), ("outcome", "code"), ("reasons", "code")]
    columns += [("items +/~/-", "code")]
    if wide or audit["erp_company"].nunique() > 1:
        columns[0:0] = [("company", "code")]
    if wide:
        columns += [("header", "code"), ("amount before", "amount")]
    columns += [("amount after", "amount"), ("delta", "amount")]
    before, after = audit["amount_before"].astype("Int64"), audit["amount_after"].astype("Int64")
    shown = _amounts(audit.assign(amount_delta=(after - before.fillna(0))), separators=True)
    words = {"company": shown["erp_company"].astype(str), "outcome": shown["outcome"]}
    view = _view("Re-import outcomes per contract", columns)
    _fill(view, pd.DataFrame({h: {**_shared(shown), **words}[h] for h, _ in columns}))
    return view


def _shared(shown: pd.DataFrame) -> dict[str, pd.Series]:
    """The cells the ready list and the outcome table show alike, by heading."""
    return {
        "contract": shown["contract_no"],
        "reasons": _lines(shown["reasons"]),
        "items +/~/-": _counts(shown),
        "header": shown["header_changes"].astype(str),
        "amount before": shown["amount_before"],
        "amount after": shown["amount_after"],
        "delta": shown["amount_delta"],
    }


def _minutes(times: pd.Series) -> pd.Series:
    return pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%d %H:%M")


def _counts(frame: pd.DataFrame) -> pd.Series:
    added, changed, removed = (
        frame[c].fillna(0).astype(int).astype(str) for c in CHANGE_COUNTS[:3]
    )
    return "+" + added + " ~" + changed + " -" + removed


def _fill(view: Table, cells: pd.DataFrame) -> None:
    """Rows of plain text (a code is never read as markup); an outcome in its colour."""
    headings = list(cells.columns)
    plain = cells.astype(object).where(cells.notna(), "")
    for row in plain.itertuples(index=False):
        view.add_row(
            *(
                Text(str(value), style=OUTCOME_COLOURS.get(str(value), ""))
                if heading == "outcome"
                else Text(str(value))
                for heading, value in zip(headings, row, strict=True)
            )
        )


def blockers_view(blockers: pd.DataFrame) -> Table:
    """Contracts blocked again and again for the same reason, by (company, contract)."""
    columns = [("co.", "code"), ("contract", "code"), ("reason", "code"), ("times", "code")]
    columns += [("since", "code"), ("last seen", "code"), ("still", "code")]
    view = _view("Recurring blockers (fix these in the ERP or the project)", columns)
    cells = pd.DataFrame(
        {
            "co.": blockers["erp_company"].astype(str),
            "contract": blockers["contract_no"],
            "reason": blockers["reason"],
            "times": blockers["times"].astype(str),
            "since": _minutes(blockers["since"]),
            "last seen": _minutes(blockers["last_seen"]),
            "still": blockers["still_blocked"].map({True: "yes", False: "no"}),
        }
    )
    _fill(view, cells)
    return view


def audit_rows_view(rows: pd.DataFrame, total: int, wide: bool = False) -> Table:
    """Audit rows, newest last."""
    columns = [("when", "code"), ("actor", "words"), ("contract", "code"), ("outcome", "code")]
    columns += [("reasons", "code"), ("+/~/-", "code")]
    if wide:
        columns[1:1] = [("run", "code")]
        columns[3:3] = [("co.", "code")]
    view = _view(f"Audit rows ({len(rows)} of {total} shown)", columns)
    cells = {
        "when": _minutes(rows["recorded_at"]),
        "run": rows["run_id"].astype(str).str[:8],
        "actor": rows["actor"].astype(str),
        "co.": rows["erp_company"].astype(str),
        "contract": rows["contract_no"],
        "outcome": rows["outcome"],
        "reasons": _lines(rows["reasons"]),
        "+/~/-": _counts(rows),
    }
    _fill(view, pd.DataFrame({h: cells[h] for h, _ in columns}))
    return view


def changes_view(rows: pd.DataFrame, changes: pd.DataFrame) -> Table:
    """The field changes of these audit rows, one line per item field (an added or removed
    item: all its values)."""
    columns = [("contract", "code"), ("item", "code"), ("change", "code"), ("field", "code")]
    columns += [("before", "words"), ("after", "words")]
    view = _view("Field changes", columns)
    shown = changes[changes["audit_id"].isin(rows["audit_id"])]
    text = shown.astype(object).where(shown.notna(), "")
    overwritten = shown["overwritten"].map({True: " (store edit overwritten)", False: ""})
    cells = pd.DataFrame(
        {
            "contract": shown["audit_id"].map(rows.set_index("audit_id")["contract_no"]),
            "item": text["item_no"].replace("", "(header)"),
            "change": text["change"],
            "field": text["field"],
            "before": text["before"],
            "after": text["after"].astype(str) + overwritten.fillna(""),
        }
    )
    _fill(view, cells)
    return view


def preview_view(lines: pd.DataFrame, contract: str) -> Table:
    """A contract's line-level re-import preview."""
    columns = [("item", "code"), ("change", "code"), ("field", "code")]
    columns += [("store now", "words"), ("after re-import", "words"), ("note", "words")]
    view = _view(f"Re-import preview of contract {contract}", columns)
    text = lines.astype(object).where(lines.notna(), "")
    cells = pd.DataFrame(
        {
            "item": text["item_no"].replace("", "(header)"),
            "change": text["change"],
            "field": text["field"],
            "store now": text["before"],
            "after re-import": text["before"].where(
                text["change"] == ItemChange.kept, text["after"]
            ),
            "note": text["note"],
        }
    )
    _fill(view, cells)
    return view
