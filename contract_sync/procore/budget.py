"""Procore's hourly request budget, as the answers' headers tell it.

Procore's developer documentation, "Rate Limiting" (github.com/procore/documentation
api_essentials/rate_limiting.md, https://developers.procore.com/documentation/rate-limiting):
3,600 requests an hour per token, or per company for a service account sending
Procore-Company-Id; every answer carries X-Rate-Limit-Limit (the budget),
X-Rate-Limit-Remaining (what is left) and X-Rate-Limit-Reset (the Unix time the window ends).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass
class RateBudget:
    """The last budget Procore reported; None until an answer told it."""

    limit: int | None = None
    remaining: int | None = None
    resets_at: float | None = None  # Unix time the current window ends

    def update(self, headers: Mapping[str, str]) -> None:
        """Keep what an answer's X-Rate-Limit-* headers say (an answer without them, such
        as the token's or a 401, changes nothing)."""
        for attribute, header, kind in (
            ("limit", "X-Rate-Limit-Limit", int),
            ("remaining", "X-Rate-Limit-Remaining", int),
            ("resets_at", "X-Rate-Limit-Reset", float),
        ):
            value = headers.get(header)
            if value is not None:
                # a header that is not a number tells nothing
                with contextlib.suppress(ValueError):
                    setattr(self, attribute, kind(value.strip()))

    def fits(self, n_requests: int, now: float | None = None) -> bool:
        """Can `n_requests` more be made without a 429? Unknown budget: yes (the first
        answer will tell). A window that has ended gives the whole limit again."""
        if self.remaining is None:
            return True
        now = time.time() if now is None else now
        if self.resets_at is not None and now >= self.resets_at:
            return self.limit is None or n_requests <= self.limit
        return n_requests <= self.remaining

    def seconds_to_reset(self, now: float | None = None) -> float | None:
        if self.resets_at is None:
            return None
        return max(0.0, self.resets_at - (time.time() if now is None else now))
