"""The daily digest: who must be told what, once, in words. Pure functions over frames:
the store (contract_sync.store.notices) reads what they need and records what was told.

Told: a contract blocked for a reason a person can fix (its company's ERP Integrations
admins and its project's Main Contracts admins, from the directory), a conflict under
policy block (the same people), a run that failed or was abandoned (the operators). Each
state once: a contract is recorded when its state changes, so its last audit row is the
start of the state it is in, and that row's id is what is remembered as told.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import pandas as pd

from contract_sync.vocabulary import REASON_WORDS, Outcome, Reason, RunStatus, telling_codes

# Reasons a person can fix (the others pass by themselves or need nothing: a locked or
# stale contract is written by the next run, a pending one once it opens in the ERP).
FIXABLE = {
    Reason.unknown_user,
    Reason.permission_denied,
    Reason.integration_not_configured,
    Reason.contract_unapproved,
    Reason.job_not_synced,
    Reason.contract_in_multiple_projects,
    Reason.invalid_erp_data,
    Reason.erp_contract_closed,
    Reason.approved_change_orders,
    Reason.conflict,
}
RUN_ENDS = (RunStatus.failed, RunStatus.abandoned)


@dataclass(frozen=True)
class Message:
    to: str  # an email address
    subject: str
    body: str
    keys: tuple[str, ...]  # the notices it tells


def contract_notices(states: pd.DataFrame, told: set[str], web_url: str) -> pd.DataFrame:
    """Per contract whose last recorded state is blocked for a reason a person can fix, and
    not told yet: key, erp_company, project_id, line (in words, with its link).

    `states`: each contract's last audit row (audit_id, erp_company, contract_no, project_id,
    outcome, reasons, recorded_at)."""
    blocked = states[states["outcome"].eq(Outcome.blocked).to_numpy(dtype=bool)]
    blocked = blocked.sort_values(["erp_company", "contract_no"], kind="stable")  # as listed
    codes = [[c for c in telling_codes(r) if c in FIXABLE] for r in blocked["reasons"]]
    keys = "contract:" + blocked["audit_id"].astype("string")
    new = np.array([bool(c) for c in codes], dtype=bool) & ~keys.isin(told).to_numpy(dtype=bool)
    chosen = blocked[new]
    fixable = [c for c, chosen_too in zip(codes, new, strict=True) if chosen_too]
    lines = [
        _contract_line(row, reasons, web_url)
        for row, reasons in zip(chosen.itertuples(index=False), fixable, strict=True)
    ]
    return pd.DataFrame(
        {
            "key": keys[new].to_numpy(),
            "erp_company": chosen["erp_company"].to_numpy(),
            "project_id": chosen["project_id"].astype("Int64").to_numpy(),
            "line": pd.array(lines, dtype="string"),
        }
    )


def _contract_line(row, reasons: list[str], web_url: str) -> str:  # noqa: ANN001 - a row
    said = "; ".join(f"{REASON_WORDS[c][0]}: {REASON_WORDS[c][1]}" for c in reasons)
    since = f"{row.recorded_at:%Y-%m-%d}"
    link = f"{web_url}/companies/{row.erp_company}/contract?no={quote(str(row.contract_no))}"
    return f"Contract {row.contract_no} is blocked since {since}: {said}.\n  {link}"


def run_notices(ended: pd.DataFrame, told: set[str], web_url: str) -> pd.DataFrame:
    """Per run that failed or was abandoned, not told yet: key, erp_company, line.
    `ended`: run_id, erp_company, status, at, actor, trigger."""
    keys = "run:" + ended["run_id"].astype("string")
    chosen = ended[ended["status"].isin(RUN_ENDS) & ~keys.isin(told)]
    lines = [
        f"The {r.trigger} run of {r.at:%Y-%m-%d %H:%M} UTC (as {r.actor}) {r.status}: nothing "
        f"of a contract it had not finished was written; the next run takes them up.\n"
        f"  {web_url}/companies/{r.erp_company}/runs/{r.run_id}"
        for r in chosen.itertuples(index=False)
    ]
    return pd.DataFrame(
        {
            "key": ("run:" + chosen["run_id"].astype("string")).to_numpy(),
            "erp_company": chosen["erp_company"].to_numpy(),
            "line": pd.array(lines, dtype="string"),
        }
    )


def recipients(notices: pd.DataFrame, admins: pd.DataFrame) -> pd.DataFrame:
    """key, email: each contract notice to its company's ERP Integrations admins and its
    project's Main Contracts admins. `admins`: erp_company, email, tool, project_id (NA: the
    company's tool, or every project)."""
    company = admins[admins["tool"].eq("erp_integrations")]
    projects = admins[admins["tool"].eq("main_contracts")]
    by_company = notices.merge(company[["erp_company", "email"]], on="erp_company")
    by_project = notices.merge(projects[["erp_company", "email", "project_id"]], on="erp_company")
    by_project = by_project[
        by_project["project_id_y"].isna()
        | by_project["project_id_y"].eq(by_project["project_id_x"])
    ]
    both = pd.concat([by_company[["key", "email"]], by_project[["key", "email"]]])
    return both.drop_duplicates().reset_index(drop=True)


def messages(
    notices: pd.DataFrame, addressed: pd.DataFrame, companies: dict[int, str]
) -> list[Message]:
    """One message per person: the notices addressed to them, by company."""
    lines = notices.set_index("key")
    found = []
    for email, keys in addressed.groupby("email", sort=True)["key"]:
        told = lines.loc[keys.tolist()]
        parts = []
        for company, rows in told.groupby("erp_company", sort=True):
            name = companies.get(int(company), f"company {company}")
            parts.append(f"{name} (ERP company {company})\n\n" + "\n\n".join(rows["line"]))
        count = len(told)
        subject = f"contract-sync: {count} thing{'s' * (count != 1)} to act on"
        found.append(Message(str(email), subject, _body(parts), tuple(keys)))
    return found


def _body(parts: list[str]) -> str:
    said = "These need someone to act; each is said once, when it is first found."
    return "\n\n".join([said, *parts, "-- contract-sync, daily digest\n"])
