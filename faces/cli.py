"""The `contract-sync` command: a thin face over the store, the demo data and the flows.

Heavy imports (Prefect, Great Expectations) happen inside the commands that need them,
so `contract-sync --help` stays fast.
"""

from __future__ import annotations

import atexit
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from contract_sync.settings import get_settings
from contract_sync.vocabulary import UNCHANGED_REASONS, ConflictPolicy

app = typer.Typer(
    help="Keep ERP main contracts in step with the project store.", no_args_is_help=True
)
db_app = typer.Typer(help="The project store's schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Generated demo data for both sides.", no_args_is_help=True)
audit_app = typer.Typer(help="The re-import audit log: reports and history.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(audit_app, name="audit")
directory_app = typer.Typer(
    help="The company directory (companies, projects, jobs, users, permissions) as a file.",
    no_args_is_help=True,
)
app.add_typer(directory_app, name="directory")
users_app = typer.Typer(help="Store users' sign-in to the web pages.", no_args_is_help=True)
app.add_typer(users_app, name="users")
POLICY_HELP = "A field changed in both the ERP and the store: erp_wins writes it, block stops."
console = Console()
WIDE_HELP = (
    "More columns (title, header changes, amount before, run); those that do not fit move below."
)
FORMAT_HELP = "table for a person; csv or json (amounts as exact decimals) for a program."
Wide = Annotated[bool, typer.Option("--wide", help=WIDE_HELP)]
Format = Annotated[str, typer.Option("--format", help=FORMAT_HELP)]


@app.callback()
def _fit_console() -> None:
    # The terminal's width; COLUMNS when output goes to a file or a pipe (160 if unset).
    import os

    columns = os.environ.get("COLUMNS", "")
    console.width = int(columns) if columns.isdigit() else (None if sys.stdout.isatty() else 160)


def _check_format(output_format: str) -> None:
    from contract_sync_faces.terminal import FORMATS

    if output_format not in FORMATS:
        _fail(f"unknown format {output_format!r}: {', '.join(FORMATS)}")


def _fail(message: str) -> None:
    _say_error(message)
    raise typer.Exit(1)


def _say_error(message: str) -> None:
    """The one line of a failure: `error: ` and the message as it is (no markup)."""
    from rich.text import Text

    console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)


def _engines():
    from contract_sync.store.db import make_engine

    settings = get_settings()
    return make_engine(settings.erp_database_url), make_engine(settings.store_database_url)


