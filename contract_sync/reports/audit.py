"""Audit reports of re-import history: figures, timeline, per-contract history, recurring
blockers; rendered as markdown, CSV or one self-contained HTML file with its chart inline."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import CHANGE_COUNTS, display
from contract_sync.store.audit_log import AuditFilter, read_audit, read_counts
from contract_sync.vocabulary import OUTCOME_COLOURS, UNCHANGED_REASONS, Outcome, Reason

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
    rows: pd.DataFrame, changes: pd.DataFrame, counts: pd.DataFrame, totals: dict
) -> AuditReport:
    """The report from counts made in the database (every row) and the rows it lists."""
    reasons = counts.assign(reason=counts["reasons"].str.split()).explode("reason")
    reasons = reasons.dropna(subset=["reason"]).groupby("reason")["rows"].sum().sort_index()
    outcomes = counts.groupby("outcome")["rows"].sum().sort_index()
    summary = {
        **totals,
        "rows": int(counts["rows"].sum()),
        "outcomes": {k: int(v) for k, v in outcomes.items()},
        "reasons": {k: int(v) for k, v in reasons.items()},
        "value_changed": int(counts["value_changed"].fillna(0).sum()),
    }
    timeline = (
        counts.pivot_table(
            index="day", columns="outcome", values="rows", aggfunc="sum", fill_value=0
        )
        if len(counts)
        else pd.DataFrame()
    )
    return AuditReport(summary, timeline, recurring_blockers(rows), rows, changes)


def load_report(
    engine: sa.Engine, audit_filter: AuditFilter, include_unchanged: bool = False
) -> AuditReport:
    """Counts over every matching row; lists the rows, without those of up-to-date contracts
    (a year of hourly runs has them by the million) unless `include_unchanged`."""
    rows, changes = read_audit(engine, audit_filter, include_unchanged)
    return build_report(rows, changes, *read_counts(engine, audit_filter))


def recurring_blockers(rows: pd.DataFrame) -> pd.DataFrame:
    """A contract blocked again and again for the same reason: what to fix at the source."""
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
    exploded = blocked.assign(reason=blocked["reasons"].str.split()).explode("reason")
    exploded = exploded[exploded["reason"].ne(Reason.no_updates) & exploded["reason"].notna()]
    grouped = (
        exploded.groupby(["erp_company", "contract_no", "reason"])["recorded_at"]
        .agg(times="size", since="min", last_seen="max")
        .reset_index()
    )
    latest = rows.sort_values("recorded_at").groupby(["erp_company", "contract_no"]).tail(1)
    latest_reasons = latest.set_index(["erp_company", "contract_no"])["reasons"]
    keys = pd.MultiIndex.from_frame(grouped[["erp_company", "contract_no"]])
    current = pd.Series(latest_reasons.reindex(keys).to_numpy(), index=grouped.index)
    grouped["still_blocked"] = [
        reason in str(now).split() for reason, now in zip(grouped["reason"], current, strict=True)
    ]
    recurring = grouped[grouped["times"] > 1]
    return recurring.sort_values(["times", "last_seen"], ascending=False)[columns].reset_index(
        drop=True
    )


def to_csv(report: AuditReport) -> str:
    return report.rows[CSV_COLUMNS].to_csv(index=False)


def to_markdown(report: AuditReport) -> str:
    s = report.summary
    lines = [
        "# Re-import audit report",
        "",
        f"- runs: **{s['runs']}**, contracts: **{s['contracts']}**, audit rows: {s['rows']}",
        f"- contract value changed by re-imports: **{display(s['value_changed'], 'amount')}**",
        "",
        "| outcome | rows |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in s["outcomes"].items()),
    ]
    if s["reasons"]:
        lines += ["", "| reason | rows |", "|---|---:|"]
        lines += [f"| `{k}` | {v} |" for k, v in s["reasons"].items()]
    if len(report.blockers):
        lines += [
            "",
            "## Recurring blockers",
            "",
            "| contract | reason | times | since | still blocked |",
            "|---|---|---:|---|---|",
        ]
        lines += [
            f"| {b.contract_no} | `{b.reason}` | {b.times} | {b.since:%Y-%m-%d} | "
            f"{'yes' if b.still_blocked else 'no'} |"
            for b in report.blockers.itertuples()
        ]
    return "\n".join(lines)


def timeline_svg(timeline: pd.DataFrame, standalone: bool = False) -> str:
    """Stacked bars of audit rows per day by outcome, as SVG (no scripts, no fonts); inline
    in HTML unless `standalone` (an SVG file or data URI needs its namespace)."""
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    if timeline.empty:
        return f'<svg{namespace} width="400" height="40"></svg>'
    days, height, bar, gap, left, top = len(timeline), 220, 18, 6, 40, 20
    width = left + days * (bar + gap) + 160
    peak = max(int(timeline.sum(axis=1).max()), 1)
    parts = [
        f'<svg{namespace} width="{width}" height="{height + 60}" '
        f'role="img" aria-label="Audit rows per day by outcome">',
        f'<text x="{left}" y="12" font-size="11">rows per day (max {peak})</text>',
        f'<line x1="{left}" y1="{top + height}" x2="{left + days * (bar + gap)}" '
        f'y2="{top + height}" stroke="#555"/>',
    ]
    for i, (day, counts) in enumerate(timeline.iterrows()):
        x, y = left + i * (bar + gap), top + height
        for outcome, count in counts.items():
            if not count:
                continue
            h = height * int(count) / peak
            y -= h
            colour = OUTCOME_COLOURS.get(outcome, "#888")
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{colour}">'
                f"<title>{html.escape(str(day))} {html.escape(outcome)}: {count}</title></rect>"
            )
        parts.append(
            f'<text x="{x}" y="{top + height + 14}" font-size="9" '
            f'transform="rotate(45 {x} {top + height + 14})">{html.escape(str(day)[5:])}</text>'
        )
    for j, outcome in enumerate(timeline.columns):
        y = top + 14 * j
        colour = OUTCOME_COLOURS.get(outcome, "#888")
        lx = left + days * (bar + gap) + 20
        parts.append(f'<rect x="{lx}" y="{y}" width="10" height="10" fill="{colour}"/>')
        parts.append(
            f'<text x="{lx + 14}" y="{y + 9}" font-size="11">{html.escape(outcome)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row)
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: AuditReport, title: str = "Re-import audit report") -> str:
    """One self-contained page: inline CSS and SVG, no script, no external URL."""
    s = report.summary
    summary = pd.DataFrame(
        [
            ("runs", s["runs"]),
            ("contracts", s["contracts"]),
            ("audit rows", s["rows"]),
            ("contract value changed", display(s["value_changed"], "amount")),
            *((f"outcome: {k}", v) for k, v in s["outcomes"].items()),
            *((f"reason: {k}", v) for k, v in s["reasons"].items()),
        ],
        columns=["figure", "value"],
    )
    history = []
    changes = report.changes.groupby("audit_id") if len(report.changes) else None
    # Each contract's re-imports and refusals; the many "nothing changed" rows are counted only.
    eventful = report.rows[report.rows["reasons"].ne(UNCHANGED_REASONS)]
    for contract_no, rows in eventful.groupby("contract_no", sort=True):
        entries = []
        for row in rows.itertuples():
            mine = (
                changes.get_group(row.audit_id)
                if changes is not None and row.audit_id in changes.groups
                else pd.DataFrame()
            )
            lines = ""
            if len(mine):
                marked = mine.assign(
                    overwritten=mine["overwritten"].map({True: "store edit overwritten", False: ""})
                )[["item_no", "change", "field", "before", "after", "overwritten"]]
                lines = _table(marked)
            entries.append(
                f"<li><b>{row.recorded_at:%Y-%m-%d %H:%M}</b> {html.escape(row.outcome)} "
                f"{html.escape(row.reasons or '')} by {html.escape(str(row.actor))} "
                f"({html.escape(str(row.trigger))}) +{row.items_added} ~{row.items_changed} "
                f"-{row.items_removed}{lines}</li>"
            )
        history.append(
            f"<details><summary>{html.escape(contract_no)} ({len(rows)} rows)</summary>"
            f"<ul>{''.join(entries)}</ul></details>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}"
        "table{border-collapse:collapse;margin:.5rem 0 1rem}"
        "th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
        "th{background:#f3f3f3}details{margin:.2rem 0}"
    )
    blockers = (
        _table(report.blockers)
        if len(report.blockers)
        else "<p>No contract was blocked more than once for the same reason.</p>"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<h2>Summary</h2>{_table(summary)}"
        f"<h2>Re-imports per day</h2>{timeline_svg(report.timeline)}"
        f"<h2>Recurring blockers</h2>{blockers}"
        f"<h2>Per-contract history</h2>{''.join(history)}</body></html>"
    )
