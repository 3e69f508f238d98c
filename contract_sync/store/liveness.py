"""Whether a run is still alive: each run holds a lock for its whole life that dies with
its process (PostgreSQL: a session advisory lock; SQLite: an flock on a file beside the
database). A run with no end whose lock can be taken was killed: it is `abandoned`."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

import sqlalchemy as sa

from contract_sync.store import schema as s


class Life(Enum):
    """What a run's life lock tells of its process."""

    ALIVE = "its process holds its lock"
    DEAD = "its process is gone"
    UNKNOWN = "no lock shows whether its process runs"  # a copy, a standby


def unfinished_runs(connection: sa.Connection, chained_only: bool = False) -> list[str]:
    """The runs with no end, oldest first; `chained_only`: those whose start is chained (one
    inserted outside contract-sync is left for `audit verify` to report)."""
    r, e, c = s.sync_runs.c, s.run_ends.c, s.audit_chain.c
    query = sa.select(r.id).where(r.id.not_in(sa.select(e.run_id))).order_by(r.started_at)
    if chained_only:
        query = query.where(sa.exists().where(c.record_table == "sync_runs", c.record_key == r.id))
    return list(connection.execute(query).scalars())


def _key(run_id: str) -> int:
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big", signed=True)


def _lock_file(engine: sa.Engine, run_id: str) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(f"{database}-runs") / run_id


@contextmanager
def alive(engine: sa.Engine, run_id: str) -> Iterator[None]:
    """Hold the run's life lock while the block runs."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:  # a session of its own, kept for the run's life
            holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _key(run_id)})
            holder.commit()
            try:
                yield
            finally:
                holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _key(run_id)})
                holder.commit()
        return
    path = _lock_file(engine, run_id)
    if path is None:
        yield
        return
    path.parent.mkdir(exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(descriptor)


def is_dead(engine: sa.Engine, run_id: str) -> bool:
    """The run's life lock is free: its process is gone (its lock file is removed)."""
    if life(engine, run_id) is not Life.DEAD:
        return False
    path = _lock_file(engine, run_id)
    if path is not None:
        path.unlink(missing_ok=True)
    return True


def life(engine: sa.Engine, run_id: str) -> Life:
    """Whether the run's process holds its life lock, asked without writing anything: the
    lock taken and given back at once, if it can be."""
    if engine.dialect.name == "postgresql":
        return _session_lock_life(engine, run_id)
    path = _lock_file(engine, run_id)
    try:
        descriptor = os.open(path, os.O_RDONLY) if path is not None else None
    except FileNotFoundError:
        descriptor = None  # a copy of the database, say, without the lock files
    if descriptor is None:
        return Life.UNKNOWN
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return Life.ALIVE
    finally:
        os.close(descriptor)  # closing releases a lock taken here
    return Life.DEAD


def _session_lock_life(engine: sa.Engine, run_id: str) -> Life:
    with engine.connect() as probe:
        if probe.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one():
            return Life.UNKNOWN  # a standby: the runs hold their locks on the primary
        taken = probe.execute(
            sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(run_id)}
        ).scalar_one()
        if taken:
            probe.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _key(run_id)})
        probe.commit()
    return Life.DEAD if taken else Life.ALIVE
