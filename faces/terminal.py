"""Tables a person reads in the terminal (rich), built from the core's frames, and the same
frames as CSV or JSON for a program.

A table never cuts a value, whatever the terminal's width: each column's natural width is
measured with rich; codes and amounts keep theirs (never broken), words wrap at spaces
(never inside a word). The columns that still do not fit move to a table below, keyed by
the same key columns (contract, company, ...), and a line says so. Reason codes, long for a
narrow column, are explained once each in a legend below (`reason_legend`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import combinations

import pandas as pd
from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from contract_sync.columns import CHANGE_COUNTS, display, field_text
from contract_sync.vocabulary import (
    FIRST_IMPORT_WORDS,
    OUTCOME_COLOURS,
    REASON_WORDS,
    SCALES,
    ItemChange,
    label,
    what_to_do,
)

AMOUNTS = ("amount_before", "amount_after", "amount_delta")
FORMATS = ("table", "csv", "json")
GAP = 2  # between two columns: a cell's padding and the table's blank divider
CODE, AMOUNT, WORDS = "code", "amount", "words"
ANCHOR = "contract"  # the key kept when the keys and one column do not fit: it names a row


# --- The renderer: one for every table the command line prints ----------------------------


@dataclass(frozen=True)
class Column:
    """A column of a view: `code` and `amount` cells are never broken (an amount is right
    aligned), `words` wrap at spaces; a `key` column is repeated in every table the view is
    split into; columns of one `group` move below together (the amounts, say)."""

    heading: str
    kind: str = CODE
    key: bool = False
    group: str = ""


@dataclass
class View:
    """A table of text cells (one column per heading) that fits the console it is printed
    on (a rich renderable: the split is made for the width it is rendered at)."""

    title: str
    columns: list[Column]
    cells: pd.DataFrame
    styles: dict[str, pd.Series] = field(default_factory=dict)  # heading -> a style per row
    reasons: frozenset[str] = frozenset()  # the reason codes it shows, for the legend

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        ranges = [_measure(console, options, c, self.cells[c.heading]) for c in self.columns]
        parts = split(self.columns, ranges, width, self._identifies)
        for number, part in enumerate(parts):
            # The title above, left: it wraps at the console's width, not the table's.
            yield Text(self.title if number == 0 else f"{self.title} (continued)", "table.title")
            shown = [ranges[i] for i in part]
            if _needed(shown) <= width:
                yield self._table(part, allot(shown, width))
            else:  # wider than the terminal even alone (a contract and one value): at its
                # natural width, unfolded; the terminal wraps the long lines, cutting nothing
                natural = [r.maximum for r in shown]
                table = self._table(part, natural)
                yield from console.render(table, options.update(width=_total(natural)))
            if number == 0 and (note := self._note(parts, ranges, width)):
                yield Text(note, style="italic")

    def _identifies(self, keys: list[int]) -> bool:
        """Whether these key columns tell the rows apart (no two rows alike in all)."""
        return not self.cells[[self.columns[i].heading for i in keys]].duplicated().any()

    def _note(self, parts: list[list[int]], ranges: list[Measurement], width: int) -> str:
        """The line under the first table: the columns moved below and by which keys; the
        tables too wide for the terminal even alone."""
        said = []
        keys = [i for i, c in enumerate(self.columns) if c.key]
        below = sorted({i for part in parts[1:] for i in part} - set(parts[0]))
        if below:
            by = f", by {_and([self.columns[i].heading for i in keys])}" if keys else ""
            if any(not set(keys) <= set(part) for part in parts):
                by += ", or fewer of them where they do not fit beside a column"
            moved = ", ".join(self.columns[i].heading for i in below)
            said.append(f"columns that do not fit {width} columns: {moved} (shown below{by})")
        wider = [i for p in parts if _needed([ranges[i] for i in p]) > width for i in p]
        if wider:
            headings = _and([self.columns[i].heading for i in dict.fromkeys(wider)])
            said.append(
                f"{headings} wider than {width} columns even alone: printed whole, the "
                "terminal wraps the long lines"
            )
        return "; ".join(said)

    def _table(self, part: list[int], widths: list[int]) -> Table:
        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
        columns = [self.columns[i] for i in part]
        for column, width in zip(columns, widths, strict=True):
            justify = "right" if column.kind == AMOUNT else "left"
            table.add_column(column.heading, justify=justify, width=width, overflow="fold")
        headings = [c.heading for c in columns]
        text = self.cells[headings].astype(object).where(self.cells[headings].notna(), "")
        styles = pd.DataFrame({h: self.styles.get(h, "") for h in headings}, index=text.index)
        for values, looks in zip(
            text.itertuples(index=False), styles.itertuples(index=False), strict=True
        ):
            table.add_row(
                *(Text(str(v), style=s or "") for v, s in zip(values, looks, strict=True))
            )
        return table


def _measure(
    console: Console, options: ConsoleOptions, column: Column, cells: pd.Series
) -> Measurement:
    """The narrowest and the natural width of a column: a code or an amount is as wide as
    its longest line, words as their longest word; the heading wraps at its spaces."""
    heading = Measurement.get(console, options, Text(column.heading))
    values = cells.dropna().astype(str).unique()
    found = [Measurement.get(console, options, Text(v)) for v in values]
    longest = max((m.maximum for m in found), default=0)
    words = max((m.minimum for m in found), default=0)
    narrowest = words if column.kind == WORDS else longest
    return Measurement(
        max(narrowest, heading.minimum, 1), max(longest, heading.maximum, narrowest, 1)
    )


def split(
    columns: list[Column],
    ranges: list[Measurement],
    width: int,
    identifies: Callable[[list[int]], bool] = lambda keys: False,
) -> list[list[int]]:
    """The columns (by position) of each table a view is printed as: the key columns in
    each, and the other columns in order, group by group, while their narrowest widths fit
    `width`; the rest in the next table. A group that does not fit beside the keys on its
    own is broken into its columns; a column that does not fit beside the keys has fewer
    beside it: the most keys with the contract that still tell its rows apart
    (`identifies`) and fit; if none fit, the narrowest that tell them apart, in a table
    wider than `width` (printed unfolded: the terminal wraps its lines, cutting nothing);
    the contract alone if no keys tell them apart. A key then in no table comes in a table
    below, beside the others."""
    keys = [i for i, c in enumerate(columns) if c.key]
    anchor = _anchor(columns)
    groups: list[list[int]] = []
    for i, column in enumerate(columns):
        if column.key:
            continue
        if groups and column.group and columns[groups[-1][-1]].group == column.group:
            groups[-1].append(i)
        else:
            groups.append([i])

    def fits(part: list[int]) -> bool:
        return _needed([ranges[i] for i in part]) <= width

    def fewer(keys: list[int], column: list[int]) -> list[int]:
        """The keys beside a column that does not fit beside them all: the most that tell
        the rows apart and fit; else the narrowest that tell them apart, wider than
        `width`; the contract alone if no keys do."""
        telling = [
            list(chosen)
            for size in range(len(keys), 0, -1)
            for chosen in combinations(keys, size)
            if set(anchor) <= set(chosen) and identifies(list(chosen))
        ]
        fitting = [chosen for chosen in telling if fits(chosen + column)]
        if fitting or telling:
            return (fitting or sorted(telling, key=lambda c: _needed([ranges[i] for i in c])))[0]
        return anchor

    def pack(keys: list[int], groups: list[list[int]]) -> list[list[int]]:
        parts: list[list[int]] = []
        while groups or not parts:
            first = groups[0] if groups else []
            if len(first) > 1 and not fits(keys + first):
                groups = [[i] for i in first] + groups[1:]  # the group apart
                continue
            alone = not fits(keys + first)  # fewer keys beside it, fitting or not
            part, groups = (fewer(keys, first) if alone else keys) + first, groups[1:]
            while not alone and groups and fits(part + groups[0]):
                part, groups = part + groups[0], groups[1:]
            parts.append(sorted(part))
        return parts

    parts = pack(keys, groups)
    unseen = [i for i in keys if not any(i in part for part in parts)]
    seen = [i for i in keys if i not in unseen]
    return parts + (pack(seen, [[i] for i in unseen]) if unseen else [])


def _anchor(columns: list[Column]) -> list[int]:
    """The key column kept when the keys and a column do not fit: the contract's."""
    keys = [i for i, c in enumerate(columns) if c.key]
    return [i for i in keys if columns[i].heading == ANCHOR] or keys[:1]


