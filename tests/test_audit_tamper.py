"""An audit log an auditor can trust: the databases refuse what they can, and `audit verify`
names every other tampering, on both backends: as a hostile database user would do it
(a connection of their own, foreign keys off on SQLite, guards dropped where they must be).
Verifying writes nothing, whatever it finds."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.demo.edit import edit_erp
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync.store.append_only import Guard, definition_sql
from contract_sync.store.writes import mark_abandoned
from contract_sync_faces.cli import app
from tests.conftest import Sides, copied_sides, seeded_sides, settings_for


@pytest.fixture(scope="module")
def one_sync(backend, tmp_path_factory) -> Iterator[Sides]:
    """Seeded databases after one sync, built once per backend: each test gets copies."""
    folder = tmp_path_factory.mktemp("one-sync")
    with seeded_sides(backend, folder) as sides:
        edit_erp(sides.erp, 1, 0.5, seed=31)
        settings = Settings(
            erp_url=sides.erp_url, store_url=sides.store_url, data_docs=False, data_dir=folder
        )
        reimport(settings, Request(company=1, actor="admin"))
        yield sides


@pytest.fixture
def logged(database_url, one_sync, tmp_path) -> Iterator[Sides]:
    """A store with one sync's audit log: runs, contract rows and field changes."""
    with copied_sides(database_url, one_sync) as sides, settings_for(sides, tmp_path / "reports"):
        yield sides


@pytest.fixture
def hostile(logged) -> Iterator[Callable[[str], None]]:
    """Runs SQL as a database user with their own connection, autocommitted."""
    engine = sa.create_engine(logged.store_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield lambda sql: connection.exec_driver_sql(sql)
    engine.dispose()


def _verify(*args: str):
    return CliRunner().invoke(app, ["audit", "verify", *args])


def _first(store: sa.Engine, query: str) -> object:
    with store.connect() as connection:
        return connection.exec_driver_sql(query).scalar()


def _drop_guard(hostile, store: sa.Engine, table: str, action: str) -> None:
    on = f" ON {table}" if store.dialect.name == "postgresql" else ""
    hostile(f"DROP TRIGGER {table}_no_{action}{on}")


def _restore_guard(hostile, store: sa.Engine, table: str, action: str) -> None:
    """The guard made again as the migrations make it: someone covering their tracks."""
    hostile(definition_sql(Guard(table, action), store.dialect.name))


def _caught(pattern: str) -> None:
    done = _verify()
    assert done.exit_code == 1, done.output
    assert re.search(pattern, done.output), done.output


def test_an_untouched_log_is_intact_and_its_head_can_be_kept(logged):
    done = _verify()
    assert done.exit_code == 0, done.output
    assert "audit log intact" in done.output
    head = _verify("--head").output.strip()
    assert re.fullmatch(r"\d+:[0-9a-f]{64}", head)
    held = _verify("--against", head)
    assert held.exit_code == 0 and "holds the head you kept" in held.output
    assert "SEQ:DIGEST" in _verify("--against", "nonsense").output


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_contracts SET outcome = 'reimported'",
        "DELETE FROM audit_changes",
        "UPDATE sync_runs SET actor = 'someone-else'",
        "DELETE FROM sync_runs",
        "UPDATE run_ends SET status = 'completed'",
        "UPDATE audit_chain SET digest = 'x'",
        "DELETE FROM audit_chain",
    ],
)
def test_the_database_refuses_to_change_the_log(logged, hostile, statement):
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        hostile(statement)
    assert _verify().exit_code == 0


def test_replace_and_truncate_are_refused(logged, hostile):
    store = logged.store
    if store.dialect.name == "sqlite":
        statements = ["REPLACE INTO sync_runs SELECT * FROM sync_runs"]
        statements += [
            f"REPLACE INTO {t} SELECT * FROM {t}" for t in ("audit_contracts", "audit_chain")
        ]
    else:
        statements = ["TRUNCATE audit_changes", "TRUNCATE audit_contracts CASCADE"]
        statements += ["TRUNCATE sync_runs CASCADE", "TRUNCATE audit_chain"]
    for statement in statements:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            hostile(statement)
    assert _verify().exit_code == 0


