"""The audit-report flow: the HTML and CSV report files, and a markdown artifact."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import State
from pydantic import Field

from contract_sync.reports.audit import load_report, timeline_svg, to_csv, to_html, to_markdown
from contract_sync.reports.run_summary import place
from contract_sync.settings import Settings, get_settings
from contract_sync.store.audit_log import AuditFilter
from contract_sync.store.db import open_store
from contract_sync_flows.parameters import BadParameter, checked, refused


@flow(name="audit-report", log_prints=True, validate_parameters=False)
def audit_report_flow(
    days: int = Field(7, ge=1, le=3660, description="How many days back the report covers."),
    project: str = Field("", description="Only this store project (its number); empty: all."),
    contract: str = Field("", description="Only this ERP contract; empty: all."),
) -> str | State:
    """Returns the path of the HTML report."""
    try:
        given = checked(audit_report_flow.fn, locals())
    except BadParameter as error:
        return refused(error)
    days = given["days"]
    project = given["project"].strip() or None
    contract = given["contract"].strip() or None
    settings = get_settings()
    store = open_store(settings)
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    report = load_report(store, AuditFilter(since=since, project=project, contract=contract))
    folder = settings.reports_path / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"audit-{since:%Y%m%d}-{until:%Y%m%d-%H%M%S}"
    html_path, csv_path = folder / f"{stem}.html", folder / f"{stem}.csv"
    html_path.write_text(to_html(report, f"Re-import audit report, last {days} days"), "utf-8")
    csv_path.write_text(to_csv(report), "utf-8")
    chart = base64.b64encode(timeline_svg(report.timeline, standalone=True).encode()).decode()
    create_markdown_artifact(
        key="audit-report",
        markdown="\n".join(
            [
                to_markdown(report),
                "",
                f"![re-imports per day](data:image/svg+xml;base64,{chart})",
                "",
                _where(settings, html_path, csv_path),
            ]
        ),
        description=f"Re-import audit, last {days} days",
    )
    print(f"audit report: {html_path}")
    return str(html_path)


def _where(settings: Settings, html_path: Path, csv_path: Path) -> str:
    """The report's line: links when the reports folder is served over http, else where
    the files are."""
    html_url, csv_url = settings.report_url(html_path), settings.report_url(csv_path)
    if html_url is None or csv_url is None:
        return f"Full report: {place(None, html_path)} (its CSV beside it: `{csv_path.name}`)"
    return f"Full report: {place(html_url, html_path)} (CSV: {place(csv_url, csv_path)})"
