"""The re-import flow end to end on real databases, under a real (temporary) Prefect server."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

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
from tests.store_rows import contract_id, first_item

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _by_contract(audit: pd.DataFrame) -> pd.DataFrame:
    return audit.set_index("contract_no")


def _store_snapshot(engine: sa.Engine) -> dict[str, list]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(sa.select(table).order_by(*table.primary_key)).all()
            for table in (s.main_contracts, s.line_items, s.import_baselines, s.baseline_items)
        }


def test_sync_reimports_eligible_contracts_and_blocks_each_edge_case(configured):
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

    # Right after a finished run, what it re-imported shows no_updates and nothing is written.
    before = _store_snapshot(configured.store)
    again = _by_contract(reimport_main_contracts(company=1))
    assert (again.loc[reimported, "outcome"] == "up_to_date").all()
    assert (again.loc[reimported, "reasons"] == "no_updates").all()
    assert _store_snapshot(configured.store) == before


def test_quickbooks_company_is_refused_for_every_contract(configured):
    audit = reimport_main_contracts(company=2)
    assert len(audit) > 0
    assert (audit["outcome"] == "blocked").all()
    assert audit["reasons"].str.contains("integration_unsupported").all()


def test_dry_run_records_would_reimport_and_writes_nothing_else(configured):
    edited = edit_erp(configured.erp, 1, 0.5, seed=3)
    before = _store_snapshot(configured.store)
    audit = _by_contract(reimport_main_contracts(company=1, requested_by="admin", dry_run=True))
    assert set(audit.index[audit["outcome"] == "would_reimport"]) == set(edited.contracts)
    assert _store_snapshot(configured.store) == before
    with configured.store.connect() as connection:
        changes = connection.execute(
            sa.select(sa.func.count()).select_from(s.audit_changes)
        ).scalar()
    assert changes > 0


@pytest.mark.parametrize("login", ["nobody", "ADMIN", " admin", "\u0430dmin"])  # Cyrillic a
def test_an_unknown_user_is_a_recorded_refusal_that_writes_nothing(configured, login):
    edit_erp(configured.erp, 1, 0.5, seed=12)
    before = _store_snapshot(configured.store)
    audit = reimport_main_contracts(company=1, requested_by=login)
    assert set(audit["outcome"]) == {"blocked"}
    assert audit["reasons"].str.split().map(lambda r: r[0] == "unknown_user").all()
    assert _store_snapshot(configured.store) == before
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


def test_only_contracts_changed_since_their_import_are_compared(configured):
    seeded_run = _by_contract(reimport_main_contracts(company=1))
    # Nothing changed in the ERP since the import: no validation ran, nothing was compared.
    edge = edge_case_contracts(seeded_run.index)
    regular = seeded_run.index.difference(list(edge.values()))
    assert (seeded_run.loc[regular, "reasons"] == "no_updates").all()
    assert (seeded_run.loc[regular, "items_unchanged"] > 0).all()
    assert (seeded_run.loc[regular, "items_changed"] == 0).all()

    # A line item deleted in the store is not seen by a normal run, and restored by a refresh.
    victim = regular[0]
    with configured.store.begin() as connection:
        item_id = first_item(connection, contract_id(connection, victim), s.line_items.c.id)
        connection.execute(s.line_items.delete().where(s.line_items.c.id == item_id))
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
