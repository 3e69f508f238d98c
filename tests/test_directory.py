"""The company directory as a file: apply, check, export, removal, errors, the change log."""

from __future__ import annotations

import textwrap
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.directory import DirectoryError, apply_file, export_text, parse_file
from contract_sync.settings import get_settings
from contract_sync.store import schema as s
from contract_sync.store.db import make_engine, upgrade
from contract_sync.store.state import load_state
from contract_sync_faces.cli import app

EXAMPLE = """\
companies:
  - erp_company: 1
    name: Example Builders
    erp: viewpoint_vista            # a key of the ERP capability matrix
    integration_configured: true
    projects:
      - number: "1001-001"
        name: Riverside Medical Office
        jobs: ["1001-001"]
      - number: "1001-002"
        name: Riverside Parking
        jobs: ["1001-002", " 1001-003 "]
    users:
      - login: jdoe
        name: Jane Doe
        erp_integrations: admin
        main_contracts: {"1001-001": admin, "*": standard}
      - login: estimator
        name: Estimator
        erp_integrations: standard
        main_contracts: {"*": admin}
  - erp_company: 2
    name: Bayside Constructors
    erp: quickbooks_online
    integration_configured: false
    projects:
      - number: "7"
        name: Shop
    users:
      - login: jdoe
        name: Jane Doe
        erp_integrations: read_only
"""


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url("store"))
    upgrade(engine)
    yield engine
    engine.dispose()