def test_a_rewritten_row_is_caught(logged, hostile):
    """REPLACE on SQLite (its guard dropped), UPDATE with the triggers dropped on both."""
    store = logged.store
    row = _first(store, "SELECT max(id) FROM audit_contracts")
    if store.dialect.name == "sqlite":
        _drop_guard(hostile, store, "audit_contracts", "replace")
        columns = [c.name for c in s.audit_contracts.columns]
        values = ", ".join("'blocked'" if c == "outcome" else c for c in columns)
        hostile(
            f"REPLACE INTO audit_contracts SELECT {values} FROM audit_contracts WHERE id = {row}"
        )
    else:
        _drop_guard(hostile, store, "audit_contracts", "update")
        hostile(f"UPDATE audit_contracts SET outcome = 'blocked' WHERE id = {row}")
    _caught(rf"record audit_contracts {row} \(chain entry \d+\) was altered")


def test_a_run_given_another_actor_is_caught(logged, hostile):
    _drop_guard(hostile, logged.store, "sync_runs", "update")
    hostile("UPDATE sync_runs SET actor = 'someone-else'")
    _caught(r"record sync_runs [0-9a-f-]{36} \(chain entry \d+\) was altered")


def test_a_truncated_or_deleted_table_is_caught(logged, hostile):
    store = logged.store
    if store.dialect.name == "postgresql":
        _drop_guard(hostile, store, "audit_changes", "truncate")
        hostile("TRUNCATE audit_changes")
    else:
        _drop_guard(hostile, store, "audit_changes", "delete")
        hostile("DELETE FROM audit_changes")
    _caught(r"record audit_changes \d+ \(chain entry \d+\) is missing: deleted")


def test_a_deleted_run_with_its_rows_is_caught(logged, hostile):
    store = logged.store
    for table in ("audit_changes", "audit_contracts", "run_ends", "undo_images", "sync_runs"):
        _drop_guard(hostile, store, table, "delete")
    if store.dialect.name == "postgresql":  # foreign keys hold there: the rows go first
        hostile("DELETE FROM undo_images")
        hostile("DELETE FROM audit_changes")
        hostile("DELETE FROM audit_contracts")
        hostile("DELETE FROM run_ends")
    hostile("DELETE FROM sync_runs")  # SQLite: foreign keys off, the rows stay orphaned
    _caught(r"record sync_runs [0-9a-f-]{36} \(chain entry \d+\) is missing: deleted")


def _forge(logged, hostile, recorded_at: str) -> int:
    """A contract row for the sync's run, inserted by hand; returns its id."""
    run_id = _first(logged.store, "SELECT id FROM sync_runs")
    hostile(
        "INSERT INTO audit_contracts (run_id, erp_company, contract_no, outcome, reasons, "
        "items_added, items_changed, items_removed, items_unchanged, header_changes, recorded_at) "
        f"VALUES ('{run_id}', 1, '99999-', 'reimported', '', 0, 0, 0, 0, 0, {recorded_at})"
    )
    return _first(logged.store, "SELECT max(id) FROM audit_contracts")


def test_a_backdated_insert_is_caught_chained_or_not(logged, hostile):
    forged = _forge(logged, hostile, "'2020-01-01 00:00:00'")
    _caught(rf"record audit_contracts {forged} is in no chain entry: inserted outside")
    # Chained by someone who knows how: its date gives it away.
    with logged.store.begin() as connection:
        chain.append(connection, "audit_contracts", [forged])
    _caught(rf"record audit_contracts {forged} \(chain entry \d+\) is dated 2020-01-01.*backdated")


def test_a_rewritten_or_shortened_chain_is_caught_against_a_kept_head(logged, hostile):
    store = logged.store
    kept = _verify("--head").output.strip()
    row = _first(store, "SELECT max(id) FROM audit_contracts")
    for table, action in [("audit_contracts", "update"), ("audit_chain", "delete")]:
        _drop_guard(hostile, store, table, action)
    hostile(f"UPDATE audit_contracts SET outcome = 'blocked' WHERE id = {row}")
    hostile("DELETE FROM audit_chain")
    with store.begin() as connection:  # the whole chain computed again over the new content
        chain.rebuild(connection)
    for table, action in [("audit_contracts", "update"), ("audit_chain", "delete")]:
        _restore_guard(hostile, store, table, action)
    assert _verify().exit_code == 0  # consistent in itself ...
    done = _verify("--against", kept)  # ... but not with the head kept elsewhere
    assert done.exit_code == 1 and "it was rewritten" in done.output

    seq = int(kept.split(":")[0])
    _drop_guard(hostile, store, "audit_chain", "delete")
    hostile(f"DELETE FROM audit_chain WHERE seq >= {seq - 1}")
    shortened = _verify("--against", kept)
    assert shortened.exit_code == 1 and "cut short" in shortened.output