def _needed(ranges: list[Measurement]) -> int:
    return _total([r.minimum for r in ranges])


def _total(widths: list[int]) -> int:
    return sum(widths) + GAP * (len(widths) - 1)


def _and(words: list[str]) -> str:
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def allot(ranges: list[Measurement], width: int) -> list[int]:
    """Each column's width: its natural one if the table fits; else its narrowest, and the
    room left shared among the columns that wrap, fairly: a column that lacks little (a
    field's name) gets all it lacks, the others share the rest evenly (long values)."""
    spare = max(width - _needed(ranges), 0)
    widths = [r.minimum for r in ranges]
    lacking = sorted(range(len(ranges)), key=lambda i: ranges[i].maximum - ranges[i].minimum)
    for place, i in enumerate(lacking):
        lack = ranges[i].maximum - widths[i]
        share = lack if lack <= spare else spare // (len(lacking) - place)
        widths[i] += share
        spare -= share
    return widths


def reason_legend(reasons: Iterable[str], first_import: bool = False) -> View | None:
    """Each reason code shown, once, in words and with what to do about it (None if none)."""
    codes = sorted({c for text in reasons for c in str(text).split()})
    if not codes:
        return None
    words = REASON_WORDS | (FIRST_IMPORT_WORDS if first_import else {})
    todo = [what_to_do(c, first_import=first_import) for c in codes]
    cells = pd.DataFrame(
        {
            "reason": codes,
            "what it means": [words.get(c, (c, ""))[0] for c in codes],
            "what to do": todo,
        }
    )
    columns = [Column("reason", CODE, key=True), Column("what it means", WORDS)]
    columns += [Column("what to do", WORDS)]
    return View("Reasons", columns, cells)


