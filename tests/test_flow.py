"""The re-import flow end to end on real databases, under a real (temporary) Prefect server."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from contract_sync.columns import display
from contract_sync.demo.edit import edit_erp
from contract_sync.demo.export import write_files
from contract_sync.demo.generator import edge_case_contracts
from contract_sync.erp.vista import read_vista
from contract_sync.model import COUNT_COLUMNS
from contract_sync.settings import get_settings
from contract_sync.stages.compare import compare
from contract_sync.store import schema as s
from contract_sync.store.audit_log import runs
from contract_sync.store.state import load_state, with_items
from contract_sync_flows.reimport import reimport_main_contracts
from tests.stores import erp_items

pytestmark = pytest.mark.usefixtures("prefect_harness")
PROJECT = Path(__file__).resolve().parent.parent


def _by_contract(audit: pd.DataFrame) -> pd.DataFrame:
    return audit.set_index("contract_no")


def test_sync_reimports_eligible_contracts_and_blocks_each_edge_case(store):
    configured = store.sides
    edited = edit_erp(configured.erp, 1, 0.6, seed=2)
    audit = _by_contract(reimport_main_contracts(company=1))

    edge = edge_case_contracts(audit.index)
    reasons = audit["reasons"].str.split()
    for case in (
        "contract_unapproved",
        "job_not_synced",
        "contract_in_multiple_projects",
        "permission_denied",
        "not_imported",
    ):
        assert case in reasons[edge[case]], (case, audit.loc[edge[case], "reasons"])
    for case in ("invalid_unit_amount", "invalid_header_total"):
        assert reasons[edge[case]] == ["invalid_erp_data"]
        row = audit.loc[edge[case]]
        assert row["version_after"] == row["version_before"]  # quarantined: never applied
        assert row["failed_expectations"][0]["expectation"].startswith("expect_")
    assert audit.loc[edge["invalid_unit_amount"], "failed_expectations"][0]["item_no"]
    reimported = audit.index[audit["outcome"] == "reimported"]
    assert set(reimported) == set(edited.contracts)
    assert (
        audit.loc[reimported, "version_after"] == audit.loc[reimported, "version_before"] + 1
    ).all()
    untouched = audit.index.difference(reimported).difference(list(edge.values()))
    assert (audit.loc[untouched, "reasons"] == "no_updates").all()

    # The store now holds what the ERP holds, except the edits made in the store.
    erp = read_vista(configured.erp, 1)
    state = load_state(configured.store, 1, "sync-service")
    state = with_items(configured.store, state, state.contracts["contract_id"])
    after = compare(state, erp.contracts, erp.items)
    assert not after.contracts.set_index("contract_no").loc[reimported, "has_updates"].any()

    with configured.store.connect() as connection:
        run = connection.execute(runs()).one()
        audit_rows = connection.execute(
            sa.select(sa.func.count()).select_from(s.audit_contracts)
        ).scalar()
        stored_failures = connection.execute(
            sa.select(s.audit_contracts.c.failed_expectations).where(
                s.audit_contracts.c.contract_no == edge["invalid_header_total"]
            )
        ).scalar_one()
        overwritten = connection.execute(
            sa.select(sa.func.count())
            .select_from(s.audit_changes)
            .where(s.audit_changes.c.field.is_not(None))
        ).scalar()
    assert run.status == "completed" and run.trigger == "cli" and run.actor == "sync-service"
    assert run.ended_at is not None
    assert audit_rows == len(audit)
    assert stored_failures[0]["suite"] == "contract_aggregates"
    assert overwritten > 0

    for contract in reimported:  # and what the store holds is the ERP's items, exactly
        pd.testing.assert_frame_equal(store.items(contract), erp_items(configured, contract))

    # Right after a finished run, what it re-imported shows no_updates and nothing is written.
    before = store.everything()
    again = _by_contract(reimport_main_contracts(company=1))
    assert (again.loc[reimported, "outcome"] == "up_to_date").all()
    assert (again.loc[reimported, "reasons"] == "no_updates").all()
    assert store.everything() == before


def test_quickbooks_company_is_refused_for_every_contract(configured):
    audit = reimport_main_contracts(company=2)
    assert len(audit) > 0
    assert (audit["outcome"] == "blocked").all()
    assert audit["reasons"].str.contains("integration_unsupported").all()


def test_dry_run_records_would_reimport_and_writes_nothing_else(store):
    configured = store.sides
    edited = edit_erp(configured.erp, 1, 0.5, seed=3)
    before = store.everything()
    audit = _by_contract(reimport_main_contracts(company=1, requested_by="admin", dry_run=True))
    assert set(audit.index[audit["outcome"] == "would_reimport"]) == set(edited.contracts)
    assert store.everything() == before
    with configured.store.connect() as connection:
        changes = connection.execute(
            sa.select(sa.func.count()).select_from(s.audit_changes)
        ).scalar()
    assert changes > 0


@pytest.mark.parametrize("login", ["nobody", "ADMIN", " admin", "\u0430dmin"])  # Cyrillic a
def test_an_unknown_user_is_a_recorded_refusal_that_writes_nothing(store, login):
    configured = store.sides
    edit_erp(configured.erp, 1, 0.5, seed=12)
    before = store.everything()
    audit = reimport_main_contracts(company=1, requested_by=login)
    assert set(audit["outcome"]) == {"blocked"}
    assert audit["reasons"].str.split().map(lambda r: r[0] == "unknown_user").all()
    assert store.everything() == before
    with configured.store.connect() as connection:
        run = connection.execute(runs()).one()
        refused = connection.execute(
            sa.select(sa.func.count())
            .select_from(s.audit_contracts)
            .where(s.audit_contracts.c.reasons.like("unknown_user%"))
        ).scalar()
    assert (run.actor, run.status) == (login, "completed")
    assert refused == len(audit)


def _outcomes(audit: pd.DataFrame) -> pd.DataFrame:
    columns = ["contract_no", "outcome", "reasons", *COUNT_COLUMNS, "amount_after", "erp_hash"]
    return audit[columns].sort_values("contract_no").reset_index(drop=True)


def test_a_files_export_gives_the_same_outcomes_as_the_vista_database(
    configured, tmp_path, monkeypatch
):
    edit_erp(configured.erp, 1, 0.5, seed=6)
    from_vista = reimport_main_contracts(company=1, dry_run=True)
    write_files(read_vista(configured.erp, 1), tmp_path / "export", "csv", "cp1252")
    monkeypatch.setenv("CONTRACT_SYNC_ERP_CONNECTOR", "files")
    monkeypatch.setenv("CONTRACT_SYNC_ERP_FILES_DIR", str(tmp_path / "export"))
    get_settings.cache_clear()
    from_files = reimport_main_contracts(company=1, dry_run=True)
    pd.testing.assert_frame_equal(_outcomes(from_vista), _outcomes(from_files))
    assert (from_files["outcome"] == "would_reimport").any()


def test_only_contracts_changed_since_their_import_are_compared(store):
    seeded_run = _by_contract(reimport_main_contracts(company=1))
    # Nothing changed in the ERP since the import: no validation ran, nothing was compared.
    edge = edge_case_contracts(seeded_run.index)
    regular = seeded_run.index.difference(list(edge.values()))
    assert (seeded_run.loc[regular, "reasons"] == "no_updates").all()
    assert (seeded_run.loc[regular, "items_unchanged"] > 0).all()
    assert (seeded_run.loc[regular, "items_changed"] == 0).all()

    # A line item deleted in the store is not seen by a normal run, and restored by a refresh.
    victim = regular[0]
    store.delete_item(victim, store.items(victim).index[0])
    normal = _by_contract(reimport_main_contracts(company=1))
    assert normal.loc[victim, "reasons"] == "no_updates"
    refresh = _by_contract(reimport_main_contracts(company=1, full_refresh=True))
    assert refresh.loc[victim, "outcome"] == "reimported"
    assert refresh.loc[victim, "items_added"] == 1
    others = regular.drop(victim)
    assert (refresh.loc[others, "reasons"] == "no_updates").all()


@pytest.mark.parametrize(
    ("flow_function", "given", "named"),
    [
        (
            "reimport",
            {"policy": "always_erp"},
            "parameter policy: Input should be 'erp_wins' or 'block'",
        ),
        ("reimport", {"company": "one"}, "parameter company: Input should be a valid integer"),
        ("ready", {"company": -1}, "parameter company: Input should be greater than or equal to 0"),
        ("audit", {"days": 0}, "parameter days: Input should be greater than or equal to 1"),
        ("import", {"contract": "24007-"}, "parameter requested_by: String should have at least 1"),
    ],
)
def test_a_bad_parameter_ends_the_run_failed_in_one_line(configured, flow_function, given, named):
    """As when the run form's validation is off: the flow itself refuses, in one line."""
    from contract_sync_flows.audit_report import audit_report_flow
    from contract_sync_flows.first_import import import_main_contract
    from contract_sync_flows.ready import ready_list_flow

    flows = {
        "reimport": reimport_main_contracts,
        "ready": ready_list_flow,
        "audit": audit_report_flow,
        "import": import_main_contract,
    }
    state = flows[flow_function](**given, return_state=True)
    assert state.is_failed()
    assert state.message.startswith(named) and "\n" not in state.message
    with configured.store.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(s.sync_runs)).scalar() == 0