def test_a_record_appended_to_an_ended_run_is_caught(logged, hostile):
    """Chained by someone who knows how, dated now: it still cannot belong to a run that
    had ended before it."""
    forged = _forge(logged, hostile, "CURRENT_TIMESTAMP")
    with logged.store.begin() as connection:
        chain.append(connection, "audit_contracts", [forged])
    _caught(rf"record audit_contracts {forged} \(chain entry \d+\) was recorded after its run")


def test_verify_on_a_read_only_copy_marks_nothing_and_verifies(logged, tmp_path, monkeypatch):
    """An auditor's copy of a SQLite store, without the runs' lock files: no run is taken
    for dead, nothing is written, and the log verifies."""
    if logged.store.dialect.name != "sqlite":
        pytest.skip("a file copy is SQLite's case")
    import sqlite3

    copy = tmp_path / "copy.sqlite"
    with sqlite3.connect(logged.store.url.database) as live, sqlite3.connect(copy) as target:
        live.backup(target)  # what a backup holds, the write-ahead log included
    with sa.create_engine(f"sqlite:///{copy}").begin() as connection:  # a run left unfinished
        connection.exec_driver_sql("DROP TRIGGER run_ends_no_delete")
        connection.exec_driver_sql("DELETE FROM run_ends")
    before = copy.read_bytes()
    monkeypatch.setenv("CONTRACT_SYNC_STORE_URL", f"sqlite:///{copy}")
    from contract_sync.settings import get_settings

    get_settings.cache_clear()
    done = _verify()
    assert "marked abandoned" not in done.output
    assert "run_ends" in done.output and "missing" in done.output  # the deleted end is seen
    assert copy.read_bytes() == before


def _dump(store: sa.Engine) -> str:
    """The whole database as text: every table's rows, the schema and its triggers (on
    PostgreSQL with whether each is enabled, and the functions' source)."""
    if store.dialect.name == "sqlite":
        import sqlite3

        with sqlite3.connect(store.url.database) as connection:
            return "\n".join(connection.iterdump())
    tables = sa.MetaData()
    tables.reflect(store)
    catalog = [
        "SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1, 2",
        "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
        "ORDER BY 1",
    ]
    with store.connect() as connection:
        rows = [
            f"{name}: {sorted(map(repr, connection.execute(sa.select(table))))}"
            for name, table in sorted(tables.tables.items())
        ]
        return "\n".join(rows + [repr(connection.exec_driver_sql(q).all()) for q in catalog])


def _no_end(store: sa.Engine, run_id: str) -> str:
    """What verify says of a run with no end, found on this backend (the lock of a run that
    finished is gone with it on SQLite: nothing shows whether it runs)."""
    if store.dialect.name == "postgresql":
        return (
            f"run {run_id} has no end, and its process is gone (`contract-sync audit "
            "mark-abandoned` records it abandoned)"
        )
    return (
        f"run {run_id} has no end, and no lock shows whether its process runs (killed, or "
        "this is a copy of the database without its runs' lock files)"
    )


def _forge_run(hostile) -> str:
    """A run's start inserted by hand, with no end."""
    hostile(
        "INSERT INTO sync_runs (id, trigger, actor, parameters, dry_run, started_at) "
        "VALUES ('forged-run', 'cli', 'admin', '{}', false, CURRENT_TIMESTAMP)"
    )
    return "forged-run"


