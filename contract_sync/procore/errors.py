"""The failures of a Procore call: each names the call (method and path), the HTTP status
and Procore's own message from the answer's body."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from contract_sync.errors import UserError


class ProcoreError(UserError):
    """A Procore call that failed: `method`, `path`, `status` (None: no answer at all, a
    transport error or a timeout) and `message` (Procore's words from the body, else the
    transport's)."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method, self.path, self.status, self.message = method, path, status, message
        answer = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Procore {method} {path}: {answer}: {message}")


class RateLimited(ProcoreError):
    """Procore's hourly budget is spent and resets later than the client may wait
    (developers.procore.com/documentation/rate-limiting: "sleep until the reset, or stop and
    resume later"): a caller defers its work until `resets_at` (Unix time)."""

    def __init__(self, method: str, path: str, message: str, resets_at: float) -> None:
        self.resets_at = resets_at
        when = datetime.fromtimestamp(resets_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(method, path, 429, f"{message} (the limit resets at {when})")


class ProcoreUnavailable(ProcoreError):
    """No answer (a transport error, a timeout) or a 503 (Procore under load, with
    Retry-After: api_essentials/error_reference.md asks for a back-off). Whether a write was
    applied is unknown: only a call that is safe to repeat is retried on it."""

    def __init__(
        self, method: str, path: str, status: int | None, message: str, retry_after: float | None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(method, path, status, message)


class ProcoreValueError(ValueError):
    """A value Procore answered that the product's exact scale cannot hold (too many
    decimals, too large, not a number): named by its record and field, never rounded."""


def message_of(body: bytes) -> str:
    """Procore's message from an error body: {"errors": ...} (api_essentials/
    error_reference.md), OAuth's {"error", "error_description"} (RFC 6749 section 5.2), or
    the text as it came (a 429's plain-text body)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "(empty body)"
    if isinstance(data, dict):
        if "errors" in data:
            errors = data["errors"]
            return errors if isinstance(errors, str) else json.dumps(errors, sort_keys=True)
        if "error" in data:
            return " ".join(str(data[k]) for k in ("error", "error_description") if data.get(k))
        if "message" in data:
            return str(data["message"])
    return text[:500]
