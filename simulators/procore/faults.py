"""Injectable faults and the request log: what a test sets up and reads back.

None of this is Procore's: it is the simulator's own equipment, set from Python (the
`ProcoreSimulator` handle) or over HTTP (the `/_sim/...` control API).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

FAULT_STATUSES = (429, 500, 502, 503)


@dataclass
class FaultRule:
    """One fault. It fires on a request that matches all it names:

    - `at_call`: the simulator's global call number (1 = the first Procore request since the
      last reset; control calls are not counted);
    - `path` (a regular expression searched in the URL path) and `method`;
    - `nth`: the nth request that matches `path` / `method` (1-based);

    and fires `times` times (None: every time). `kind` is "status" (answer `status` at once,
    with Retry-After `retry_after` seconds) or "delay" (answer normally after `delay`
    seconds: a client's timeout)."""

    kind: str
    status: int | None = None
    at_call: int | None = None
    path: str | None = None
    method: str | None = None
    nth: int | None = None
    times: int | None = 1
    retry_after: int | None = 1
    delay: float = 0.0
    id: int = 0
    seen: int = 0
    fired: int = 0

    def matches(self, call: int, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path and not re.search(self.path, path):
            return False
        self.seen += 1
        if self.nth is not None and self.seen != self.nth:
            return False
        return self.at_call is None or self.at_call == call

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ScheduledEdit:
    line_item_id: int
    changes: dict[str, Any]
    after_call: int


@dataclass
class RequestRecord:
    call: int
    method: str
    path: str
    endpoint: str
    status: int | None = None


@dataclass
class Faults:
    rules: list[FaultRule] = field(default_factory=list)
    sync_errors: dict[str, tuple[str, str, int | None]] = field(default_factory=dict)
    edits: list[ScheduledEdit] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _next_id: int = 0

    def add(self, rule: FaultRule) -> FaultRule:
        if rule.kind == "status" and rule.status not in FAULT_STATUSES:
            raise ValueError(f"status must be one of {FAULT_STATUSES}")
        if rule.kind not in ("status", "delay"):
            raise ValueError("kind must be 'status' or 'delay'")
        with self.lock:
            self._next_id += 1
            rule.id = self._next_id
            self.rules.append(rule)
        return rule

    def match(self, call: int, method: str, path: str) -> list[FaultRule]:
        """The rules that fire on this request (each counted as fired)."""
        with self.lock:
            hits = [r for r in self.rules if r.matches(call, method, path)]
            for rule in hits:
                rule.fired += 1
            return hits

    def sync_error(self, origin_id: str, field_name: str, message: str, times: int | None):
        with self.lock:
            self.sync_errors[str(origin_id)] = (field_name, message, times)

    def take_sync_errors(self, origin_ids: list[str]) -> dict[str, tuple[str, str]]:
        """The injected per-record errors for these origin_ids (each use counted)."""
        taken = {}
        with self.lock:
            for origin_id in origin_ids:
                if origin_id not in self.sync_errors or origin_id in taken:
                    continue
                name, message, times = self.sync_errors[origin_id]
                taken[origin_id] = (name, message)
                if times is not None:
                    if times <= 1:
                        del self.sync_errors[origin_id]
                    else:
                        self.sync_errors[origin_id] = (name, message, times - 1)
        return taken

    def due_edits(self, call: int) -> list[ScheduledEdit]:
        """The edits scheduled after an earlier call: made before this one is answered."""
        with self.lock:
            due = [e for e in self.edits if e.after_call < call]
            self.edits = [e for e in self.edits if e.after_call >= call]
            return due

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.sync_errors.clear()
            self.edits.clear()


@dataclass
class RequestLog:
    records: list[RequestRecord] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def start(self, method: str, path: str, endpoint: str) -> RequestRecord:
        with self.lock:
            record = RequestRecord(len(self.records) + 1, method, path, endpoint)
            self.records.append(record)
            return record

    @property
    def calls(self) -> int:
        return len(self.records)

    def counts(self) -> dict[str, int]:
        """Requests per endpoint ("GET /rest/v1.0/prime_contracts"), whatever the answer."""
        with self.lock:
            return dict(Counter(r.endpoint for r in self.records))

    def counts_by_status(self) -> dict[str, dict[int, int]]:
        with self.lock:
            out: dict[str, Counter] = {}
            for r in self.records:
                out.setdefault(r.endpoint, Counter())[r.status or 0] += 1
            return {k: dict(v) for k, v in out.items()}

    def clear(self) -> None:
        with self.lock:
            self.records.clear()
