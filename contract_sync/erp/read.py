"""Reading the configured ERP: connector choice, transient faults retried with backoff."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TypeVar

import sqlalchemy as sa
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_chain,
    wait_fixed,
    wait_none,
)

from contract_sync.erp.files import read_files
from contract_sync.erp.frames import ErpReadError, ErpTransientError
from contract_sync.erp.groups import ErpGroups, in_groups
from contract_sync.erp.vista import read_vista, vista_groups
from contract_sync.erp.vista_schema import JCCM
from contract_sync.model import ErpFrames
from contract_sync.settings import ErpConnector, Settings
from contract_sync.store.db import make_engine

log = logging.getLogger("contract_sync.erp")
Read = TypeVar("Read")
RETRY_DELAYS = (1.0, 3.0, 9.0)
TRANSIENT_MARKERS = (
    "could not connect",
    "connection refused",
    "connection reset",
    "connection timed out",
    "timeout expired",
    "server closed the connection",
    "terminating connection",
    "database is locked",
    "too many connections",
    "the database system is starting up",
)


def classify(error: sa.exc.DBAPIError, where: str) -> ErpReadError:
    """A database error as transient (worth retrying) or permanent, with a clear message."""
    text = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    if error.connection_invalidated or any(m in text.lower() for m in TRANSIENT_MARKERS):
        return ErpTransientError(f"ERP at {where} not reachable: {text}")
    return ErpReadError(f"cannot read the ERP at {where}: {text}")


def with_retries(
    read: Callable[[], Read],
    delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> Read:
    """`read()`, asked again after each of `delays` while it fails with ErpTransientError
    (a warning logged per retry); the last fault is raised as it is."""
    retrying = Retrying(
        retry=retry_if_exception_type(ErpTransientError),
        stop=stop_after_attempt(len(delays) + 1),
        wait=wait_chain(*map(wait_fixed, delays), wait_none()),  # none after the last
        sleep=sleep,
        before_sleep=_warn,
        reraise=True,
    )
    return retrying(read)


def _warn(attempt: RetryCallState) -> None:
    error = attempt.outcome.exception()  # called after a fault only
    log.warning(
        "attempt %d: %s; retrying in %.0f s", attempt.attempt_number, error, attempt.upcoming_sleep
    )


def read_erp(
    settings: Settings,
    company: int,
    contract_nos: Sequence[str] | None = None,
    job_nos: Sequence[str] | None = None,
) -> ErpFrames:
    if settings.erp_connector is ErpConnector.files:
        return read_files(settings.erp_files_path, company, contract_nos, job_nos)
    engine = make_engine(settings.erp_database_url, must_exist=True)
    where = engine.url.render_as_string(hide_password=True)

    def read() -> ErpFrames:
        try:
            return read_vista(engine, company, contract_nos, job_nos)
        except sa.exc.DBAPIError as error:
            raise classify(error, where) from error

    try:
        return with_retries(read)
    finally:
        engine.dispose()


@contextmanager
def read_erp_groups(
    settings: Settings,
    company: int,
    contract_nos: Sequence[str] | None = None,
    group_items: int | None = None,
) -> Iterator[ErpGroups]:
    """read_erp, a group of contracts at a time: about `group_items` items, 20,000 at most
    (groups.read_piece_items). Opening the read is retried as read_erp is; a fault after
    the first group fails the read."""
    if settings.erp_connector is ErpConnector.files:  # files are read whole, then cut
        yield in_groups(read_files(settings.erp_files_path, company, contract_nos), group_items)
        return
    engine = make_engine(settings.erp_database_url, must_exist=True)
    where = engine.url.render_as_string(hide_password=True)
    try:
        with ExitStack() as stack:

            def open_read() -> ErpGroups:
                try:
                    groups = vista_groups(engine, company, contract_nos, group_items)
                    return stack.enter_context(groups)
                except sa.exc.DBAPIError as error:
                    raise classify(error, where) from error

            found = with_retries(open_read)
            yield ErpGroups(found.contracts, _classified(found.groups, where))
    finally:
        engine.dispose()


@contextmanager
def erp_groups_opened_ahead(
    settings: Settings,
    company: int,
    contract_nos: Sequence[str] | None = None,
    group_items: int | None = None,
) -> Iterator[AbstractContextManager[ErpGroups]]:
    """read_erp_groups opened in a thread while the caller goes on: a run loads the store's
    state meanwhile, and the ERP's first rows (on SQLite, its reader process's start) are on
    their way when it is done. Yields the read to enter: entering waits for the opening and
    raises its error; leaving closes the read, as does the block's end if it was not entered."""
    with ExitStack() as stack, ThreadPoolExecutor(1, thread_name_prefix="erp-open") as pool:
        read = read_erp_groups(settings, company, contract_nos, group_items)
        # In the caller's context: a flow run's logger still hears the retries' warnings.
        opening = pool.submit(contextvars.copy_context().run, stack.enter_context, read)

        @contextmanager
        def opened() -> Iterator[ErpGroups]:
            try:
                yield opening.result()
            finally:
                stack.close()

        yield opened()  # the pool waits for the opening before the stack closes the read


def _classified(groups: Iterator[ErpFrames], where: str) -> Iterator[ErpFrames]:
    while True:
        try:
            frames = next(groups, None)
        except sa.exc.DBAPIError as error:
            raise classify(error, where) from error
        if frames is None:
            return
        yield frames


def read_contract_numbers(settings: Settings, company: int) -> list[str]:
    """Every contract number of the company, in normal form (to suggest the nearest ones)."""
    if settings.erp_connector is ErpConnector.files:
        return read_files(settings.erp_files_path, company).contracts["contract_no"].tolist()
    engine = make_engine(settings.erp_database_url, must_exist=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(sa.func.trim(JCCM.c.Contract)).where(JCCM.c.JCCo == company)
            ).scalars()
            return sorted(rows)
    except sa.exc.DBAPIError as error:
        raise classify(error, engine.url.render_as_string(hide_password=True)) from error
    finally:
        engine.dispose()
