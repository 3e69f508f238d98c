"""The daily digest: the people who can act are told, once, in words, by email (a local
SMTP server) and by webhook (a local receiver), each notice with its page's link; the
digest's parts on tiny frames."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from contract_sync.directory import apply_file, export_text
from contract_sync.model import Request
from contract_sync.notify import NoChannel, daily_digest
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.stages.digest import contract_notices, messages, recipients, run_notices
from contract_sync.store.writes import finish_run, start_run
from tests.mail_server import local_servers

WEB = "https://sync.example.com"
WHEN = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def _states(**rows) -> pd.DataFrame:  # noqa: ANN003
    base = {
        "audit_id": 7,
        "erp_company": 1,
        "contract_no": "24003-",
        "project_id": 2,
        "outcome": "blocked",
        "reasons": "contract_unapproved",
        "recorded_at": WHEN,
    }
    return pd.DataFrame([base | rows])


def test_a_contract_blocked_for_a_reason_a_person_can_fix_is_a_notice_once():
    found = contract_notices(_states(), set(), WEB)
    assert found["key"].tolist() == ["contract:7"]
    assert found["line"].iloc[0] == (
        "Contract 24003- is blocked since 2026-12-01: the store contract is not Approved: "
        "approve it in the project, then re-import.\n"
        f"  {WEB}/companies/1/contract?no=24003-"
    )
    assert contract_notices(_states(), {"contract:7"}, WEB).empty  # told already
    assert contract_notices(_states(reasons="stale"), set(), WEB).empty  # the next run writes it
    assert contract_notices(_states(outcome="up_to_date", reasons="no_updates"), set(), WEB).empty


def test_each_notice_goes_to_the_company_and_project_admins_once_each():
    notices = contract_notices(_states(), set(), WEB)
    admins = pd.DataFrame(
        {
            "erp_company": [1, 1, 1, 1, 2],
            "email": ["it@x.com", "pm@x.com", "all@x.com", "other@x.com", "it@x.com"],
            "tool": [
                "erp_integrations",
                "main_contracts",
                "main_contracts",
                "main_contracts",
                "erp_integrations",
            ],
            "project_id": pd.array([pd.NA, 2, pd.NA, 3, pd.NA], dtype="Int64"),
        }
    )
    found = recipients(notices, admins)
    assert sorted(found["email"]) == ["all@x.com", "it@x.com", "pm@x.com"]


def test_one_message_per_person_by_company():
    notices = pd.concat(
        [
            contract_notices(_states(), set(), WEB).drop(columns="project_id"),
            run_notices(
                pd.DataFrame(
                    [
                        {
                            "run_id": "r1",
                            "erp_company": 2,
                            "status": "failed",
                            "at": WHEN,
                            "actor": "sync-service",
                            "trigger": "scheduled",
                        }
                    ]
                ),
                set(),
                WEB,
            ),
        ],
        ignore_index=True,
    )
    addressed = pd.DataFrame({"key": ["contract:7", "run:r1"], "email": ["a@x.com", "a@x.com"]})
    [message] = messages(notices, addressed, {1: "Granite Peak Builders", 2: "Harbor"})
    assert message.to == "a@x.com" and message.subject == "contract-sync: 2 things to act on"
    assert "Granite Peak Builders (ERP company 1)\n\nContract 24003-" in message.body
    assert "Harbor (ERP company 2)\n\nThe scheduled run of 2026-12-01 06:00 UTC" in message.body
    assert f"{WEB}/companies/2/runs/r1" in message.body


def _with_emails(store, folder: Path) -> None:  # noqa: ANN001
    document = yaml.safe_load(export_text(store))
    for company in document["companies"]:
        for user in company["users"]:
            user["email"] = f"{user['login']}@example.com"
    path = folder / "directory.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    apply_file(store, path, "test")


def _settings(seeded, tmp_path: Path) -> Settings:  # noqa: ANN001 - conftest.Sides
    """The seeded databases' settings, without validation reports."""
    return Settings(
        erp_url=seeded.erp_url,
        store_url=seeded.store_url,
        data_dir=tmp_path / "data",
        reports_dir=tmp_path / "reports",
        data_docs=False,
    )