def test_verify_writes_nothing_whatever_it_finds(logged, hostile):
    """A run forged without an end and a run whose end was deleted: both named, neither
    given an end; the database is the same, byte for byte, before and after."""
    store = logged.store
    run = _first(store, "SELECT id FROM sync_runs")
    entry = _first(store, "SELECT seq FROM audit_chain WHERE record_table = 'run_ends'")
    _drop_guard(hostile, store, "run_ends", "delete")
    hostile("DELETE FROM run_ends")
    forged = _forge_run(hostile)
    before = _dump(store)
    done = _verify()
    assert (done.exit_code, done.output.splitlines()) == (
        1,
        [
            f"error: the audit log is not intact: record run_ends {run} (chain entry {entry}) "
            "is missing: deleted; the append-only guard run_ends_no_delete is missing "
            f"(dropped); {_no_end(store, run)}; {_no_end(store, forged)}"
        ],
    )
    assert _dump(store) == before


def test_a_forged_run_is_never_given_an_end(logged, hostile):
    """Neither `audit mark-abandoned` (refused on a log not intact) nor a run's start (it
    ends only runs whose start is chained) chains an end to a run inserted by hand."""
    forged = _forge_run(hostile)
    _caught(r"record sync_runs forged-run is in no chain entry: inserted outside contract-sync")
    refused = CliRunner().invoke(app, ["audit", "mark-abandoned"])
    assert (refused.exit_code, refused.output.splitlines()) == (
        1,
        [
            "error: the audit log is not intact: record sync_runs forged-run is in no chain "
            "entry: inserted outside contract-sync; nothing marked abandoned (`contract-sync "
            "audit verify` says the same)"
        ],
    )
    assert mark_abandoned(logged.store) == []  # what every run's start does
    assert _first(logged.store, f"SELECT count(*) FROM run_ends WHERE run_id = '{forged}'") == 0


def test_a_deleted_run_end_with_its_chain_entry_is_a_finding_not_made_again(logged, hostile):
    """The end and its chain entry (the last) deleted, the guards put back: the chain is
    consistent, but the run has no end; verify says so and writes none (only a kept head
    shows the entry gone)."""
    store = logged.store
    run = _first(store, "SELECT id FROM sync_runs")
    kept = _verify("--head").output.strip()
    for table in ("run_ends", "audit_chain"):
        _drop_guard(hostile, store, table, "delete")
    hostile("DELETE FROM run_ends")
    hostile("DELETE FROM audit_chain WHERE seq = (SELECT max(seq) FROM audit_chain)")
    for table in ("run_ends", "audit_chain"):
        _restore_guard(hostile, store, table, "delete")
    done = _verify()
    assert (done.exit_code, done.output.splitlines()) == (
        1,
        [f"error: the audit log is not intact: {_no_end(store, run)}"],
    )
    assert _first(store, "SELECT count(*) FROM run_ends") == 0
    assert "cut short" in _verify("--against", kept).output


def test_guards_missing_disabled_or_altered_are_findings(logged, hostile):
    """No data changed: on SQLite guards deleted from the schema through writable_schema
    and one made again to fire never; on PostgreSQL one dropped, one disabled, and the
    function they call made to let everything through."""
    store = logged.store
    if store.dialect.name == "sqlite":
        hostile("PRAGMA writable_schema = ON")
        hostile(
            "DELETE FROM sqlite_master WHERE type = 'trigger' "
            "AND name IN ('audit_contracts_no_update', 'audit_chain_no_delete')"
        )
        hostile("PRAGMA writable_schema = OFF")
        hostile("DROP TRIGGER run_ends_no_update")
        hostile(
            "CREATE TRIGGER run_ends_no_update BEFORE UPDATE ON run_ends WHEN 0 BEGIN "
            "SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE on run_ends refused'); END"
        )
        found = (
            "the append-only guards audit_contracts_no_update, audit_chain_no_delete are "
            "missing (dropped); the append-only guard run_ends_no_update was altered: it no "
            "longer refuses what it should"
        )
    else:
        _drop_guard(hostile, store, "audit_contracts", "update")
        hostile("ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_no_delete")
        hostile(
            "CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"
        )
        found = (
            "the append-only guard audit_contracts_no_update is missing (dropped); the "
            "append-only guard audit_chain_no_delete is disabled; the function "
            "refuse_audit_change() that every guard calls was altered: it no longer refuses"
        )
    before = _dump(store)
    done = _verify()
    assert (done.exit_code, done.output.splitlines()) == (
        1,
        [f"error: the audit log is not intact: {found}"],
    )
    assert _dump(store) == before
