"""What a sync of several companies says of its runs, one per company: a row each for its
table, and one sentence for its end."""

from __future__ import annotations

import pandas as pd

COMPLETED = "Completed"


def company_run_rows(runs: pd.DataFrame) -> list[dict[str, str]]:
    """A row per company, in company order: the company (number and name), the run that
    synced it, how it ended, what it said. `runs`: company, name, flow_run_name,
    state_name, message."""
    ordered = runs.sort_values("company")
    return (
        pd.DataFrame(
            {
                "company": ordered["company"].astype(str) + " " + ordered["name"],
                "run": ordered["flow_run_name"],
                "ended": ordered["state_name"],
                "said": ordered["message"].fillna(""),
            }
        )
        .astype(str)
        .to_dict("records")
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
