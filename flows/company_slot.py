"""One Prefect run at a time per company, across every worker: each flow run that writes a
company holds the one slot of the company's global concurrency limit on the Prefect server.

The limit is made (or set back to one active slot) before it is taken, and taken strictly:
a limit that is missing would otherwise be ignored. The hold is a lease the run's process
renews; killed, its hold lapses within `company_lease_seconds` (and the server's next sweep
of expired leases), and the company's next run may start then."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError  # raised, not exported
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from contract_sync.errors import UserError
from contract_sync.settings import Settings


class NoCompanySlot(UserError):
    """The run did not get its company's slot: nothing started, nothing written."""


def limit_name(company: int) -> str:
    """The company's global concurrency limit on the Prefect server."""
    return f"contract-sync-company-{company}"


def ensure_company_limits(companies: Iterable[int]) -> list[str]:
    """Each company's limit exists with one active slot; what was made or mended, in words."""
    with get_client(sync_client=True) as client:
        said = [_ensured(client, limit_name(company))[0] for company in companies]
    return [line for line in said if line]


def _ensured(client: SyncPrefectClient, name: str) -> tuple[str | None, int]:
    """The limit `name` made or mended (what was done, in words, or None), and how many of
    its slots other runs hold now."""
    try:
        found = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
        except ObjectAlreadyExists:  # another run made it meanwhile
            return None, 0
        return f"concurrency limit {name} made (1 slot)", 0
    if found.limit == 1 and found.active:
        return None, found.active_slots
    client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=1, active=True))
    was = f"{found.limit} slots" + ("" if found.active else ", inactive")
    return f"concurrency limit {name} set back to 1 active slot (was {was})", found.active_slots


@contextmanager
def company_slot(settings: Settings, company: int) -> Iterator[None]:
    """Hold the company's slot while the block runs; NoCompanySlot when another run holds
    it for longer than `company_wait_seconds`.

    A renewal of the hold that fails (the Prefect server out of reach for a few seconds)
    does not stop the run: the store's own locks keep each contract to one writer, so a
    lapsed hold can at worst let a second run of the company write beside it, while
    stopping would fail every write in flight."""
    logger = get_run_logger()
    name, wait = limit_name(company), settings.company_wait_seconds
    with get_client(sync_client=True) as client:
        mended, busy = _ensured(client, name)
    if mended:
        logger.warning(mended)
    if busy:
        logger.info("another run acts on company %s: this run waits (%s s at most)", company, wait)
    held = concurrency(
        name,
        occupy=1,
        timeout_seconds=wait,
        lease_duration=settings.company_lease_seconds,
        strict=True,
        raise_on_lease_renewal_failure=False,
    )
    with ExitStack() as stack:
        try:
            stack.enter_context(held)
        except TimeoutError:
            raise NoCompanySlot(
                f"company {company}: another run acted on it for all of the {wait} s this run "
                f"may wait (concurrency limit {name}); not started, nothing written"
            ) from None
        except ConcurrencySlotAcquisitionError as error:
            raise NoCompanySlot(
                f"company {company}: its concurrency limit {name} could not be taken "
                f"({error}); not started, nothing written: start the run again"
            ) from None
        yield