# --- The views -----------------------------------------------------------------------------


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


def _view(
    title: str,
    columns: list[Column],
    cells: dict[str, pd.Series],
    reasons: pd.Series | None = None,
    outcomes: pd.Series | None = None,
) -> View:
    """A view of the cells its columns name; outcome codes shown in words and colour."""
    styles = {}
    if outcomes is not None:
        cells = {**cells, "outcome": outcomes.map(label)}
        styles["outcome"] = outcomes.map(OUTCOME_COLOURS).fillna("")
    frame = pd.DataFrame({c.heading: cells[c.heading] for c in columns})
    shown = frozenset() if reasons is None else frozenset(" ".join(reasons.dropna()).split())
    return View(title, columns, frame, styles, shown)


def _lines(reasons: pd.Series) -> pd.Series:
    return reasons.fillna("").astype(str).str.split().str.join("\n")


def _company(frame: pd.DataFrame, wide: bool) -> list[Column]:
    """The company column, wherever rows of several ERP companies meet (their contract
    numbers repeat from one company to the next)."""
    several = "erp_company" in frame and frame["erp_company"].nunique() > 1
    return [Column("company", CODE, key=True)] if wide or several else []


def _run(frame: pd.DataFrame, wide: bool) -> list[Column]:
    """The run column (a run id's first 8 characters), wherever rows of several runs meet:
    the time to the minute, the contract, an item and a field repeat from run to run."""
    several = "run_id" in frame and frame["run_id"].nunique() > 1
    return [Column("run", CODE, key=True)] if wide or several else []