def _artifact(key: str):  # noqa: ANN202 - a Prefect artifact's data, as published
    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert artifact is not None, key
    return json.loads(artifact.data) if artifact.type == "table" else artifact.data


def test_a_run_publishes_its_outcome_in_words_and_states_it_last(configured, caplog):
    edited = edit_erp(configured.erp, 1, 0.5, seed=4)
    with caplog.at_level(logging.INFO, logger="prefect.flow_runs"):
        state = reimport_main_contracts(company=1, return_state=True)
    audit = _by_contract(state.result())
    run_id = audit["run_id"].iloc[0]
    blocked = audit[audit["outcome"] == "blocked"]
    sentence = (
        f"Re-import run {run_id} completed: {len(edited.contracts)} re-imported, "
        f"{len(blocked)} blocked ("
    )
    assert state.is_completed() and state.message.startswith(sentence)
    assert state.message.endswith(
        f"{(audit['outcome'] == 'up_to_date').sum()} up to date; contract value changed by "
        + display(int((audit["amount_after"] - audit["amount_before"]).sum()), "amount")
    )
    # The flow's last log line, before Prefect's own "Finished in state", says it too.
    said = [r.getMessage() for r in caplog.records if r.name == "prefect.flow_runs"]
    finished = max(i for i, line in enumerate(said) if line.startswith("Finished in state"))
    assert said[finished - 1] == state.message

    # The outcome table: words, few columns; up-to-date contracts are only counted.
    rows = _artifact("cli-outcomes")
    assert {tuple(r) for r in rows} == {("contract", "title", "outcome", "change")}
    shown = {r["contract"]: r for r in rows}
    assert set(shown) == set(audit.index[audit["outcome"] != "up_to_date"])
    edge = edge_case_contracts(audit.index)
    assert shown[edge["job_not_synced"]]["outcome"] == "blocked: ERP job not synced"
    assert shown[edge["invalid_unit_amount"]]["outcome"] == "blocked: invalid ERP data"
    assert {shown[c]["outcome"] for c in edited.contracts} == {"re-imported"}
    assert all(re.fullmatch(r"-?[\d,]+\.\d\d", shown[c]["change"]) for c in edited.contracts)

    # The summary: the rules in words, and the validation report's file named, not linked.
    summary = _artifact("cli-summary")
    assert "breaks the rule: each item's amount equals quantity × unit cost" in summary
    assert "expect_" not in summary and "file://" not in summary
    page = get_settings().reports_path / run_id / "index.html"
    assert f"Validation report: the file `{page}` on the machine that ran the flow" in summary


