"""The daily-digest flow: the people who can act are told what is new, once."""

from __future__ import annotations

from prefect import flow

from contract_sync.notify import daily_digest
from contract_sync.settings import get_settings


@flow(name="daily-digest", log_prints=True)
def daily_digest_flow() -> int:
    """Returns how many notices were told; a message that did not go fails the run (its
    notices are told again the next time)."""
    found = daily_digest(get_settings())
    print(f"told {len(found.told)} notices in {len(found.messages)} emails")
    if found.failed:
        raise RuntimeError(f"not sent to {', '.join(found.failed)}")
    return len(found.told)
