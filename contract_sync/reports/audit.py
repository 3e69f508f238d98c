"""Audit reports of re-import history: figures, timeline, per-contract history, recurring
blockers; rendered as markdown, CSV or one self-contained HTML file with its chart inline."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import CHANGE_COUNTS, display, field_text, to_decimal
from contract_sync.reports.pages import render
from contract_sync.store.audit_log import AuditFilter, read_audit, read_blocked_spans, read_counts
from contract_sync.vocabulary import (
    OUTCOME_COLOURS,
    UNCHANGED_REASONS,
    Outcome,
    Reason,
    in_few_words,
    label,
)

AMOUNT_FIGURES = ("value_changed", "value_imported")
CSV_COLUMNS = [
    "recorded_at",
    "run_id",
    "trigger",
    "actor",
    "erp_company",
    "contract_no",
    "project",
    "outcome",
    "reasons",
    *CHANGE_COUNTS,
    "amount_before",
    "amount_after",
    "error",
]


@dataclass(frozen=True)
class AuditReport:
    summary: dict
    timeline: pd.DataFrame  # one row per day, one column per outcome: counts
    blockers: pd.DataFrame  # contract_no, reason, times, since, last_seen, still_blocked
    rows: pd.DataFrame  # the audit rows, oldest first
    changes: pd.DataFrame  # their field changes


def build_report(
    rows: pd.DataFrame,
    changes: pd.DataFrame,
    counts: pd.DataFrame,
    totals: dict,
    spans: tuple[pd.Series, pd.Series],
) -> AuditReport:
    """The report from counts made in the database (every row), the rows it lists, and
    the spans of their blocked states (store.audit_log.read_blocked_spans)."""
    reasons = counts.assign(reason=counts["reasons"].str.split()).explode("reason")
    reasons = reasons.dropna(subset=["reason"]).groupby("reason")["rows"].sum().sort_index()
    outcomes = counts.groupby("outcome")["rows"].sum().sort_index()
    summary = {
        **totals,
        "rows": int(counts["rows"].sum()),
        "outcomes": {k: int(v) for k, v in outcomes.items()},
        "reasons": {k: int(v) for k, v in reasons.items()},
        # Counted per outcome: re-imports and undos change a contract's value, first imports
        # bring it in.
        "value_changed": _value_of(counts, Outcome.reimported) + _value_of(counts, Outcome.undone),
        "value_imported": _value_of(counts, Outcome.imported),
    }
    timeline = (
        counts.pivot_table(
            index="day", columns="outcome", values="rows", aggfunc="sum", fill_value=0
        )
        if len(counts)
        else pd.DataFrame()
    )
    return AuditReport(summary, timeline, recurring_blockers(rows, *spans), rows, changes)


def run_line(summary: dict) -> str:
    """Runs by how they ended, and the checks that found a contract as last recorded."""
    statuses = summary["run_statuses"]
    ended = ", ".join(f"{n} {status}" for status, n in statuses.items())
    started = f"{sum(statuses.values())} ({ended})" if statuses else "none"
    return (
        f"runs: {started}; {summary['contracts_repeated']:,} contract checks found "
        "the state last recorded (counted, not recorded again)"
    )


def _counted(n: int, what: str) -> str:
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}s"


def summary_lines(summary: dict, listed: int) -> list[str]:
    """The report's figures in plain text (the terminal): `listed` of its audit rows are
    listed below, the others are rows of contracts found with nothing changed."""
    s = summary
    unlisted = s["rows"] - listed
    rows = (
        f"{_counted(s['runs'], 'run')} recorded {_counted(s['rows'], 'audit row')} of "
        f"{_counted(s['contracts'], 'contract')}"
    )
    if unlisted:
        rows += f": {unlisted:,} with nothing changed (counted, not listed) and {listed:,} listed"
    elif s["rows"]:
        rows += ", all listed"
    lines = [
        rows,
        f"contract value changed by re-imports and undos: {display(s['value_changed'], 'amount')}; "
        f"brought in by first imports: {display(s['value_imported'], 'amount')}",
        "outcomes: " + ", ".join(f"{n:,} {label(k)}" for k, n in s["outcomes"].items()),
    ]
    if s["reasons"]:
        lines.append("reasons: " + ", ".join(f"{k} ({n:,})" for k, n in s["reasons"].items()))
    return lines


def listed_line(shown: int, listed: int) -> str:
    """The title of the listed rows' table, in the summary's words."""
    if shown == listed:
        return f"Audit rows ({listed:,} listed)"
    return f"Audit rows (the newest {shown:,} of the {listed:,} listed; --format csv has all)"


def _value_of(counts: pd.DataFrame, outcome: Outcome) -> int:
    return int(counts.loc[counts["outcome"] == outcome, "value_changed"].fillna(0).sum())


def load_report(
    engine: sa.Engine, audit_filter: AuditFilter, include_unchanged: bool = False
) -> AuditReport:
    """Counts over every matching row; lists the rows, without those of up-to-date contracts
    (a year of hourly runs has them by the million) unless `include_unchanged`."""
    rows, changes = read_audit(engine, audit_filter, include_unchanged)
    spans = read_blocked_spans(engine, audit_filter)
    return build_report(rows, changes, *read_counts(engine, audit_filter), spans)


def recurring_blockers(
    rows: pd.DataFrame, spans: pd.DataFrame, run_starts: pd.DataFrame
) -> pd.DataFrame:
    """A contract blocked again and again for the same reason: what to fix at the source.
    A blocked state is recorded once; each run of its company that checked every contract
    between the record's run and the run of the contract's next record found it so again
    (`spans` by audit_id: run_start, next_start; `run_starts`: erp_company, started_at)."""
    columns = [
        "erp_company",
        "contract_no",
        "reason",
        "times",
        "since",
        "last_seen",
        "still_blocked",
    ]
    blocked = rows[rows["outcome"] == Outcome.blocked]
    if blocked.empty:
        return pd.DataFrame(columns=columns)
    spans = pd.concat(
        [
            _spans(of_company, spans, run_starts[run_starts["erp_company"] == company])
            for company, of_company in blocked.groupby("erp_company")
        ]
    )
    spans = spans.assign(reason=spans["reasons"].str.split()).explode("reason")
    spans = spans[spans["reason"].ne(Reason.no_updates) & spans["reason"].notna()]
    grouped = (
        spans.groupby(["erp_company", "contract_no", "reason"])
        .agg(
            times=("times", "sum"),
            since=("recorded_at", "min"),
            last_seen=("last_seen", "max"),
            still_blocked=("still_blocked", "any"),
        )
        .reset_index()
    )
    recurring = grouped[grouped["times"] > 1]
    return recurring.sort_values(["times", "last_seen"], ascending=False)[columns].reset_index(
        drop=True
    )


def _spans(blocked: pd.DataFrame, spans: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One company's blocked records, each with the runs that found it so (times), the last
    of them, and whether it still is (no later record)."""
    starts = np.sort(_naive_utc(runs["started_at"]))
    of_rows = spans.reindex(blocked["audit_id"])
    recorded = _naive_utc(of_rows["run_start"])
    ends = _naive_utc(of_rows["next_start"])
    current = np.isnat(ends)
    first_after = np.searchsorted(starts, recorded, side="right")
    last_before = np.where(current, len(starts), np.searchsorted(starts, ends, side="left"))
    again = np.clip(last_before - first_after, 0, None)
    # The start of the last run that found it so (padded: with no runs, no index is wrong).
    latest_run = np.append(starts, recorded[:1])[np.clip(last_before - 1, 0, None)]
    seen = np.where(again > 0, latest_run, _naive_utc(blocked["recorded_at"]))
    return blocked.assign(
        times=1 + again, last_seen=pd.to_datetime(seen, utc=True), still_blocked=current
    )


