"""Tables a person reads in the terminal (rich), built from the core's frames."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from contract_sync.stages.ready import readable

READY_HEADINGS = [
    "contract",
    "title",
    "project",
    "imported",
    "import",
    "re-import",
    "reasons",
    "items +/~/-",
    "header",
    "amount before",
    "amount after",
    "delta",
]


def ready_view(table: pd.DataFrame, actor: str) -> Table:
    """The ready list: one row per ERP contract, whatever it lacks (project, title, amounts)."""
    view = Table(title=f"ERP main contracts ready to be imported (as {actor})")
    for heading in READY_HEADINGS:
        view.add_column(heading, justify="right" if heading[:5] in ("amoun", "delta") else "left")
    shown = readable(table)
    text = shown[["contract_no", "title", "project", "reasons"]].astype("string").fillna("")
    for row, words in zip(shown.itertuples(), text.itertuples(), strict=True):
        view.add_row(
            words.contract_no,
            words.title,
            words.project,
            "yes" if row.imported else "no",
            _available(row.import_available),
            _available(row.reimport_available),
            words.reasons,
            f"+{row.items_added} ~{row.items_changed} -{row.items_removed}",
            str(row.header_changes),
            row.amount_before,
            row.amount_after,
            row.amount_delta,
        )
    return view


def _available(available: bool) -> str:
    return "[green]available[/]" if available else "[yellow]no[/]"
