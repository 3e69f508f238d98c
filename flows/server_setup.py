"""The Prefect server made ready for many workers, once per deployment (scripts/serve.sh runs
it; again after companies are added): `python -m contract_sync_flows.server_setup`.

- Each company of the store's directory gets its concurrency limit of one slot.
- An automation marks Crashed a run of these flows whose heartbeats stop (its worker or
  machine died): the scheduled sync that waits for it then ends, and so does its hold on the
  scheduled-sync deployment's one slot, which would otherwise cancel every later sync. The
  store finds such a run abandoned by itself (its life lock dies with its process).

The automation waits three heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, Prefect's 180 s by
default): the workers must send theirs at least that often."""

from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import get_current_settings

from contract_sync.errors import UserError
from contract_sync.resolve import resolve_companies
from contract_sync.settings import get_settings
from contract_sync_flows.company_slot import ensure_company_limits

CRASHED_WHEN_SILENT = "contract-sync: a run whose heartbeats stop is crashed"
FLOWS = ["reimport-main-contracts", "import-main-contract", "sync-companies"]
ENDS = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")}


def crashed_when_silent(heartbeat_seconds: int) -> AutomationCore:
    """Prefect's own recipe for zombie runs (docs.prefect.io/v3/advanced/detect-zombie-flows),
    for the runs of contract-sync's flows only."""
    return AutomationCore(
        name=CRASHED_WHEN_SILENT,
        description="A run of contract-sync that sent no heartbeat for three of its "
        "intervals, and did not end, is marked Crashed: its process is gone.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *ENDS},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": FLOWS}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=3 * heartbeat_seconds),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {3 * heartbeat_seconds} s: its worker or machine "
                "stopped; the store records the run abandoned, and the next run of the "
                "company takes up its contracts",
            )
        ],
    )


def ensure_crashed_when_silent() -> str:
    """The automation, made or brought in line with this heartbeat; what was done."""
    heartbeat = get_current_settings().flows.heartbeat_frequency
    if heartbeat is None:
        return "flow heartbeats are off (PREFECT_FLOWS_HEARTBEAT_FREQUENCY): no automation"
    wanted = crashed_when_silent(heartbeat)
    with get_client(sync_client=True) as client:
        found = client.read_automations_by_name(CRASHED_WHEN_SILENT)
        if not found:
            client.create_automation(wanted)
            return f"automation made: {CRASHED_WHEN_SILENT} (after {3 * heartbeat} s)"
        [first, *others] = found
        for other in others:
            client.delete_automation(other.id)
        client.update_automation(first.id, wanted)
        return f"automation up to date: {CRASHED_WHEN_SILENT} (after {3 * heartbeat} s)"


def main() -> None:
    try:
        companies = resolve_companies(get_settings(), [])
    except UserError as error:  # each company's first run makes its limit then
        print(f"no company concurrency limit made: {error}")
    else:
        for line in ensure_company_limits(companies) or ["company concurrency limits up to date"]:
            print(line)
    print(ensure_crashed_when_silent())


if __name__ == "__main__":
    main()