def test_a_served_reports_folder_is_linked_over_http_in_the_artifacts(configured, monkeypatch):
    edit_erp(configured.erp, 1, 0.5, seed=5)
    monkeypatch.setenv("CONTRACT_SYNC_REPORTS_URL", "http://reports.example:4201/")
    get_settings.cache_clear()
    run_id = reimport_main_contracts(company=1)["run_id"].iloc[0]
    link = f"http://reports.example:4201/{run_id}/index.html"
    assert f"Validation report: [{link}]({link})" in _artifact("cli-summary")

    from contract_sync_flows.audit_report import audit_report_flow

    page = Path(audit_report_flow(days=1))
    served = f"http://reports.example:4201/audit/{page.name}"
    csv = served.removesuffix(".html") + ".csv"
    assert f"Full report: [{served}]({served}) (CSV: [{csv}]({csv}))" in _artifact("audit-report")


def test_the_ready_list_artifact_says_what_may_be_done_in_words(configured):
    from contract_sync_flows.ready import ready_list_flow

    edited = edit_erp(configured.erp, 1, 0.5, seed=8)
    table = ready_list_flow(company=1, requested_by="admin").set_index("contract_no")
    rows = {r["contract"]: r for r in _artifact("ready-list-company-1")}
    assert set(rows) == set(table.index)
    assert {tuple(r) for r in rows.values()} == {("contract", "title", "action", "change")}
    assert {rows[c]["action"] for c in edited.contracts} == {"re-import"}
    edge = edge_case_contracts(table.index)
    assert rows[edge["not_imported"]]["action"] == "import"
    assert rows[edge["contract_unapproved"]]["action"] == "blocked: not Approved in store"
    assert {r["action"] for r in rows.values()} <= {"import", "re-import", "up to date"} | {
        r["action"] for r in rows.values() if r["action"].startswith("blocked: ")
    }


