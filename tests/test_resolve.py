"""The one request resolver: defaults, normal form, known contracts (with the nearest
numbers), and a refused request leaves no run behind but its refusal, from the CLI and the
run form alike."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.errors import UserError
from contract_sync.resolve import UnknownContract, require_known, resolve, resolve_companies
from contract_sync.settings import Settings, get_settings
from contract_sync.store import schema as s
from contract_sync.vocabulary import ConflictPolicy
from contract_sync_faces.cli import app

SETTINGS = Settings(erp_url="sqlite://", store_url="sqlite://", company=7, service_user="svc")


def _run_count(store: sa.Engine) -> int:
    with store.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(s.sync_runs)).scalar()


def _refusals(store: sa.Engine) -> list[tuple]:
    """The refusals recorded: event, login, client, company and detail."""
    e = s.web_events.c
    query = sa.select(e.event, e.login, e.client, e.erp_company, e.detail).order_by(e.id)
    with store.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


@pytest.mark.parametrize(
    ("given", "company", "actor"),
    [
        ({}, 7, "svc"),
        ({"company": 0, "actor": ""}, 7, "svc"),
        ({"company": 2, "actor": "a"}, 2, "a"),
    ],
)
def test_missing_company_and_actor_are_the_configured_ones(given, company, actor):
    request = resolve(SETTINGS, **given)
    assert (request.company, request.actor) == (company, actor)


def test_codes_take_their_normal_form_once_and_blanks_mean_every_one():
    request = resolve(SETTINGS, contracts=["  24001-", "24001-", " 24002- "], project="  ")
    assert request.contracts == ["24001-", "24002-"]
    assert request.project is None
    assert resolve(SETTINGS, contracts=[]).contracts is None
    assert resolve(SETTINGS, policy="block").policy is ConflictPolicy.block


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_unknown_contract_is_named_with_the_nearest_ones(configured):
    settings = get_settings()
    require_known(settings, resolve(settings, company=1, contracts=["24001-"]))
    with pytest.raises(UnknownContract) as refused:
        require_known(settings, resolve(settings, company=1, contracts=["24001-", "24001"]))
    assert str(refused.value) == (
        "not in the ERP for company 1: '24001' (nearest: 24001-, 24012-, 24011-)"
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_cli_typo_records_no_run(configured):
    for command in (["import", "2099-", "--as", "admin"], ["reimport", "2099-", "--as", "admin"]):
        done = CliRunner().invoke(app, command)
        assert done.exit_code == 1
        assert "not in the ERP for company 1: '2099-'" in done.output
    assert _run_count(configured.store) == 0
    refusals = _refusals(configured.store)
    assert [row[:4] for row in refusals] == [("refused", "admin", "cli", 1)] * 2
    assert all("not in the ERP for company 1: '2099-'" in row[4] for row in refusals)


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_run_form_refuses_a_contract_it_cannot_find(configured):
    from contract_sync_flows.reimport import reimport_main_contracts

    state = reimport_main_contracts(
        company=1, contracts=["24008", "24010-"], requested_by="admin", return_state=True
    )
    assert state.is_failed()
    assert "'24008' (nearest: 24008-" in state.message
    assert _run_count(configured.store) == 0
    [(event, login, client, company, detail)] = _refusals(configured.store)
    # Called in-process, not through a deployment: the run's origin says cli.
    assert (event, login, client, company) == ("refused", "admin", "cli", 1)
    assert "'24008' (nearest: 24008-" in detail


def test_the_companies_of_a_sync_are_those_asked_or_every_one_of_the_directory(configured):
    settings = get_settings()
    every = resolve_companies(settings, [])
    assert list(every) == [1, 2] and all(every.values())
    assert list(resolve_companies(settings, [2, 2])) == [2]
    with pytest.raises(UserError) as refused:
        resolve_companies(settings, [2, 7, 9])
    assert str(refused.value) == "not in the store's directory: company 7, 9 (it holds 1, 2)"


def test_a_sync_of_companies_with_an_empty_directory_says_what_to_do(empty_sides, tmp_path):
    from tests.conftest import settings_for

    with settings_for(empty_sides, tmp_path / "reports"), pytest.raises(UserError) as refused:
        resolve_companies(get_settings(), [])
    assert "directory holds no company: load it first" in str(refused.value)