def test_the_digest_is_mailed_and_posted_once(seeded, tmp_path):
    _with_emails(seeded.store, tmp_path)
    settings = _settings(seeded, tmp_path)
    synced = reimport(settings, Request(company=1, actor=settings.service_user))
    blocked = synced.audit[synced.audit["reasons"].str.contains("contract_unapproved")]
    number = blocked["contract_no"].iloc[0]
    failed = {
        "id": "f" * 8 + "-0000-0000-0000-000000000000",
        "company_id": 1,
        "trigger": "scheduled",
        "deployment": None,
        "actor": settings.service_user,
        "parameters": {},
        "dry_run": False,
    }
    start_run(seeded.store, failed)
    finish_run(seeded.store, failed["id"], "failed")

    with local_servers() as (smtp, hook, received):
        told = settings.model_copy(
            update={
                "notify_email": f"mailto://127.0.0.1:{smtp}?mode=insecure&format=text"
                "&from=contract-sync@example.com",
                "notify_webhooks": f"json://127.0.0.1:{hook}/digest",
                "notify_operators": "ops@example.com",
                "web_url": WEB,
            }
        )
        digest = daily_digest(told)
        again = daily_digest(told)
    assert digest.failed == [] and digest.told and again.told == [] and again.messages == []
    mails = {m["To"]: m for m in received.mails}
    body = mails["admin@example.com"].get_body(("plain",)).get_content()
    Path("/tmp/digest-mail.txt").write_text(mails["admin@example.com"].as_string())
    assert f"Contract {number} is blocked since" in body
    listed = re.findall(r"^Contract (\S+) is blocked", body, re.M)
    assert listed == sorted(listed)
    assert "the store contract is not Approved: approve it in the project, then re-import." in body
    assert f"{WEB}/companies/1/contract?no={number}" in body
    assert "failed" not in body  # a run's end goes to the operators
    ops = mails["ops@example.com"].get_body(("plain",)).get_content()
    assert f"{WEB}/companies/1/runs/{failed['id']}" in ops and "blocked" not in ops
    assert "viewer@example.com" not in mails  # no Admin: not told
    [post] = received.posts
    assert post["path"] == "/digest" and f"Contract {number} is blocked" in post["json"]["message"]
    assert len(received.mails) == len(digest.messages)  # once: the second digest sent nothing


def test_a_digest_with_nowhere_to_go_is_one_line(seeded, tmp_path):
    settings = Settings(erp_url=seeded.erp_url, store_url=seeded.store_url, data_dir=tmp_path)
    with pytest.raises(NoChannel, match="CONTRACT_SYNC_NOTIFY_EMAIL"):
        daily_digest(settings)


def test_the_command_shows_the_digest_and_says_where_it_could_not_go(
    configured, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from contract_sync.settings import get_settings
    from contract_sync_faces.cli import app

    _with_emails(configured.store, tmp_path)
    reimport(get_settings(), Request(company=1, actor=get_settings().service_user))
    shown = CliRunner().invoke(app, ["digest", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "To: admin@example.com\nSubject: contract-sync: " in shown.stdout
    assert "is blocked since" in shown.stdout and "To: the webhooks\n" in shown.stdout
    refused = CliRunner().invoke(app, ["digest"])
    assert refused.exit_code == 1
    assert refused.stdout.startswith(
        "error: no channel for the digest: set CONTRACT_SYNC_NOTIFY_EMAIL"
    )
    monkeypatch.setenv("CONTRACT_SYNC_NOTIFY_WEBHOOKS", f"json://127.0.0.1:{_closed_port()}/x")
    get_settings.cache_clear()
    failed = CliRunner().invoke(app, ["digest"])
    assert failed.exit_code == 1
    assert "error: not sent to json webhook: told again with the next digest" in failed.stdout
    get_settings.cache_clear()


def _closed_port() -> int:
    from tests.conftest import free_port

    return free_port()  # nothing listens there


def test_a_notice_for_nobody_waits_until_someone_has_an_address(seeded, tmp_path):
    settings = _settings(seeded, tmp_path)
    reimport(settings, Request(company=1, actor=settings.service_user))
    with local_servers() as (smtp, _hook, received):
        mailing = settings.model_copy(
            update={"notify_email": f"mailto://127.0.0.1:{smtp}?mode=insecure&from=a@example.com"}
        )
        nobody = daily_digest(mailing)  # no admin has an address in the directory yet
        _with_emails(seeded.store, tmp_path)
        told = daily_digest(mailing)
    assert (nobody.told, nobody.messages) == ([], [])
    assert told.told and {m["To"] for m in received.mails} == {
        "admin@example.com",
        "sync-service@example.com",
        "estimator@example.com",
    }