def write(tmp_path: Path, text: str, name: str = "directory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def directory_rows(engine: sa.Engine) -> dict[str, object]:
    """The directory tables by natural keys (ids are the store's business)."""
    with engine.connect() as c:
        erp = dict(c.execute(sa.select(s.companies.c.id, s.companies.c.erp_company)).all())
        projects = {
            r.id: r.number for r in c.execute(sa.select(s.projects.c.id, s.projects.c.number))
        }
        logins = dict(c.execute(sa.select(s.users.c.id, s.users.c.login)).all())
        return {
            "companies": {(r.erp_company, r.name) for r in c.execute(sa.select(s.companies))},
            "erp_integrations": {
                (erp[r.company_id], r.erp_type, r.configured)
                for r in c.execute(sa.select(s.erp_integrations))
            },
            "projects": {
                (erp[r.company_id], r.number, r.name) for r in c.execute(sa.select(s.projects))
            },
            "synced_jobs": {
                (erp[r.company_id], r.erp_job_no, projects[r.project_id])
                for r in c.execute(sa.select(s.synced_jobs))
            },
            "users": {(r.login, r.name) for r in c.execute(sa.select(s.users))},
            "tool_permissions": Counter(
                (logins[r.user_id], erp[r.company_id], r.tool, projects.get(r.project_id), r.level)
                for r in c.execute(sa.select(s.tool_permissions))
            ),
        }


def change_log(engine: sa.Engine) -> list:
    with engine.connect() as c:
        return c.execute(sa.select(s.directory_changes).order_by(s.directory_changes.c.id)).all()


def test_apply_creates_exactly_the_rows(store, tmp_path):
    plan = apply_file(store, write(tmp_path, EXAMPLE), actor="alice")
    assert plan.summary == "18 added, 0 changed, 0 removed"
    assert directory_rows(store) == {
        "companies": {(1, "Example Builders"), (2, "Bayside Constructors")},
        "erp_integrations": {(1, "viewpoint_vista", True), (2, "quickbooks_online", False)},
        "projects": {
            (1, "1001-001", "Riverside Medical Office"),
            (1, "1001-002", "Riverside Parking"),
            (2, "7", "Shop"),
        },
        "synced_jobs": {  # job codes exactly as written, padding included
            (1, "1001-001", "1001-001"),
            (1, "1001-002", "1001-002"),
            (1, "1001-003", "1001-002"),
        },
        "users": {("jdoe", "Jane Doe"), ("estimator", "Estimator")},
        "tool_permissions": Counter(
            [
                ("jdoe", 1, "erp_integrations", None, "admin"),
                ("jdoe", 1, "main_contracts", "1001-001", "admin"),
                ("jdoe", 1, "main_contracts", None, "standard"),
                ("estimator", 1, "erp_integrations", None, "standard"),
                ("estimator", 1, "main_contracts", None, "admin"),
                ("jdoe", 2, "erp_integrations", None, "read_only"),
            ]
        ),
    }


def test_check_prints_the_plan_and_writes_nothing(store, tmp_path):
    path = write(tmp_path, EXAMPLE)
    plan = apply_file(store, path, check=True)
    assert "added    company 1 / user jdoe / main_contracts 1001-001: level admin" in plan.lines()
    assert "added    company 1 / job 1001-003: project 1001-002" in plan.lines()
    assert all(not rows for rows in directory_rows(store).values())
    assert change_log(store) == []

    apply_file(store, path)
    before = directory_rows(store)
    changed = write(
        tmp_path, EXAMPLE.replace("jdoe\n        name: Jane Doe", "jdoe\n        name: J")
    )
    plan = apply_file(store, changed, check=True)
    assert plan.lines() == ["changed  user jdoe: name Jane Doe -> J"]
    assert directory_rows(store) == before


def test_applying_the_same_file_twice_is_no_change(store, tmp_path):
    path = write(tmp_path, EXAMPLE)
    apply_file(store, path)
    rows, logged = directory_rows(store), len(change_log(store))
    again = apply_file(store, path)
    assert again.changes == [] and again.summary == "no change"
    assert directory_rows(store) == rows
    assert len(change_log(store)) == logged


def test_export_then_apply_is_no_change(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    exported = export_text(store)
    assert (
        parse_file(write(tmp_path, exported, "exported.yaml")).model.companies[0].erp_company == 1
    )
    plan = apply_file(store, tmp_path / "exported.yaml")
    assert plan.changes == []
    assert export_text(store) == exported
    assert '{"*": standard, "1001-001": admin}' in exported  # "*" first, codes quoted


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_demo_directory_is_applied_from_its_file_and_round_trips(seeded, tmp_path):
    """The seed wrote the directory it applied beside the store; export + apply is no change."""
    seeded_file = tmp_path / "directory.yaml"
    assert seeded_file.exists()
    assert apply_file(seeded.store, seeded_file).changes == []
    exported = write(tmp_path, export_text(seeded.store), "exported.yaml")
    assert apply_file(seeded.store, exported).changes == []
    state = load_state(seeded.store, 1, "sync-service")
    levels = state.main_contracts_levels
    assert len(levels) == len(state.projects) == levels["project_id"].nunique()
    assert (levels["level"] == "standard").sum() == 1  # the permission_denied edge case
    viewer = load_state(seeded.store, 2, "viewer")
    assert set(viewer.main_contracts_levels["level"]) == {"read_only"}
    assert viewer.erp_integrations_level == "read_only"


def test_the_demo_writes_its_directory_file_beside_a_sqlite_store_only(tmp_path):
    from contract_sync.demo.seed import default_directory_file

    sqlite = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'store.sqlite'}")
    assert default_directory_file(sqlite) == tmp_path / "data" / "directory.yaml"
    server = sa.create_engine("postgresql+psycopg://sync@db.internal/project_store")
    assert default_directory_file(server) is None  # applied from the text, no file written


def test_changes_update_in_place_and_a_listed_job_moves(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    edited = (
        EXAMPLE.replace("name: Riverside Parking", "name: Riverside Garage")
        .replace('jobs: ["1001-001"]', 'jobs: ["1001-001", "1001-002"]')
        .replace('jobs: ["1001-002", " 1001-003 "]', 'jobs: [" 1001-003 "]')
        .replace('{"1001-001": admin, "*": standard}', '{"1001-001": standard}')
        .replace("integration_configured: false", "integration_configured: true")
    )
    plan = apply_file(store, write(tmp_path, edited, "edited.yaml"))
    assert plan.lines() == [
        "changed  company 1 / project 1001-002: name Riverside Parking -> Riverside Garage",
        "changed  company 1 / job 1001-002: project 1001-002 -> 1001-001",
        "changed  company 1 / user jdoe / main_contracts 1001-001: level admin -> standard",
        "changed  company 2 / erp integration: configured false -> true",
    ]
    rows = directory_rows(store)
    assert (1, "1001-002", "1001-001") in rows["synced_jobs"]
    assert ("jdoe", 1, "main_contracts", None, "standard") in rows["tool_permissions"]  # kept


def test_nothing_is_removed_for_missing_from_the_file(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    rows = directory_rows(store)
    partial = """\
    companies:
      - erp_company: 1
        name: Example Builders
        projects:
          - number: "1001-002"
            name: Riverside Parking
            jobs: []
        users:
          - login: jdoe
            name: Jane Doe
            main_contracts: {}
    """
    assert apply_file(store, write(tmp_path, partial, "partial.yaml")).changes == []
    assert directory_rows(store) == rows


REMOVALS = """\
companies:
  - erp_company: 1
    name: Example Builders
    projects:
      - number: "1001-001"
        remove: true
      - number: "1001-002"
        name: Riverside Parking
        remove_jobs: [" 1001-003 "]
    users:
      - login: jdoe
        name: Jane Doe
        main_contracts: {"*": remove}
      - login: estimator
        remove: true
  - erp_company: 2
    remove: true
"""


def test_removal_is_explicit_and_named_in_the_plan(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    path = write(tmp_path, REMOVALS, "removals.yaml")
    plan = apply_file(store, path, actor="alice")
    assert plan.lines() == [
        "removed  company 1 / user jdoe / main_contracts 1001-001: was level admin "
        "(project removed)",
        "removed  company 1 / project 1001-001: was name Riverside Medical Office",
        "removed  company 1 / job 1001-001: was project 1001-001 (project removed)",
        "removed  company 1 / job 1001-003: was project 1001-002 (remove_jobs)",
        "removed  company 1 / user jdoe / main_contracts *: was level standard",
        "removed  company 1 / user estimator / erp_integrations: was level standard "
        "(user removed from the company)",
        "removed  company 1 / user estimator / main_contracts *: was level admin "
        "(user removed from the company)",
        "removed  company 2 / user jdoe / erp_integrations: was level read_only (company removed)",
        "removed  company 2 / project 7: was name Shop (company removed)",
        "removed  company 2 / erp integration: was erp quickbooks_online, configured false "
        "(company removed)",
        "removed  company 2: was name Bayside Constructors",
        "removed  user estimator: was name Estimator (no permission left in any company)",
    ]
    assert directory_rows(store) == {
        "companies": {(1, "Example Builders")},
        "erp_integrations": {(1, "viewpoint_vista", True)},
        "projects": {(1, "1001-002", "Riverside Parking")},
        "synced_jobs": {(1, "1001-002", "1001-002")},
        "users": {("jdoe", "Jane Doe")},
        "tool_permissions": Counter([("jdoe", 1, "erp_integrations", None, "admin")]),
    }
    assert apply_file(store, path).changes == []  # removing what is gone is no change


def test_a_project_holding_main_contracts_is_not_removed_and_nothing_is_written(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    with store.begin() as c:
        project = c.execute(
            sa.select(s.projects.c.id).where(s.projects.c.number == "1001-001")
        ).scalar_one()
        c.execute(
            s.main_contracts.insert(),
            {
                "company_id": 1,
                "project_id": project,
                "origin_id": "24001-",
                "number": "24001-",
                "status": "Approved",
                "original_amount": 100,
            },
        )
    rows = directory_rows(store)
    path = write(tmp_path, REMOVALS, "removals.yaml")
    with pytest.raises(DirectoryError) as refused:
        apply_file(store, path)
    assert refused.value.problems == [
        f"{path}:5: company 1 / project 1001-001: cannot remove project 1001-001: it holds 1 "
        "main contract (move or delete it in the project store first)"
    ]
    assert directory_rows(store) == rows


def test_a_company_with_main_contracts_or_sync_runs_is_not_removed(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    with store.begin() as c:
        c.execute(
            s.sync_runs.insert(),
            {
                "id": "run-1",
                "company_id": 2,
                "trigger": "cli",
                "actor": "jdoe",
                "parameters": {},
                "dry_run": True,
                "started_at": datetime.now(UTC),
            },
        )
    path = write(
        tmp_path,
        "companies:\n  - erp_company: 1\n    name: X\n  - erp_company: 2\n    remove: true\n",
    )
    with pytest.raises(DirectoryError) as refused:
        apply_file(store, path)
    assert refused.value.problems == [
        f"{path}:4: company 2: cannot remove company 2: it holds 1 sync run (the audit log "
        "refers to it)"
    ]
    assert (1, "Example Builders") in directory_rows(store)["companies"]  # nothing written


def test_permissions_written_twice_by_hand(store, tmp_path):
    """The lowest level counts (gates and export); applying settles them once."""
    path = write(tmp_path, EXAMPLE)
    apply_file(store, path)
    with store.begin() as c:
        row = c.execute(
            sa.select(s.tool_permissions).where(s.tool_permissions.c.project_id.is_not(None))
        ).one()
        c.execute(
            s.tool_permissions.insert(),
            {k: v for k, v in row._asdict().items() if k != "id"} | {"level": "read_only"},
        )
    assert set(load_state(store, 1, "jdoe").main_contracts_levels["level"]) == {
        "read_only",
        "standard",
    }
    assert '"1001-001": read_only' in export_text(store)
    plan = apply_file(store, path)
    assert plan.lines() == [
        "changed  company 1 / user jdoe / main_contracts 1001-001: level read_only/admin -> admin"
    ]
    assert apply_file(store, path).changes == []


def test_applying_is_all_or_nothing(store, tmp_path, monkeypatch):
    from contract_sync.directory import apply as applying

    def broken(*args):
        raise RuntimeError("the database went away")

    monkeypatch.setitem(applying._WRITERS, "permission", broken)
    with pytest.raises(RuntimeError, match="went away"):
        apply_file(store, write(tmp_path, EXAMPLE))
    assert all(not rows for rows in directory_rows(store).values())
    assert change_log(store) == []


def _problems(tmp_path: Path, text: str, store: sa.Engine | None = None) -> list[str]:
    path = write(tmp_path, text, "bad.yaml")
    with pytest.raises(DirectoryError) as error:
        if store is None:
            parse_file(path)
        else:
            apply_file(store, path)
    assert str(error.value).splitlines() == error.value.problems
    return [p.removeprefix(f"{path}:") for p in error.value.problems]


BAD_FILES = {
    "unknown key": (
        EXAMPLE.replace(
            "    name: Example Builders\n", "    name: Example Builders\n    colour: red\n"
        ),
        "4: company 1 / colour: unknown key 'colour'; the keys here are erp_company, name, erp, "
        "integration_configured, projects, users, remove",
    ),
    "unknown ERP type": (
        EXAMPLE.replace("erp: viewpoint_vista", "erp: vista"),
        "4: company 1 / erp: unknown ERP type 'vista': the known types are sage_300_cre, "
        "viewpoint_vista, cmic, viewpoint_spectrum, quickbooks_online, quickbooks_desktop",
    ),
    "unknown level": (
        EXAMPLE.replace("erp_integrations: standard", "erp_integrations: superuser"),
        "20: company 1 / user estimator / erp_integrations: unknown permission level "
        "'superuser': the levels are none, read_only, standard, admin (or remove, to delete "
        "the permission)",
    ),
    "unknown level in a project": (
        EXAMPLE.replace('"1001-001": admin', '"1001-001": owner'),
        "17: company 1 / user jdoe / main_contracts 1001-001: unknown permission level "
        "'owner': the levels are none, read_only, standard, admin (or remove, to delete the "
        "permission)",
    ),
    "a job linked to two projects": (
        EXAMPLE.replace('" 1001-003 "]', '" 1001-003 ", "1001-001"]'),
        "12: company 1 / project 1001-002 / jobs 1001-001: job '1001-001' is linked to two "
        "projects: 1001-001 and 1001-002",
    ),
    "the same job padded differently": (
        EXAMPLE.replace('" 1001-003 "]', '" 1001-003 ", "1001-003"]'),
        "12: company 1 / project 1001-002 / jobs 1001-003: job '1001-003' is linked twice: "
        "1001-002 and 1001-002",
    ),
    "a project number that is a number": (
        EXAMPLE.replace('number: "7"', "number: 7"),
        "27: company 2 / project 7 / number: expected text, got the number 7: write it in "
        'quotes ("7")',
    ),
    "a key given twice": (
        EXAMPLE.replace("name: Shop\n", "name: Shop\n        name: Store\n"),
        "29: company 2 / project 7 / name: 'name' is given twice (first on line 28)",
    ),
    "a removed entry with more than its key": (
        EXAMPLE.replace("name: Shop", "name: Shop\n        remove: true"),
        "27: company 2 / project 7: an entry with remove: true holds only its number; drop name",
    ),
    "a permission on a project the file removes": (
        EXAMPLE.replace(
            'name: Riverside Medical Office\n        jobs: ["1001-001"]', "remove: true"
        ),
        "16: company 1 / user jdoe / main_contracts 1001-001: project 1001-001 is removed by "
        "this file",
    ),
    "not YAML": ("companies:\n  - erp_company: 1\n    name: [unclosed\n", None),
    "not a mapping": ("- 1\n- 2\n", "1: expected a mapping with a `companies:` list"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_errors_name_the_file_the_line_and_the_entry(tmp_path, case):
    text, expected = BAD_FILES[case]
    problems = _problems(tmp_path, text)
    if expected is None:
        assert len(problems) == 1 and problems[0].startswith("4: not valid YAML")
    else:
        assert problems == [expected]


LOGIN_RULE = "a login is printable ASCII without spaces (letters, digits and punctuation)"


@pytest.mark.parametrize(
    ("login", "shown", "why"),
    [
        (" admin", "' admin'", "a space at position 1"),
        ("admin ", "'admin '", "a space at position 6"),
        ("j doe", "j doe", "a space at position 2"),
        ("\u0430dmin", "аdmin", "U+0430 (CYRILLIC SMALL LETTER A) at position 1"),
        ("\uff41dmin", "ａdmin", "U+FF41 (FULLWIDTH LATIN SMALL LETTER A) at position 1"),
        ("ad\u200bmin", "'ad\\u200bmin'", "U+200B (ZERO WIDTH SPACE) at position 3"),
        ("ad\u00admin", "'ad\\xadmin'", "U+00AD (SOFT HYPHEN) at position 3"),
        ("ad\tmin", "'ad\\tmin'", "U+0009 (a control character) at position 3"),
    ],
)
def test_a_login_that_a_person_cannot_tell_from_another_is_refused(tmp_path, login, shown, why):
    """Spaces around or inside it, another script's letter, a zero-width or control
    character: a look-alike the sign-in can never match (or worse, matches another)."""
    quoted = login.encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00")
    text = f'companies:\n  - erp_company: 1\n    name: X\n    users:\n      - login: "{quoted}"\n'
    assert _problems(tmp_path, text + "        name: Admin\n        erp_integrations: admin\n") == [
        f"5: company 1 / user {shown} / login: login {login!r} is refused: {why}; {LOGIN_RULE}"
    ]


def test_a_login_with_a_leading_space_is_one_line_on_the_cli(cli_store, tmp_path):
    path = write(tmp_path, EXAMPLE.replace("login: jdoe", 'login: " admin"', 1))
    refused = CliRunner().invoke(app, ["directory", "apply", str(path)])
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        f"error: {path}:14: company 1 / user ' admin' / login: login ' admin' is refused: "
        f"a space at position 1; {LOGIN_RULE}"
    ]
    assert directory_rows(cli_store)["users"] == set()


TYPOS = """\
companies:
  - erp_company: 1
    projects:
      - number: "1001-009"
        remove: true
      - number: "1001-002"
        remove_jobs: ["1001-001", "1001-099"]
    users:
      - login: jdeo
        remove: true
      - login: estimator
        erp_integrations: remove
        main_contracts: {"1001-002": remove, "*": remove}
      - login: jdoe
        erp_integrations: remove
  - erp_company: 9
    remove: true
"""


def test_removing_what_the_store_does_not_hold_is_an_error_naming_it(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    rows = directory_rows(store)
    assert _problems(tmp_path, TYPOS, store) == [
        "4: company 1 / project 1001-009: project 1001-009 is not in company 1: nothing to remove",
        "7: company 1 / project 1001-002 / remove_jobs 1001-001: job 1001-001 is not linked to "
        "project 1001-002; it is linked to project 1001-001: nothing to remove",
        "7: company 1 / project 1001-002 / remove_jobs 1001-099: job 1001-099 is not linked to "
        "project 1001-002: nothing to remove",
        "9: company 1 / user jdeo: user jdeo is not in the store: nothing to remove",
        "13: company 1 / user estimator / main_contracts 1001-002: user estimator holds no "
        "main_contracts permission on project 1001-002 in company 1: nothing to remove",
        "16: company 9: company 9 is not in the store: nothing to remove",
    ]
    assert directory_rows(store) == rows and len(change_log(store)) == 18


def test_a_field_an_entry_leaves_out_stays_as_it_is(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    partial = """\
    companies:
      - erp_company: 1
        integration_configured: false
        projects:
          - number: "1001-002"
            jobs: ["1001-004"]
        users:
          - login: newcomer
            main_contracts: {"*": read_only}
          - login: jdoe
            erp_integrations: standard
      - erp_company: 2
        users:
          - login: newcomer
            name: New Comer
    """
    plan = apply_file(store, write(tmp_path, partial, "partial.yaml"))
    assert plan.lines() == [
        "changed  company 1 / erp integration: configured true -> false",
        "added    company 1 / job 1001-004: project 1001-002",
        "added    user newcomer: name New Comer",
        "added    company 1 / user newcomer / main_contracts *: level read_only",
        "changed  company 1 / user jdoe / erp_integrations: level admin -> standard",
    ]
    rows = directory_rows(store)
    assert {(1, "Example Builders"), (2, "Bayside Constructors")} == rows["companies"]
    assert (1, "viewpoint_vista", False) in rows["erp_integrations"]
    assert ("jdoe", "Jane Doe") in rows["users"]


def test_a_new_entry_needs_its_name_and_a_new_integration_both_fields(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    text = """\
    companies:
      - erp_company: 3
        erp: cmic
        projects:
          - number: "3001"
        users:
          - login: jdoe
          - login: someone
    """
    assert _problems(tmp_path, text, store) == [
        "2: company 3: name is required: company 3 is not in the store yet",
        "2: company 3: company 3 has no ERP integration in the store yet: give erp and "
        "integration_configured both",
        "5: company 3 / project 3001: name is required: company 3 / project 3001 is not in "
        "the store yet",
        "8: company 3 / user someone: name is required: user someone is not in the store yet",
    ]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    text = (
        EXAMPLE.replace("erp: viewpoint_vista", "erp: sap")
        .replace('"1001-001": admin', '"1001-001": boss')
        .replace("admin}", "boss}")
    )
    assert [p.split(":")[0] for p in _problems(tmp_path, text)] == ["4", "17", "21"]


def test_a_permission_on_an_unknown_project_is_refused_against_the_store(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    text = """\
    companies:
      - erp_company: 1
        name: Example Builders
        users:
          - login: jdoe
            name: Jane Doe
            main_contracts: {"1001-002": admin, "1001-009": admin}
    """
    assert _problems(tmp_path, text, store) == [
        "7: company 1 / user jdoe / main_contracts 1001-009: unknown project '1001-009': "
        "company 1 has no such project in this file or the store (use '*' for every project)"
    ]


def test_the_change_log_records_who_what_before_and_after_and_is_append_only(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE), actor="alice")
    edited = EXAMPLE.replace('{"1001-001": admin, "*": standard}', '{"1001-001": read_only}')
    apply_file(store, write(tmp_path, edited, "edited.yaml"), actor="bob")
    log = change_log(store)
    assert len(log) == 19 and len({r.change_set for r in log}) == 2
    last = log[-1]
    assert (last.actor, last.source, last.erp_company, last.kind, last.action) == (
        "bob",
        str(tmp_path / "edited.yaml"),
        1,
        "permission",
        "changed",
    )
    assert last.entry == "company 1 / user jdoe / main_contracts 1001-001"
    assert (last.before, last.after, last.security_event) == (
        {"level": "admin"},
        {"level": "read_only"},
        True,
    )
    first = log[0]
    assert (first.actor, first.entry, first.action, first.before, first.after) == (
        "alice",
        "company 1",
        "added",
        None,
        {"name": "Example Builders"},
    )
    assert {r.kind for r in log if r.security_event} == {"permission"}
    assert all(r.recorded_at is not None for r in log)
    for statement in (
        "UPDATE directory_changes SET actor = 'mallory'",
        "DELETE FROM directory_changes",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.begin() as c:
            c.execute(sa.text(statement))
    assert change_log(store) == log


def test_star_covers_every_project_including_those_added_later(store, tmp_path):
    apply_file(store, write(tmp_path, EXAMPLE))
    later = EXAMPLE.replace(
        '      - number: "1001-002"',
        '      - number: "1001-100"\n        name: Later\n' + '      - number: "1001-002"',
    )
    apply_file(store, write(tmp_path, later, "later.yaml"))
    with store.connect() as c:
        ids = dict(c.execute(sa.select(s.projects.c.number, s.projects.c.id)).all())
    jdoe = load_state(store, 1, "jdoe").main_contracts_levels
    assert dict(zip(jdoe["project_id"], jdoe["level"], strict=True)) == {
        ids["1001-001"]: "admin",  # its own entry wins over "*"
        ids["1001-002"]: "standard",
        ids["1001-100"]: "standard",  # added after the "*" permission
    }
    estimator = load_state(store, 1, "estimator").main_contracts_levels
    assert len(estimator) == 3 and set(estimator["level"]) == {"admin"}
    assert load_state(store, 2, "jdoe").main_contracts_levels.empty  # no "*" there: none


@pytest.fixture
def cli_store(store, monkeypatch):
    monkeypatch.setenv("CONTRACT_SYNC_STORE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield store
    get_settings.cache_clear()


def test_cli_apply_check_export(cli_store, tmp_path):
    runner = CliRunner()
    path = write(tmp_path, EXAMPLE)
    checked = runner.invoke(app, ["directory", "apply", str(path), "--check"])
    assert checked.exit_code == 0, checked.output
    assert (
        "nothing written" in checked.output and "18 added, 0 changed, 0 removed" in checked.output
    )
    assert change_log(cli_store) == []

    applied = runner.invoke(app, ["directory", "apply", str(path), "--by", "carol"])
    assert applied.exit_code == 0, applied.output
    assert f"applied {path} as carol" in applied.output
    assert "added    company 1 / user jdoe / main_contracts *: level standard" in applied.output
    assert {r.actor for r in change_log(cli_store)} == {"carol"}

    exported = tmp_path / "exported.yaml"
    written = runner.invoke(app, ["directory", "export", "--output", str(exported)])
    assert written.exit_code == 0, written.output
    again = runner.invoke(app, ["directory", "apply", str(exported)])
    assert again.exit_code == 0 and again.output.strip().endswith("no change")
    shown = runner.invoke(app, ["directory", "export"])
    assert shown.exit_code == 0 and shown.output == exported.read_text(encoding="utf-8")


def test_cli_errors_are_one_line_per_problem(cli_store, tmp_path):
    path = write(tmp_path, EXAMPLE.replace("erp_integrations: admin", "erp_integrations: [x]"))
    result = CliRunner().invoke(app, ["directory", "apply", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {path}:16: company 1 / user jdoe / erp_integrations:")
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["directory", "apply", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1 and "none.yaml: no such file" in missing.output


def test_a_users_email_is_set_changed_kept_when_left_out_and_exported(store, tmp_path):
    address = "        email: jane.doe@example.com\n"
    with_email = EXAMPLE.replace(
        "        name: Jane Doe\n        erp_integrations: admin",
        f"        name: Jane Doe\n{address}        erp_integrations: admin",
    )
    apply_file(store, write(tmp_path, with_email), "test")
    emails = {r.login: r.email for r in _users(store)}
    assert emails == {"jdoe": "jane.doe@example.com", "estimator": None}
    assert "email: jane.doe@example.com" in export_text(store)
    apply_file(store, write(tmp_path, EXAMPLE), "test")  # left out: kept
    assert {r.login: r.email for r in _users(store)}["jdoe"] == "jane.doe@example.com"
    changed = with_email.replace("jane.doe@example.com", "jdoe@example.org")
    plan = apply_file(store, write(tmp_path, changed), "test")
    assert [(c.kind, c.action, c.before, c.after) for c in plan.changes] == [
        ("email", "changed", {"email": "jane.doe@example.com"}, {"email": "jdoe@example.org"})
    ]
    assert apply_file(store, write(tmp_path, export_text(store)), "test").changes == []


def test_an_address_that_is_none_is_refused_with_its_line(tmp_path):
    text = EXAMPLE.replace(
        "        name: Jane Doe\n        erp_integrations: admin",
        "        name: Jane Doe\n        email: jane doe@example\n        erp_integrations: admin",
    )
    assert _problems(tmp_path, text) == [
        "16: company 1 / user jdoe / email: 'jane doe@example' is not an email address "
        "(name@example.com)"
    ]


def _users(store: sa.Engine) -> list:
    with store.connect() as connection:
        return connection.execute(sa.select(s.users.c.login, s.users.c.email)).all()