def test_each_deployment_loads_and_the_scheduled_one_asks_only_what_a_schedule_needs():
    """As `prefect deploy` builds them: each entrypoint's flow, and its run form's schema
    from that flow's signature."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    forms = {}
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(str(PROJECT / deployment["entrypoint"]))
        schema = parameter_schema(flow).model_dump()
        forms[deployment["name"]] = (flow.name, schema["properties"])
    assert forms["company-sync"][0] == forms["reimport-contracts"][0]  # one flow, two forms
    assert list(forms["company-sync"][1]) == ["company", "dry_run", "policy", "full_refresh"]
    assert forms["scheduled-sync"][0] == "sync-companies"
    assert list(forms["scheduled-sync"][1]) == ["companies", "dry_run", "policy", "full_refresh"]
    assert {"requested_by", "contracts", "request_id"} <= set(forms["reimport-contracts"][1])
    by_hand = forms["reimport-contracts"][1]
    for name, schema in forms["company-sync"][1].items():  # the same types and words
        assert schema | {"position": 0} == by_hand[name] | {"position": 0}
    for name in ("dry_run", "policy", "full_refresh"):  # and in the sync of the companies
        assert forms["scheduled-sync"][1][name] | {"position": 0} == by_hand[name] | {"position": 0}


def test_a_company_sync_acts_as_the_service_user_on_every_contract(configured):
    from contract_sync_flows.reimport import company_sync

    edited = edit_erp(configured.erp, 1, 0.5, seed=9)
    audit = _by_contract(company_sync(company=1, dry_run=True))
    assert set(audit.index[audit["outcome"] == "would_reimport"]) == set(edited.contracts)
    with configured.store.connect() as connection:
        run = connection.execute(runs()).one()
    assert (run.actor, run.dry_run) == ("sync-service", True)
    bad = company_sync(policy="always_erp", return_state=True)
    assert bad.is_failed() and bad.message.startswith("parameter policy:")
