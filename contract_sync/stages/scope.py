"""Scope: which ERP contracts a run looks at."""

from __future__ import annotations

from contract_sync.errors import UserError
from contract_sync.model import ErpFrames, StoreState


class UnknownProject(UserError, LookupError):
    """A project number the store does not hold."""


def in_project(erp: ErpFrames, state: StoreState, project: str) -> ErpFrames:
    """The ERP contracts of one store project: imported there, or whose job is synced to it."""
    ids = state.projects.loc[state.projects["project"] == project, "project_id"]
    if ids.empty:
        raise UnknownProject(f"project {project} does not exist in the project store")
    stored = state.contracts.loc[state.contracts["project_id"].isin(ids), "contract_no"]
    jobs = state.synced_jobs.loc[state.synced_jobs["project_id"].isin(ids), "job_no"]
    return erp.only(erp.contracts["contract_no"].isin(stored) | erp.contracts["job_no"].isin(jobs))
