"""One run at a time per company, across every worker: each run that acts on a company holds
the one slot of the company's global concurrency limit on the Prefect server.

The limit is made (or set back to one active slot) before it is taken, and taken strictly:
a limit that is missing would otherwise be ignored and let two runs act on one company. The
hold is a lease the run's process renews; killed, its hold lapses after
`company_lease_seconds`, and the company's next run may start."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from contract_sync.errors import UserError
from contract_sync.settings import Settings

FIRST_TRY_SECONDS = 2  # a company taken for longer than this is said to be waited for


class CompanyBusy(UserError):
    """Another run held the company for as long as this run may wait."""


def limit_name(company: int) -> str:
    """The company's global concurrency limit on the Prefect server."""
    return f"contract-sync-company-{company}"


def ensure_company_limits(companies: Iterable[int]) -> list[str]:
    """Each company's limit exists with one active slot; what was made or mended, in words."""
    done = []
    with get_client(sync_client=True) as client:
        for company in companies:
            name = limit_name(company)
            try:
                found = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=1)
                    )
                    done.append(f"concurrency limit {name} made (1 slot)")
                except ObjectAlreadyExists:  # another run made it meanwhile
                    pass
                continue
            if found.limit != 1 or not found.active:
                client.update_global_concurrency_limit(
                    name, GlobalConcurrencyLimitUpdate(limit=1, active=True)
                )
                was = f"{found.limit} slots" + ("" if found.active else ", inactive")
                done.append(f"concurrency limit {name} set back to 1 active slot (was {was})")
    return done


@contextmanager
def company_slot(settings: Settings, company: int) -> Iterator[None]:
    """Hold the company's slot while the block runs; CompanyBusy when another run holds it
    for longer than `company_wait_seconds`."""
    logger = get_run_logger()
    for line in ensure_company_limits([company]):
        logger.warning(line)
    name = limit_name(company)

    def taken(seconds: float) -> AbstractContextManager[None]:
        return concurrency(
            name,
            occupy=1,
            timeout_seconds=seconds,
            lease_duration=settings.company_lease_seconds,
            strict=True,
        )

    wait = settings.company_wait_seconds
    with ExitStack() as held:
        try:
            held.enter_context(taken(min(FIRST_TRY_SECONDS, wait)))
        except TimeoutError:
            logger.info(
                "another run acts on company %s: this run waits for it (%s s at most)",
                company,
                wait,
            )
            try:
                if wait <= FIRST_TRY_SECONDS:
                    raise TimeoutError from None
                held.enter_context(taken(wait - FIRST_TRY_SECONDS))
            except TimeoutError:
                raise CompanyBusy(
                    f"company {company}: another run acted on it for all of the {wait} s this "
                    f"run may wait (concurrency limit {name}); not started, nothing written"
                ) from None
        yield