@app.command("deploy-env")
def deploy_env() -> None:
    """Shell exports of the settings prefect.yaml reads when deploying (schedules)."""
    import shlex

    settings = get_settings()
    for name, value in (
        ("CONTRACT_SYNC_SYNC_CRON", settings.sync_cron),
        ("CONTRACT_SYNC_SYNC_TIMEZONE", settings.sync_timezone),
        ("CONTRACT_SYNC_REPORT_CRON", settings.report_cron),
        ("CONTRACT_SYNC_DIGEST_CRON", settings.digest_cron),
    ):
        print(f"export {name}={shlex.quote(value)}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations up to the newest."""
    from contract_sync.store.db import check_reachable, current_revision, make_engine, upgrade

    store = _or_fail(lambda: make_engine(get_settings().store_database_url))
    _or_fail(lambda: check_reachable(store, "project store"))
    before = current_revision(store)
    upgrade(store)
    console.print(f"store schema: {before or 'empty'} -> {current_revision(store)}")


@demo_app.command("seed")
def demo_seed(
    companies: Annotated[int, typer.Option(min=1, help="Companies; 2 is on QuickBooks.")] = 2,
    contracts: Annotated[int, typer.Option(min=1, help="Contracts per company.")] = 16,
    items_per_contract: Annotated[int, typer.Option(min=2, help="Items per contract.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 7,
    skip_existing: Annotated[
        bool, typer.Option(help="Leave data already seeded as it is, and say so.")
    ] = False,
) -> None:
    """Generate an ERP (Vista) database and the store it was imported into."""
    from contract_sync.demo.generator import MIN_CONTRACTS
    from contract_sync.demo.seed import AlreadySeeded
    from contract_sync.demo.seed import seed as seed_data
    from contract_sync.store.db import make_engine, open_store

    if contracts < MIN_CONTRACTS:  # before anything is opened or written
        _fail(f"company 1 needs at least {MIN_CONTRACTS} contracts for its edge cases")
    settings = get_settings()
    store = _or_fail(lambda: open_store(settings))  # upgraded first: a refusal creates no file
    erp = make_engine(settings.erp_database_url)
    try:
        summary = seed_data(erp, store, companies, contracts, items_per_contract, seed)
    except AlreadySeeded as error:
        if not skip_existing:
            _fail(f"{error}; remove the data folder to start over")
        console.print(f"already seeded, keeping the data there ({error})")
        return
    console.print(
        f"seeded {summary.companies} companies: {summary.contracts} ERP contracts with "
        f"{summary.items} items; {summary.store_contracts} contracts in the store"
    )


@demo_app.command("edit-erp")
def demo_edit_erp(
    fraction: Annotated[float, typer.Option(min=0, max=1, help="Share of contracts to edit.")],
    company: Annotated[int, typer.Option(help="ERP company number.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Change some contracts in the ERP: items added, removed, changed; headers changed."""
    from contract_sync.demo.edit import edit_erp

    erp = _demo_erp()
    summary = edit_erp(erp, company, fraction, seed)
    console.print(
        f"edited {len(summary.contracts)} contracts of company {company}: "
        f"{summary.items_changed} items changed, {summary.items_added} added, "
        f"{summary.items_removed} removed, {summary.headers_changed} titles changed"
    )


@demo_app.command("export-files")
def demo_export_files(
    to: Annotated[Path, typer.Option(help="Folder to write the export and mapping.yaml to.")],
    company: Annotated[int, typer.Option(help="ERP company number.")] = 1,
    file_format: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
    encoding: Annotated[str, typer.Option(help="utf-8 or cp1252 (CSV).")] = "utf-8",
) -> None:
    """Export the demo ERP's contracts as files, for the `files` connector."""
    from contract_sync.demo.export import write_files
    from contract_sync.erp.vista import read_vista
    from contract_sync.output_files import make_folder

    erp = _demo_erp()
    _or_fail(lambda: make_folder(to))
    folder = write_files(read_vista(erp, company), to, file_format, encoding)
    console.print(
        f"wrote {folder} (set CONTRACT_SYNC_ERP_CONNECTOR=files "
        f"CONTRACT_SYNC_ERP_FILES_DIR={folder} to sync from it)"
    )


def _demo_erp():  # noqa: ANN202 - an Engine
    """The demo's ERP database, which `demo seed` makes: refused, not created, when it is
    not there or holds no demo data."""
    import sqlalchemy as sa

    from contract_sync.store.db import make_engine

    url = get_settings().erp_database_url
    database = sa.engine.make_url(url).database if url.startswith("sqlite") else None
    if database and not Path(database).is_file():
        _fail(f"no ERP database at {database}: `contract-sync demo seed` makes the demo's")
    erp = _or_fail(lambda: make_engine(url))
    if not sa.inspect(erp).has_table("JCCM"):
        _fail(f"the ERP database at {erp.url} holds no demo data: run `contract-sync demo seed`")
    return erp


@directory_app.command("apply")
def directory_apply(
    file: Annotated[Path, typer.Argument(help="The directory file (YAML).")],
    check: Annotated[
        bool, typer.Option("--check", help="Print what would change; write nothing.")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who applies it, for the change log; the OS user.")
    ] = None,
) -> None:
    """Create and update companies, ERP integrations, projects, synced jobs, users and
    permissions as FILE says: all of it in one transaction, or nothing."""
    from contract_sync.directory import apply_file, default_actor

    actor = by or default_actor()
    plan = _with_store(lambda store: apply_file(store, file, actor, check=check))
    console.print(
        f"plan for {file} (--check: nothing written):" if check else f"applied {file} as {actor}:",
        markup=False,
    )
    from contract_sync.vocabulary import DirectoryAction

    colours = {
        DirectoryAction.added: "green",
        DirectoryAction.changed: "yellow",
        DirectoryAction.removed: "red",
    }
    for change in plan.changes:
        console.print(f"  [{colours[change.action]}]{escape(change.describe())}[/]")
    logged = "" if check or not plan.changes else " (recorded in the table directory_changes)"
    console.print(f"{plan.summary}{logged}", markup=False)


@directory_app.command("export")
def directory_export(
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """The store's directory in the file format of `directory apply`."""
    from contract_sync.directory import export_text

    text = _with_store(export_text)
    if output is None:
        sys.stdout.write(text)
    else:
        _write_file(output, text)


@users_app.command("set-password")
def users_set_password(
    login: Annotated[str, typer.Argument(help="The store user's login.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who sets it, for the audit log; the OS user.")
    ] = None,
) -> None:
    """Set the password LOGIN signs in to the web pages with (argon2id hash; their open
    sessions end). Asked twice, hidden, unless --password-stdin."""
    from contract_sync.directory import default_actor
    from contract_sync_faces.web.auth import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    actor = by or default_actor()
    _with_store(lambda store: set_password(store, login, password, actor))
    console.print(f"password set for {login} (recorded in the table web_events)", markup=False)


@app.command("web")
def web(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """The web pages: sign in as a store user, the ERP main contracts ready to be imported
    with their Re-Import and Import buttons, and the audit. Runs start on the Prefect server
    of PREFECT_API_URL (`make serve` starts both)."""
    import uvicorn

    from contract_sync_faces.web.app import create_app
    from contract_sync_faces.web.prefect_api import PrefectRuns

    settings = get_settings()
    host, port = host or settings.web_host, port or settings.web_port
    listening = _listening_socket(host, port)  # before the pages start: a refusal is one line
    # A person waits on the page: Prefect's client asks a busy server again twice (then
    # says so after about 14 s), not five times (about two minutes), unless this is set.
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "2")
    with listening:
        application = _or_fail(lambda: create_app(settings, PrefectRuns.from_environment()))
        server = uvicorn.Server(
            uvicorn.Config(
                application,
                proxy_headers=False,  # the client address is the peer's: a header cannot forge it
                log_level="info",
            )
        )
        shown = f"[{host}]" if ":" in host else host
        console.print(f"web pages on http://{shown}:{port} (Ctrl+C stops them)", markup=False)
        server.run(sockets=[listening])


def _listening_socket(host: str, port: int):  # noqa: ANN202 - a bound socket.socket
    """A socket bound to host:port as uvicorn binds one; a port out of range, in use or not
    allowed is a one-line error."""
    import socket

    if not 1 <= port <= 65535:
        _fail(f"port {port} is not a TCP port: give --port (or CONTRACT_SYNC_WEB_PORT) 1 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        reason = error.strerror or str(error)
        _fail(f"cannot listen on {host}:{port}: {reason} (give another --port or --host)")
    return listening


def _with_store(action):  # noqa: ANN001, ANN202 - the action's own result
    """Run an action on the store; a failure the user can act on is shown as is."""
    from contract_sync.errors import UserError
    from contract_sync.store.db import open_store

    try:
        store = open_store(get_settings())
    except UserError as error:
        _fail(str(error))
    try:
        return action(store)
    except UserError as error:
        _fail(str(error))
    finally:
        store.dispose()


@app.command("sync")
def sync(
    company: Annotated[
        list[int] | None, typer.Option(help="ERP company number (repeat for several).")
    ] = None,
    acting_user: Annotated[
        str | None, typer.Option("--as", help="Store user to act as; the service user if unset.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Record would_reimport, write nothing.")] = False,
    policy: Annotated[ConflictPolicy, typer.Option(help=POLICY_HELP)] = ConflictPolicy.erp_wins,
    full_refresh: Annotated[
        bool, typer.Option(help="Compare every contract, not only those changed in the ERP.")
    ] = False,
    wide: Wide = False,
    output_format: Format = "table",
) -> None:
    """Re-import every contract of the company that the gates let through."""
    from contract_sync.resolve import resolve

    _check_format(output_format)
    settings = get_settings()
    requests = [
        resolve(
            settings,
            company=number,
            actor=acting_user,
            dry_run=dry_run,
            policy=policy,
            full_refresh=full_refresh,
        )
        for number in company or [None]
    ]
    results = [_or_fail(lambda r=request: _run("reimport", settings, r)) for request in requests]
    _print_outcomes(results, wide, output_format, named=acting_user is not None)


@app.command("reimport")
def reimport(
    contracts: Annotated[list[str], typer.Argument(help="ERP contract numbers.")],
    acting_user: Annotated[str, typer.Option("--as", help="Store user to act as.")],
    company: Annotated[int | None, typer.Option(help="ERP company number.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Record would_reimport, write nothing.")] = False,
    policy: Annotated[ConflictPolicy, typer.Option(help=POLICY_HELP)] = ConflictPolicy.erp_wins,
    wide: Wide = False,
    output_format: Format = "table",
) -> None:
    """Re-import these contracts (every one compared, changed in the ERP or not)."""
    from contract_sync.resolve import resolve

    _check_format(output_format)
    settings = get_settings()
    request = resolve(
        settings,
        company=company,
        actor=acting_user,
        contracts=contracts,
        dry_run=dry_run,
        policy=policy,
        full_refresh=True,
    )
    result = _or_fail(lambda: _run("reimport", settings, request))
    _say_resolved(contracts, result.scan.contracts, output_format)
    _print_outcomes([result], wide, output_format, named=True)


@app.command("undo")
def undo(
    run_id: Annotated[str, typer.Argument(help="The run to undo (its id in the audit log).")],
    acting_user: Annotated[str, typer.Option("--as", help="Store user to act as.")],
    contract: Annotated[
        list[str] | None, typer.Option(help="Only this ERP contract (repeat for several).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Show what the undo would do; record and write nothing.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(help="Put back also the values someone changed since the run (erp_wins)."),
    ] = False,
    wide: Wide = False,
) -> None:
    """Put the contracts a run wrote back as they were before it (a run of its own)."""
    from contract_sync.stages.undo import changed_since_lines
    from contract_sync.undo import undo as undo_run
    from contract_sync.vocabulary import Outcome, label
    from contract_sync_faces.terminal import outcome_view

    settings = get_settings()
    result = _or_fail(
        lambda: undo_run(
            settings, run_id, acting_user, contract, dry_run=dry_run, overwrite=overwrite
        )
    )
    audit = result.audit
    if dry_run:
        audit = audit.assign(outcome=audit["outcome"].replace(Outcome.undone, "would undo"))
    title = f"Undo of run {run_id}" + (" (dry run: nothing written)" if dry_run else "")
    _print_views([outcome_view(audit, wide, title=title)])
    lines = changed_since_lines(result.changed_since)
    if lines:
        console.print("changed since the run:", markup=False)
        for line in lines:
            console.print(f"  {line}", markup=False, soft_wrap=True)
    counts = audit["outcome"].value_counts().sort_index()
    said = ", ".join(f"{n} {label(outcome)}" for outcome, n in counts.items())
    if result.run_id is None:
        console.print(f"outcomes: {said}; nothing recorded or written", markup=False)
        return
    console.print(f"outcomes: {said}; recorded as run {result.run_id}", markup=False)
    if (audit["outcome"] == Outcome.undone).any():
        console.print(
            "the ERP still holds what the undone run wrote: the next sync re-imports it, "
            "unless it is corrected in the ERP first",
            markup=False,
        )


@app.command("digest")
def digest(
    dry_run: Annotated[
        bool, typer.Option(help="Show the messages it would send; send and record nothing.")
    ] = False,
) -> None:
    """Tell the people who can act what is new, once: contracts blocked for a reason they
    can fix, conflicts, failed runs (the daily digest: email and webhooks)."""
    from contract_sync.notify import daily_digest

    found = _or_fail(lambda: daily_digest(get_settings(), dry_run=dry_run))
    if dry_run:
        for message in [*found.messages, *([found.webhook] if found.webhook else [])]:
            console.print(f"To: {message.to}\nSubject: {message.subject}\n", markup=False)
            console.print(message.body, markup=False, highlight=False)
        if found.webhook is None:
            console.print("nothing new to tell", markup=False)
        return
    console.print(
        f"told {len(found.told)} notice{'s' * (len(found.told) != 1)}: "
        f"{len(found.messages)} email{'s' * (len(found.messages) != 1)}",
        markup=False,
    )
    if found.failed:
        _fail(f"not sent to {', '.join(found.failed)}: told again with the next digest")


@app.command("import")
def first_import(
    contracts: Annotated[
        list[str] | None, typer.Argument(help="ERP contract numbers (or --project / --all).")
    ] = None,
    acting_user: Annotated[str | None, typer.Option("--as", help="Store user to act as.")] = None,
    project: Annotated[
        str | None, typer.Option(help="Every contract importable into this project.")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every contract the ready list shows as importable.")
    ] = False,
    company: Annotated[int | None, typer.Option(help="ERP company number.")] = None,
    wide: Wide = False,
    output_format: Format = "table",
) -> None:
    """Import ERP contracts that are not in the store yet, each into its synced job's project
    (needs Standard or Admin on ERP Integrations and Admin on that project's Main Contracts).
    Each contract is written in a transaction of its own, with its audit row."""
    from contract_sync.resolve import resolve

    settings = get_settings()
    if acting_user is None:
        _fail("name the store user to act as: --as LOGIN")
    if not contracts and project is None and not every:
        _fail("name the contracts to import, or use --project P or --all")
    typed = list(contracts or [])
    request = resolve(settings, company=company, actor=acting_user, contracts=typed)
    if project is not None or every:
        view = replace(request, contracts=None, project=project)
        ready = _ready_list(settings, view, named=True)
        importable = ready.loc[ready["import_available"], "contract_no"].tolist()
        wanted = set(request.contracts or [])
        contracts = [c for c in importable if not wanted or c in wanted]
        if not contracts:
            console.print(f"nothing to import for {acting_user}: see `contract-sync ready`")
            return
    request = replace(request, contracts=list(contracts), project=None)
    result = _or_fail(lambda: _run("import", settings, request))
    _say_resolved(typed, result.scan.contracts, output_format)
    _print_outcomes([result], wide, output_format, named=True, first_import=True)


def _run(kind: str, settings, request):  # noqa: ANN001, ANN202 - Settings, Request, RunResult
    """A re-import or first-import run, in this process; recorded as a Prefect flow run when
    PREFECT_API_URL names a server (flows/recorded.py: the command line's one reach into
    orchestration, paid for only then)."""
    import os

    api = os.environ.get("PREFECT_API_URL", "").strip()
    if not api:
        from contract_sync import run

        return {"reimport": run.reimport, "import": run.first_import}[kind](settings, request)
    _require_server(api)
    from contract_sync_flows import recorded

    flows = {"reimport": recorded.reimport_recorded, "import": recorded.first_import_recorded}
    return flows[kind](request)


def _require_server(api: str) -> None:
    """The Prefect server PREFECT_API_URL names answers (any HTTP status will do)."""
    from urllib.error import HTTPError, URLError
    from urllib.request import urlopen

    from contract_sync.errors import UserError

    try:
        urlopen(f"{api.rstrip('/')}/health", timeout=5).close()
    except HTTPError:
        return
    except (URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise UserError(
            f"PREFECT_API_URL is {api}, but no Prefect server answers there ({reason}); "
            "start it (make serve), or unset PREFECT_API_URL to run without recording"
        ) from None


def _say_resolved(asked: list[str], erp_contracts, output_format: str = "table") -> None:  # noqa: ANN001
    """Name the ERP's exact code where the one typed differs (padding, say)."""
    if output_format != "table":
        return
    from contract_sync.columns import normal_text

    codes = dict(zip(erp_contracts["contract_no"], erp_contracts["contract_code"], strict=True))
    for typed in asked:
        code = codes.get(normal_text(typed))
        if code is not None and code != typed:
            console.print(f"{typed!r} is ERP contract {code!r}")


OUTCOME_FIELDS = [
    "run_id",
    "erp_company",
    "contract_no",
    "outcome",
    "reasons",
    "items_added",
    "items_changed",
    "items_removed",
    "items_unchanged",
    "header_changes",
    "amount_before",
    "amount_after",
]


def _print_outcomes(
    results: list,
    wide: bool = False,
    output_format: str = "table",
    named: bool = True,
    first_import: bool = False,
) -> None:
    """Each contract's outcome, the legend of its reasons, the counts, and where the audit
    log and the validation reports are. `named`: the user acted as was given with --as."""
    import pandas as pd

    from contract_sync.store.db import safe_url
    from contract_sync.vocabulary import label
    from contract_sync_faces.terminal import as_text, outcome_view

    settings = get_settings()
    audit = pd.concat([r.audit.assign(run_id=r.run_id) for r in results], ignore_index=True)
    unknown = [r.scan.state.actor for r in results if not r.scan.state.actor_known]
    if unknown and output_format != "table":
        _fail(_unknown_user(unknown[0], named))
    if output_format != "table":
        sys.stdout.write(as_text(audit[OUTCOME_FIELDS], output_format))
        return
    view = outcome_view(audit, wide)
    _print_views([view], first_import=first_import)
    counts = audit["outcome"].value_counts().sort_index()
    console.print(
        "outcomes: " + ", ".join(f"{n} {label(outcome)}" for outcome, n in counts.items()),
        markup=False,
    )
    console.print(
        f"audit log: {safe_url(settings.store_database_url)} (tables sync_runs, run_ends, "
        "audit_contracts, audit_changes; `contract-sync audit verify`)",
        markup=False,
    )
    for run_id in audit["run_id"].unique():
        report = settings.reports_path / run_id / "index.html"
        shown = report if report.exists() else "none (no contract content new to validation)"
        console.print(f"  run {run_id}: validation report {shown}", markup=False)
    if unknown:
        refused = "every contract was refused and the refusal recorded"
        _fail(f"{_unknown_user(unknown[0], named)}; {refused}")


def _print_views(views: list, first_import: bool = False) -> None:
    """Tables (each split to fit the terminal), then one legend of the reasons they show."""
    from contract_sync_faces.terminal import reason_legend

    # Not cropped: a table wider than the terminal even alone (a contract and one value in
    # a terminal narrower than both) is printed whole, the terminal wraps its lines.
    for view in views:
        console.print(view, crop=False)
    legend = reason_legend([code for view in views for code in view.reasons], first_import)
    if legend is not None:
        console.print(legend, crop=False)


def _unknown_user(actor: str, named: bool) -> str:
    """Why a user is unknown, and what to do: a user given with --as, or the service user
    a command acts as without it."""
    if named:
        return (
            f"{actor!r} is not a user of the project store (logins match exactly): act as one "
            "of its logins with --as LOGIN (the directory file lists them)"
        )
    return (
        f"{actor!r}, the service user a command acts as without --as, is not a user of the "
        "project store: act as one of its logins with --as LOGIN, or make the service user "
        f"a login: add {actor!r} to the directory file's users (`contract-sync directory "
        "apply FILE`) or set CONTRACT_SYNC_SERVICE_USER to a login"
    )


def _ready_list(settings, request, named: bool):  # noqa: ANN001, ANN202 - Settings, Request; a DataFrame
    """The ready list; an unknown acting user is a one-line error saying what to do."""
    from contract_sync.run import UnknownUser, company_ready_list

    def listed():  # noqa: ANN202 - a DataFrame
        try:
            return company_ready_list(settings, request)
        except UnknownUser as error:
            raise UnknownUser(_unknown_user(request.actor, named)) from error

    return _or_fail(listed)


@app.command("ready")
def ready(
    acting_user: Annotated[
        str | None, typer.Option("--as", help="Whose permissions; the service user if unset.")
    ] = None,
    project: Annotated[str | None, typer.Option(help="Only this project (its number).")] = None,
    company: Annotated[int | None, typer.Option(help="ERP company number.")] = None,
    wide: Wide = False,
    output_format: Format = "table",
) -> None:
    """The ERP main contracts ready to be imported, and what stops the others."""
    from contract_sync.resolve import resolve
    from contract_sync_faces.terminal import as_text, ready_view

    _check_format(output_format)
    settings = get_settings()
    request = resolve(settings, company=company, actor=acting_user, project=project)
    table = _ready_list(settings, request, named=acting_user is not None)
    if output_format != "table":
        sys.stdout.write(as_text(table, output_format))
        return
    _print_views([ready_view(table, request.actor, request.company, wide)])


@app.command("diff")
def diff(
    contract: Annotated[str, typer.Argument(help="ERP contract number.")],
    acting_user: Annotated[
        str | None, typer.Option("--as", help="Whose permissions; the service user if unset.")
    ] = None,
    company: Annotated[int | None, typer.Option(help="ERP company number.")] = None,
    policy: Annotated[ConflictPolicy, typer.Option(help=POLICY_HELP)] = ConflictPolicy.erp_wins,
    output_format: Format = "table",
) -> None:
    """What a re-import of one contract would do, line by line (nothing is written)."""
    from contract_sync.resolve import resolve
    from contract_sync.run import preview
    from contract_sync.stages.ready import line_preview
    from contract_sync.vocabulary import in_words, what_to_do
    from contract_sync_faces.terminal import as_text, preview_view

    _check_format(output_format)
    settings = get_settings()
    request = resolve(
        settings,
        company=company,
        actor=acting_user,
        contracts=[contract],
        policy=policy,
        full_refresh=True,
    )
    actor = request.actor
    found = _or_fail(lambda: preview(settings, request))
    _say_resolved([contract], found.erp.contracts, output_format)
    contract = request.contracts[0]
    lines = line_preview(contract, found.comparison, found.state)
    if output_format != "table":
        sys.stdout.write(as_text(lines, output_format))
        return
    if lines.empty:
        console.print(f"{contract}: a re-import would change nothing", markup=False)
    else:
        console.print(preview_view(lines, contract), crop=False)
    decision = found.decisions.iloc[0]
    verdict = (
        "re-import available"
        if decision["eligible"]
        else f"blocked: {in_words(decision['reasons'])}; what to do: "
        f"{what_to_do(decision['reasons'])}"
    )
    console.print(f"{contract} as {actor}: {verdict}", markup=False)


@audit_app.command("report")
def audit_report(
    since: Annotated[str | None, typer.Option(help="From this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date (YYYY-MM-DD).")] = None,
    project: Annotated[str | None, typer.Option(help="Project number.")] = None,
    contract: Annotated[str | None, typer.Option(help="ERP contract number.")] = None,
    actor: Annotated[str | None, typer.Option(help="User the runs acted as.")] = None,
    outcome: Annotated[str | None, typer.Option(help="reimported, blocked, ...")] = None,
    reason: Annotated[str | None, typer.Option(help="A reason code.")] = None,
    company: Annotated[int | None, typer.Option(help="ERP company number.")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, csv, json, html or markdown.")
    ] = "table",
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
    wide: Wide = False,
) -> None:
    """What changed, when, who did it, and what was blocked again and again."""
    from contract_sync.store.audit_log import AuditFilter

    report = _report(
        AuditFilter(
            since=_date(since),
            until=_date(until),
            project=project,
            contract=contract,
            actor=actor,
            outcome=outcome,
            reason=reason,
            company=company,
        )
    )
    _emit(report, output_format, output, wide=wide)


@audit_app.command("verify")
def audit_verify(
    head: Annotated[
        bool, typer.Option("--head", help="Print only the chain's head (to keep it elsewhere).")
    ] = False,
    against: Annotated[
        str | None,
        typer.Option(help="A head kept earlier (SEQ:DIGEST): the chain must still hold it."),
    ] = None,
) -> None:
    """Check the audit log, writing nothing; exit 1 on any finding.

    Names an audit table or column gone, each append-only guard missing, disabled or
    altered, the first record altered, missing, backdated or inserted outside
    contract-sync, and each run with no end whose process is gone (`audit mark-abandoned`
    records those as abandoned)."""
    kept = None if against is None else _kept_head(against)
    verdict = _with_store(lambda store: _verdict(store, kept))
    if verdict.problem is not None:
        _fail(f"the audit log is not intact: {verdict.problem}")
    seq, digest = verdict.head
    if head:
        console.print(f"{seq}:{digest}", markup=False)
        return
    for run_id in verdict.running:
        console.print(f"run {run_id} is running: its end is not recorded yet", markup=False)
    held = f"; it holds the head you kept ({kept[0]})" if kept else ""
    console.print(f"audit log intact: {seq} records chained, head {seq}:{digest}{held}")


@audit_app.command("mark-abandoned")
def audit_mark_abandoned() -> None:
    """Record runs killed without an end as abandoned, once the log verifies.

    Each run with no end whose process is gone is ended as abandoned, now; nothing is
    marked while `audit verify` finds anything else. Every run's start does the same for
    the runs before it."""
    from contract_sync.errors import UserError
    from contract_sync.store.liveness import Life
    from contract_sync.store.writes import mark_abandoned

    def mark(store):  # noqa: ANN001, ANN202 - an Engine; the runs marked and those unknown
        verdict = _verdict(store, None)
        if verdict.tampering:
            raise UserError(
                f"the audit log is not intact: {'; '.join(verdict.tampering)}; nothing "
                "marked abandoned (`contract-sync audit verify` says the same)"
            )
        return mark_abandoned(store), verdict

    marked, verdict = _with_store(mark)
    for run_id in marked:
        console.print(f"run {run_id} ended without a word: marked abandoned", markup=False)
    for run_id, found in verdict.unended:
        if found is Life.UNKNOWN:
            console.print(f"run {run_id} has no end, and {found.value}: not marked", markup=False)
    if not marked:
        console.print("no run marked abandoned", markup=False)


def _verdict(store, kept: tuple[int, str] | None):  # noqa: ANN001, ANN202 - Engine; Verdict
    from contract_sync.store.chain import verify

    with store.connect() as connection:
        return verify(connection, kept)


def _kept_head(text: str) -> tuple[int, str]:
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or len(digest) != 64:
        _fail(
            f"--against takes a head as `audit verify --head` prints it (SEQ:DIGEST), not {text!r}"
        )
    return int(seq), digest


@audit_app.command("show")
def audit_show(
    run_id: Annotated[str, typer.Argument(help="Run id (Prefect flow-run id).")],
    wide: Wide = False,
    output_format: Format = "table",
) -> None:
    """One run: every contract's outcome, and the fields it changed."""
    from contract_sync.store.audit_log import AuditFilter

    report = _report(AuditFilter(run_id=run_id), include_unchanged=True)
    if report.rows.empty:
        _fail(f"no audit rows for run {run_id}")
    _emit(report, output_format, None, changes=True, wide=wide)


@audit_app.command("contract")
def audit_contract(
    contract: Annotated[str, typer.Argument(help="ERP contract number.")],
    company: Annotated[int | None, typer.Option(help="ERP company number.")] = None,
    wide: Wide = False,
    output_format: Format = "table",
) -> None:
    """One contract's full history, with its line-level changes."""
    from contract_sync.resolve import resolve
    from contract_sync.store.audit_log import AuditFilter

    request = resolve(get_settings(), company=company, contracts=[contract])
    number = request.contracts[0]
    report = _report(AuditFilter(contract=number, company=request.company), include_unchanged=True)
    if report.rows.empty:
        _fail(f"no audit rows for contract {contract}")
    _emit(report, output_format, None, changes=True, wide=wide)
    if output_format != "table":
        return
    from contract_sync.store.audit_log import last_checked
    from contract_sync.vocabulary import label

    run = _with_store(lambda store: last_checked(store, request.company, number))
    if run is not None:
        last = report.rows.iloc[-1]
        console.print(
            f"last checked {run.started_at:%Y-%m-%d %H:%M} UTC by run {run.id} ({run.trigger}, "
            f"as {run.actor}): {label(last.outcome)} {last.reasons or ''}".rstrip(),
            markup=False,
        )


def _date(text: str | None):  # noqa: ANN202 - a datetime or None
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        _fail(f"{text!r} is not a date (YYYY-MM-DD)")


def _report(audit_filter, include_unchanged: bool = False):  # noqa: ANN001, ANN202
    from contract_sync.reports.audit import load_report
    from contract_sync.store.db import open_store

    return _or_fail(
        lambda: load_report(open_store(get_settings()), audit_filter, include_unchanged)
    )


def _emit(  # noqa: ANN001 - an AuditReport
    report, output_format: str, output: Path | None, changes: bool = False, wide: bool = False
) -> None:
    from contract_sync.reports import audit as render

    if output_format == "table":
        _print_audit(report, changes, wide)
        return
    writers = {
        "csv": render.to_csv,
        "json": render.to_json,
        "html": render.to_html,
        "markdown": render.to_markdown,
    }
    if output_format not in writers:
        _fail(f"unknown format {output_format!r}: table, {', '.join(writers)}")
    text = writers[output_format](report)
    if output is None:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    else:
        _write_file(output, text)


def _write_file(path: Path, text: str) -> None:
    """Write a report or export whole (a failure leaves nothing) and say where."""
    from contract_sync.output_files import write_whole

    _or_fail(lambda: write_whole(path, text))
    console.print(f"wrote {path}", markup=False)


SHOWN_ROWS = 100


def _print_audit(report, changes: bool, wide: bool) -> None:  # noqa: ANN001
    """Summary, recurring blockers, then the rows; a report leaves out "nothing changed"
    rows (they are counted in the summary) and shows the newest hundred."""
    from contract_sync.reports.audit import listed_line, run_line, summary_lines
    from contract_sync_faces.terminal import audit_rows_view, blockers_view, changes_view

    rows = report.rows if changes else report.rows[report.rows["reasons"].ne(UNCHANGED_REASONS)]
    shown = rows.tail(SHOWN_ROWS)
    for line in [*summary_lines(report.summary, len(rows)), run_line(report.summary)]:
        console.print(line, markup=False)
    views = [blockers_view(report.blockers, wide)] if len(report.blockers) else []
    views.append(audit_rows_view(shown, listed_line(len(shown), len(rows)), wide))
    if changes and shown["audit_id"].isin(report.changes["audit_id"]).any():
        views.append(changes_view(shown, report.changes, wide))
    _print_views(views)


def _or_fail(action):  # noqa: ANN001, ANN202 - the action's own result
    """Run an action; a failure the user can act on becomes a one-line error."""
    from contract_sync.errors import UserError

    try:
        return action()
    except UserError as error:
        if _debugging():
            raise
        _fail(str(error))


def _debugging() -> bool:
    """--debug or CONTRACT_SYNC_DEBUG=1: failures keep their traceback."""
    import os

    return "--debug" in sys.argv[1:] or os.environ.get("CONTRACT_SYNC_DEBUG") == "1"


def main() -> None:
    """The console command: a failure is one line naming the problem and the fix, and a
    non-zero exit; the traceback only with --debug or CONTRACT_SYNC_DEBUG=1."""
    from contract_sync.errors import UserError

    # typer carries its own click: its usage errors derive from TyperException.
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

    debug = _debugging()
    try:
        code = app(args=[a for a in sys.argv[1:] if a != "--debug"], standalone_mode=False)
    except usage_error as error:  # a bad option or argument: the usage and one line
        error.show()
        code = error.exit_code
    except typer.Abort:
        code = 130
    except UserError as error:
        if debug:
            raise
        _say_error(str(error))
        code = 1
    except Exception as error:  # noqa: BLE001 - shown as one line unless debugging
        if debug:
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _say_error(
            f"unexpected {type(error).__name__}: {first} "
            "(run with --debug or CONTRACT_SYNC_DEBUG=1 for the traceback)"
        )
        code = 2
    sys.exit(code if isinstance(code, int) else 0)


def script() -> NoReturn:
    """The `contract-sync` script: main, then an exit without the interpreter's teardown.
    Freeing every object of the libraries a command loaded, one by one, costs about 0.3 s
    (mypy leaves the same way: mypy.util.hard_exit). What that teardown would still do is
    done first: the exit handlers registered run (logging's flush among them), the
    databases' pooled connections are closed, the standard streams flushed. A command that
    loaded Prefect (a run recorded on a server) exits as usual: Prefect sends its last
    events from threads an exit waits for. A traceback (--debug) exits as usual too."""
    try:
        main()
        code = 0
    except SystemExit as done:
        if "prefect" in sys.modules:
            raise
        code = done.code
    _leave(code)


def _leave(code: int | str | None) -> NoReturn:
    """os._exit(code) once the exit handlers ran, the engines are closed and the streams
    flushed (see script)."""
    if isinstance(code, str):  # as sys.exit shows it
        print(code, file=sys.stderr)
        code = 1
    code = code or 0
    atexit._run_exitfuncs()  # noqa: SLF001 - what sys.exit would run
    if (db := sys.modules.get("contract_sync.store.db")) is not None:
        db.close_all()
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:  # skipped, as an exit skips them
            continue
        try:
            stream.flush()
        except OSError:  # a closed pipe: 120, as a normal exit answers it after a success
            code = code or 120
    os._exit(code)


if __name__ == "__main__":
    script()
