"""What a sync of several companies says of its runs, one per company: a short row each for
its table, a paragraph each with what the run said, and one sentence for its end. `runs`:
company, name, flow_run_name, state_name, message."""

from __future__ import annotations

import pandas as pd

COMPLETED = "Completed"


def company_run_rows(runs: pd.DataFrame) -> list[dict[str, str]]:
    """A row per company, in company order: its number, the run that synced it, how it
    ended. Short cells: the UI's tables do not wrap them (what the run said is in
    `company_runs_markdown`)."""
    ordered = runs.sort_values("company")
    return (
        pd.DataFrame(
            {
                "company": ordered["company"],
                "run": ordered["flow_run_name"],
                "ended": ordered["state_name"],
            }
        )
        .astype(str)
        .to_dict("records")
    )


def company_runs_markdown(runs: pd.DataFrame) -> str:
    """A paragraph per company, in company order: its number and name, its run, how it
    ended and what it said, whole."""
    ordered = runs.sort_values("company")
    return "\n\n".join(
        f"**{row.company} {row.name}**: run {row.flow_run_name} ended {row.state_name}."
        + (f" {row.message}" if row.message else "")
        for row in ordered.itertuples()
    )


def all_completed(runs: pd.DataFrame) -> bool:
    return bool((runs["state_name"] == COMPLETED).all())


def companies_sentence(runs: pd.DataFrame) -> str:
    """ "Sync of 3 companies: 1 completed; 2 crashed (companies 2, 3)": how many ended
    each way, the companies named where a run did not complete."""
    ordered = runs.sort_values("company")
    ended = ordered.groupby("state_name", sort=False)["company"].agg(list)
    parts = [
        f"{len(companies)} {state.lower()}"
        + ("" if state == COMPLETED else f" ({_named(companies)})")
        for state, companies in ended.items()
    ]
    noun = "company" if len(ordered) == 1 else "companies"
    return f"Sync of {len(ordered)} {noun}: " + "; ".join(parts)


def _named(companies: list[int]) -> str:
    noun = "company" if len(companies) == 1 else "companies"
    return f"{noun} {', '.join(map(str, companies))}"