def _changes_columns(wide: bool) -> list[Column]:
    """Item counts, amounts, then the reasons: what the ready list and the outcome table show
    alike. The reasons last: in a narrow terminal they are the ones to move below, beside
    their legend, and the amounts stay beside the contract."""
    columns = [Column("items +/~/-")]
    if wide:
        columns += [Column("header changes"), Column("amount before", AMOUNT, group="amounts")]
    return columns + [
        Column("amount after", AMOUNT, group="amounts"),
        Column("delta", AMOUNT, group="amounts"),
        Column("reasons"),
    ]


def ready_view(table: pd.DataFrame, actor: str, company: int, wide: bool = False) -> View:
    """The ready list of one ERP company: one row per ERP contract, whatever it lacks
    (project, title, amounts)."""
    columns = [Column("contract", key=True)]
    columns += [Column("title", WORDS)] if wide else []
    columns += [Column("project"), Column("action"), *_changes_columns(wide)]
    shown = _amounts(table, separators=True)
    action = pd.Series("", index=table.index).mask(table["import_available"], "import")
    action = action.mask(table["reimport_available"], "re-import")
    if "partial" in table:  # a contract an earlier run wrote in part
        action = action.mask(table["partial"].notna(), action + " (partial)")
    cells = {**_shared(shown), "title": shown["title"], "project": shown["project"]}
    title = f"ERP company {company}: main contracts ready to be imported (as {actor})"
    return _view(title, columns, {**cells, "action": action}, reasons=table["reasons"])


def outcome_view(
    audit: pd.DataFrame, wide: bool = False, title: str = "Re-import outcomes per contract"
) -> View:
    """A run's outcome per contract; its ERP company beside it wherever contract numbers
    of several companies meet (they repeat from one company to the next)."""
    columns = [*_company(audit, wide), Column("contract", key=True)]
    columns += [Column("outcome", WORDS), *_changes_columns(wide)]
    before, after = audit["amount_before"].astype("Int64"), audit["amount_after"].astype("Int64")
    shown = _amounts(audit.assign(amount_delta=(after - before.fillna(0))), separators=True)
    cells = {**_shared(shown), "company": shown["erp_company"].astype(str)}
    return _view(
        title,
        columns,
        cells,
        reasons=audit["reasons"],
        outcomes=audit["outcome"],
    )


