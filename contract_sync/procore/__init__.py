"""Procore as the project store: its public REST API, through `ProcoreClient`."""

from .budget import RateBudget
from .client import MAX_PER_PAGE, SYNC_MAX_RECORDS, ProcoreClient, time_range
from .errors import ProcoreError, ProcoreUnavailable, ProcoreValueError, RateLimited
from .records import LineItem, PrimeChangeOrder, PrimeContract, Project, SyncError, SyncResult

__all__ = [
    "MAX_PER_PAGE",
    "SYNC_MAX_RECORDS",
    "LineItem",
    "PrimeChangeOrder",
    "PrimeContract",
    "ProcoreClient",
    "ProcoreError",
    "ProcoreUnavailable",
    "ProcoreValueError",
    "Project",
    "RateBudget",
    "RateLimited",
    "SyncError",
    "SyncResult",
    "time_range",
]