def _naive_utc(times: pd.Series) -> np.ndarray:
    return pd.to_datetime(times, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


def to_csv(report: AuditReport) -> str:
    """One line per audit row; amounts as exact decimal text (12.34, never cents or floats)."""
    rows = report.rows[CSV_COLUMNS]
    amounts = {c: field_text(rows[c], "amount") for c in ("amount_before", "amount_after")}
    return rows.assign(**amounts).to_csv(index=False)


def to_json(report: AuditReport) -> str:
    """The summary and the rows; amounts as exact decimal text (12.34, never cents or floats)."""
    summary = {
        **report.summary,
        **{k: str(to_decimal(report.summary[k], "amount")) for k in AMOUNT_FIGURES},
    }
    rows = report.rows[CSV_COLUMNS].astype(object)
    rows = rows.assign(
        recorded_at=report.rows["recorded_at"].map(lambda t: t.isoformat()),
        **{c: field_text(report.rows[c], "amount") for c in ("amount_before", "amount_after")},
    )
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
    return json.dumps({"summary": summary, "rows": records}, indent=1, default=str) + "\n"


def to_markdown(report: AuditReport) -> str:
    s = report.summary
    lines = [
        "# Re-import audit report",
        "",
        f"- runs: **{s['runs']}**, contracts: **{s['contracts']}**, audit rows: {s['rows']}",
        f"- {run_line(s)}",
        "- contract value changed by re-imports and undos: "
        f"**{display(s['value_changed'], 'amount')}**",
        f"- contract value brought in by first imports: {display(s['value_imported'], 'amount')}",
        "",
        "| outcome | rows |",
        "|---|---:|",
        *(f"| {label(k)} | {v} |" for k, v in s["outcomes"].items()),
    ]
    if s["reasons"]:
        lines += ["", "| reason | rows |", "|---|---:|"]
        lines += [f"| {in_few_words(k)} ({k}) | {v} |" for k, v in s["reasons"].items()]
    if len(report.blockers):
        lines += [
            "",
            "## Recurring blockers",
            "",
            "| contract | reason | times | since | still blocked |",
            "|---|---|---:|---|---|",
        ]
        lines += [
            f"| {b.contract_no} | {in_few_words(b.reason)} | {b.times} | {b.since:%Y-%m-%d} | "
            f"{'yes' if b.still_blocked else 'no'} |"
            for b in report.blockers.itertuples()
        ]
    return "\n".join(lines)


def timeline_svg(timeline: pd.DataFrame, standalone: bool = False) -> str:
    """Stacked bars of audit rows per day by outcome, as SVG (no scripts, no fonts); inline
    in HTML unless `standalone` (an SVG file or data URI needs its namespace)."""
    if timeline.empty:
        return render("timeline.svg.j2", standalone=standalone, width=400, height=40, days=[])
    height, bar, gap, left, top = 220, 18, 6, 40, 20
    peak = max(int(timeline.sum(axis=1).max()), 1)
    days = []
    for i, (day, counts) in enumerate(timeline.iterrows()):
        y, bars = top + height, []
        for outcome, count in counts[counts > 0].items():
            h = height * int(count) / peak
            y -= h
            bars.append(
                {"outcome": outcome, "count": int(count), "y": y, "height": h,
                 "colour": OUTCOME_COLOURS.get(outcome, "#888")}
            )  # fmt: skip
        days.append({"x": left + i * (bar + gap), "label": str(day), "bars": bars})
    axis_end = left + len(days) * (bar + gap)
    legend = [
        {"outcome": outcome, "y": top + 14 * j, "colour": OUTCOME_COLOURS.get(outcome, "#888")}
        for j, outcome in enumerate(timeline.columns)
    ]
    return render(
        "timeline.svg.j2",
        standalone=standalone,
        width=axis_end + 160,
        height=height + 60,
        days=days,
        legend=legend,
        legend_x=axis_end + 20,
        left=left,
        baseline=top + height,
        axis_end=axis_end,
        bar_width=bar,
        peak=peak,
        ink="#555",
    )


def to_html(report: AuditReport, title: str = "Re-import audit report") -> str:
    """One self-contained page: inline CSS and SVG, no script, no external URL."""
    from markupsafe import Markup

    s = report.summary
    summary = pd.DataFrame(
        [
            ("runs", s["runs"]),
            *((f"runs {status}", n) for status, n in s["run_statuses"].items()),
            ("contract checks that found the state last recorded", s["contracts_repeated"]),
            ("contracts", s["contracts"]),
            ("audit rows", s["rows"]),
            (
                "contract value changed by re-imports and undos",
                display(s["value_changed"], "amount"),
            ),
            ("contract value of first imports", display(s["value_imported"], "amount")),
            *((f"outcome: {k}", v) for k, v in s["outcomes"].items()),
            *((f"reason: {k}", v) for k, v in s["reasons"].items()),
        ],
        columns=["figure", "value"],
    )
    changes = dict(tuple(report.changes.groupby("audit_id"))) if len(report.changes) else {}
    marked = {
        audit_id: frame.assign(
            overwritten=frame["overwritten"].map({True: "store edit overwritten", False: ""})
        )[["item_no", "change", "field", "before", "after", "overwritten"]]
        for audit_id, frame in changes.items()
    }
    # Each contract's re-imports and refusals; the many "nothing changed" rows are counted only.
    eventful = report.rows[report.rows["reasons"].ne(UNCHANGED_REASONS)]
    history = [
        {
            "company": company,
            "contract_no": contract_no,
            "entries": [
                {"row": row, "changes": marked.get(row.audit_id)} for row in rows.itertuples()
            ],
        }
        for (company, contract_no), rows in eventful.groupby(
            ["erp_company", "contract_no"], sort=True
        )
    ]
    return render(
        "audit_report.html.j2",
        title=title,
        summary=summary,
        chart=Markup(timeline_svg(report.timeline)),
        blockers=report.blockers,
        history=history,
    )
