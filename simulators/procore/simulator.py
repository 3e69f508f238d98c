"""The Python handle a test holds: the state, the faults, the request log, the rate limiter,
and the FastAPI app over them (app.create_app; `serve` in server.py runs it)."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from .faults import FaultRule, Faults, RequestLog
from .state import (
    Clock,
    LineItem,
    PrimeChangeOrder,
    PrimeContract,
    ProcoreState,
    SimConfig,
)

RATE_LIMIT_BODY = (
    "You have surpassed the max number of requests for an hour. "
    "Please wait until your limit resets."
)


class RateLimiter:
    """Procore's hourly budget (api_essentials/rate_limiting.md): a fixed window that starts
    with a key's first request and lasts `rate_window` seconds; every answer carries
    X-Rate-Limit-Limit, X-Rate-Limit-Remaining and X-Rate-Limit-Reset (the Unix time the next
    window begins); past the budget a 429 with the documented body and, as
    api_essentials/error_reference.md says of a 429, Retry-After (seconds to the reset).

    The key: per (client, company) when Procore-Company-Id is sent ("each company DMSA has its
    own rate limit of 3600 requests per hour"), else per token. The simulator requires the
    header on every /rest call, so in practice the key is the client and company: a new token
    does not bring a new budget (the reference is silent on that; this is the cautious
    reading)."""

    def __init__(self, clock: Clock, config: SimConfig) -> None:
        self.clock = clock
        self.config = config
        self.lock = threading.Lock()
        self.windows: dict[Any, list[float]] = {}  # key -> [window start, requests used]

    def _window(self, key: Any) -> list[float]:
        now = self.clock.now()
        window = self.windows.get(key)
        if window is None or now >= window[0] + self.config.rate_window:
            window = self.windows[key] = [now, 0]
        return window

    def _headers(self, window: list[float]) -> dict[str, str]:
        limit = self.config.rate_limit
        return {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, limit - int(window[1]))),
            "X-Rate-Limit-Reset": str(math.ceil(window[0] + self.config.rate_window)),
        }

    def retry_after(self, key: Any) -> int:
        with self.lock:
            window = self._window(key)
            return max(1, math.ceil(window[0] + self.config.rate_window - self.clock.now()))

    def consume(self, key: Any) -> tuple[bool, dict[str, str]]:
        with self.lock:
            window = self._window(key)
            if window[1] >= self.config.rate_limit:
                return False, self._headers(window)
            window[1] += 1
            return True, self._headers(window)

    def peek(self, key: Any) -> dict[str, str]:
        with self.lock:
            return self._headers(self._window(key))

    def clear(self) -> None:
        with self.lock:
            self.windows.clear()


class ProcoreSimulator:
    """A Procore simulator: seed it, set faults, serve `app()` (see server.serve), read back
    what was asked of it.

    For example::

        sim = ProcoreSimulator(rate_limit=100)
        sim.fail(503, path="/line_items/sync$", retry_after=2)  # the next sync answers 503
        sim.edit_line_item(700001, after_call=3, description="Changed in Procore")
        sim.request_counts()["PATCH /rest/v1.0/prime_contracts/{prime_contract_id}/line_items/sync"]
    """

    def __init__(
        self,
        fixture: dict | str | Path | None = None,
        *,
        rate_limit: int | None = None,
        rate_window: float | None = None,
        token_ttl: float | None = None,
        numbers_as_strings: bool = False,
    ) -> None:
        self.clock = Clock()
        self.config = SimConfig(numbers_as_strings=numbers_as_strings)
        for name, value in (
            ("rate_limit", rate_limit),
            ("rate_window", rate_window),
            ("token_ttl", token_ttl),
        ):
            if value is not None:
                setattr(self.config, name, value)
        self._created = dict(vars(self.config))  # what reset() gives back
        self.state = ProcoreState(self.clock, self.config)
        self.faults = Faults()
        self.log = RequestLog()
        self.rate = RateLimiter(self.clock, self.config)
        self._fixture = fixture
        self.reset()

    def reset(self, fixture: dict | str | Path | None = None) -> None:
        """Back to the fixture (this one, else the one given at creation) and to the limits
        given at creation: no contracts, no faults, no tokens, no requests counted, fresh
        rate-limit windows."""
        if fixture is not None:
            self._fixture = fixture
        vars(self.config).update(self._created)  # in place: the state and limiter share it
        self.state.seed(self._fixture)
        self.faults.clear()
        self.log.clear()
        self.rate.clear()
        self.clock.offset = 0.0

    # -- faults ---------------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        at_call: int | None = None,
        path: str | None = None,
        method: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
        retry_after: int | None = 1,
    ) -> FaultRule:
        """Answer `status` (429, 500, 502 or 503) on the matching request(s): see FaultRule."""
        return self.faults.add(
            FaultRule(
                "status",
                status=status,
                at_call=at_call,
                path=path,
                method=method,
                nth=nth,
                times=times,
                retry_after=retry_after,
            )
        )

    def delay(
        self,
        seconds: float,
        *,
        at_call: int | None = None,
        path: str | None = None,
        method: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """Answer the matching request(s) `seconds` late: a client's timeout."""
        return self.faults.add(
            FaultRule(
                "delay",
                delay=seconds,
                at_call=at_call,
                path=path,
                method=method,
                nth=nth,
                times=times,
            )
        )

    def sync_error(
        self,
        origin_id: str,
        message: str = "could not be saved",
        *,
        field: str = "base",
        times: int | None = None,
    ) -> None:
        """The line-items sync refuses the record with this origin_id: it lands in `errors`
        with {field: [message]} (every time, or `times` times)."""
        self.faults.sync_error(origin_id, field, message, times)

    def expire_tokens(self) -> int:
        """Every token issued so far expires now (the next call with one answers 401)."""
        return self.state.expire_tokens()

    def edit_line_item(
        self, line_item_id: int, *, after_call: int | None = None, **changes: Any
    ) -> LineItem | None:
        """A person edits a line item in Procore: now, or just after call number `after_call`
        (before the next call is answered). The fields change and so does updated_at."""
        if after_call is None:
            return self.state.edit_line_item(line_item_id, changes)
        from .faults import ScheduledEdit

        with self.faults.lock:
            self.faults.edits.append(ScheduledEdit(line_item_id, changes, after_call))
        return None

    def attach_contract(
        self, contract_id: int, project_id: int, *, duplicate: bool = False
    ) -> PrimeContract:
        """The prime contract shows in a second project too (see ProcoreState.attach_contract)."""
        return self.state.attach_contract(contract_id, project_id, duplicate=duplicate)

    def add_change_order(self, contract_id: int, **fields: Any) -> PrimeChangeOrder:
        """A prime change order on the contract (status approved unless given)."""
        return self.state.add_change_order(contract_id, **fields)

    def advance_clock(self, seconds: float) -> None:
        """Time passes: tokens expire, rate-limit windows end, edits get later timestamps."""
        self.clock.advance(seconds)

    # -- reading back ---------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        return self.log.calls

    def request_counts(self) -> dict[str, int]:
        """Requests per endpoint template, e.g. "GET /rest/v1.0/prime_contracts"."""
        return self.log.counts()
