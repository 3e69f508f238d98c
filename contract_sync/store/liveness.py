"""Whether a run is still alive: each run holds a lock for its whole life that dies with
its process (PostgreSQL: a session advisory lock; SQLite: an flock on a file beside the
database). A run with no end whose lock can be taken was killed: it is `abandoned`."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


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
    """The run's life lock is free: its process is gone."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as probe:
            taken = probe.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(run_id)}
            ).scalar_one()
            if taken:
                probe.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _key(run_id)})
            probe.commit()
        return bool(taken)
    path = _lock_file(engine, run_id)
    if path is None:
        return False
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False  # no proof: a copy of the database, say, without the lock files
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # closing releases a lock taken here
    path.unlink(missing_ok=True)
    return True