def _shared(shown: pd.DataFrame) -> dict[str, pd.Series]:
    """The cells the ready list and the outcome table show alike, by heading."""
    return {
        "contract": shown["contract_no"],
        "reasons": _lines(shown["reasons"]),
        "items +/~/-": _counts(shown),
        "header changes": shown["header_changes"].astype(str),
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


def blockers_view(blockers: pd.DataFrame, wide: bool = False) -> View:
    """Contracts blocked again and again for the same reason, by (company, contract)."""
    columns = [*_company(blockers, wide), Column("contract", key=True)]
    columns += [Column("reason", key=True), Column("times"), Column("since")]
    columns += [Column("last seen"), Column("still blocked")]
    cells = {
        "company": blockers["erp_company"].astype(str),
        "contract": blockers["contract_no"],
        "reason": blockers["reason"],
        "times": blockers["times"].astype(str),
        "since": _minutes(blockers["since"]),
        "last seen": _minutes(blockers["last_seen"]),
        "still blocked": blockers["still_blocked"].map({True: "yes", False: "no"}),
    }
    title = "Recurring blockers (fix these in the ERP or the project)"
    return _view(title, columns, cells, reasons=blockers["reason"])


def audit_rows_view(rows: pd.DataFrame, title: str, wide: bool = False) -> View:
    """Audit rows, newest last."""
    columns = [Column("when", key=True), *_run(rows, wide), Column("actor", WORDS)]
    columns += [*_company(rows, wide), Column("contract", key=True)]
    columns += [Column("outcome", WORDS), Column("items +/~/-")]
    if wide:
        columns += [Column("amount before", AMOUNT, group="amounts")]
        columns += [Column("amount after", AMOUNT, group="amounts")]
    columns += [Column("reasons")]
    shown = _amounts(rows, separators=True)
    cells = {
        "when": _minutes(rows["recorded_at"]),
        "run": rows["run_id"].astype(str).str[:8],
        "actor": rows["actor"].astype(str),
        "company": rows["erp_company"].astype(str),
        "contract": rows["contract_no"],
        "reasons": _lines(rows["reasons"]),
        "items +/~/-": _counts(rows),
        "amount before": shown["amount_before"],
        "amount after": shown["amount_after"],
    }
    return _view(title, columns, cells, reasons=rows["reasons"], outcomes=rows["outcome"])


def _values(values: pd.Series, fields: pd.Series, changes: pd.Series) -> pd.Series:
    """Field values as a person reads them: numbers in the one format (83041.08 reads
    83,041.08), and an added or removed item's values (JSON in the audit) as `label: value`;
    any other text as it is (an item description `{}` too)."""
    whole = changes.isin([ItemChange.added, ItemChange.removed]) & fields.fillna("").eq("")
    shown = [
        _item_values(v) if item and isinstance(v, str) else display(v, f)
        for v, f, item in zip(values, fields.fillna(""), whole, strict=True)
    ]
    return pd.Series(shown, index=values.index, dtype=object).fillna("")


ITEM_FIRST = ("description", "amount")  # of an added or removed item's values, shown first
ITEM_UNSHOWN = ("position",)  # its place in the list: the item number says which it is


def _item_values(text: str) -> str:
    try:
        values = json.loads(text)
    except ValueError:
        return text
    if not isinstance(values, dict):
        return text
    order = [*ITEM_FIRST, *(f for f in values if f not in ITEM_FIRST)]
    return "; ".join(
        f"{label(f)}: {display(values[f], f) if f in SCALES else values[f]}"
        for f in order
        if f in values and values[f] not in (None, "") and f not in ITEM_UNSHOWN
    )


def changes_view(rows: pd.DataFrame, changes: pd.DataFrame, wide: bool = False) -> View:
    """The field changes of these audit rows, one line per item field (an added or removed
    item: all its values)."""
    shown = changes[changes["audit_id"].isin(rows["audit_id"])]
    by_row = rows.set_index("audit_id")
    located = shown.assign(
        erp_company=shown["audit_id"].map(by_row["erp_company"]),
        contract_no=shown["audit_id"].map(by_row["contract_no"]),
        run_id=shown["audit_id"].map(by_row["run_id"]) if "run_id" in by_row else None,
    )
    columns = [*_run(located, wide), *_company(located, wide), Column("contract", key=True)]
    columns += [Column("item", key=True), Column("change"), Column("field", WORDS, key=True)]
    columns += [Column("before", WORDS), Column("after", WORDS)]
    text = shown.astype(object).where(shown.notna(), "")
    overwritten = shown["overwritten"].map({True: " (store edit overwritten)", False: ""})
    cells = {
        "run": located["run_id"].astype(str).str[:8],
        "company": located["erp_company"].astype(str),
        "contract": located["contract_no"],
        "item": text["item_no"].replace("", "(header)"),
        "change": text["change"],
        "field": text["field"].map(label),
        "before": _values(text["before"], shown["field"], text["change"]),
        "after": _values(text["after"], shown["field"], text["change"]) + overwritten.fillna(""),
    }
    return _view("Field changes", columns, cells)


def preview_view(lines: pd.DataFrame, contract: str) -> View:
    """A contract's line-level re-import preview."""
    columns = [Column("item", key=True), Column("change"), Column("field", WORDS, key=True)]
    columns += [Column("store now", WORDS), Column("after re-import", WORDS)]
    columns += [Column("note", WORDS)]
    text = lines.astype(object).where(lines.notna(), "")
    after = text["before"].where(text["change"] == ItemChange.kept, text["after"])
    cells = {
        "item": text["item_no"].replace("", "(header)"),
        "change": text["change"],
        "field": text["field"].map(label),
        "store now": _values(text["before"], lines["field"], text["change"]),
        "after re-import": _values(after, lines["field"], text["change"]),
        "note": text["note"],
    }
    return _view(f"Re-import preview of contract {contract}", columns, cells)
