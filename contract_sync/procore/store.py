"""Procore as the project store: what a run reads from Procore, and how it writes a
contract there without transactions.

Reads: each run mirrors Procore's projects (their origin_id links the ERP job) and prime
contracts into the ledger (one list call a project, contract_sync.procore.mirror; a first
import lists only the project of each contract it makes, right before), and the
line items of only the contracts it compares: all of them the first time, then those
changed since (filters[updated_at], guides/filtering_on_list_actions.md), all again when
the contract's total says an item went (a delete leaves no updated_at behind).

Writes, one contract at a time (Procore writes a contract in several calls):
1. the intent is recorded in the ledger before the first call (store_intents);
2. the contract is read again (Show Prime Contract, with its line items) and checked as
   the SQL store checks it in its transaction: a person's edit since compare makes it
   `stale`, nothing written;
3. the line items are synced (an upsert by id or origin_id: repeating it is harmless), the
   removed ones deleted (a repeated delete answers 404, taken as done), the header updated;
4. the ledger records it all in one transaction: the mirror, the baseline, the audit row,
   and the intent cleared.
A run stopped between 1 and 4 leaves the intent: the contract shows as `partial`; the next
run reads what Procore holds and writes what is missing (the calls are idempotent), and a
first import finds the contract it made by its origin_id instead of making a second.

A per-record error of the sync fails that contract with Procore's message, never the
run. Before each contract the requests it needs are compared with what Procore's hourly
window has left: a contract that does not fit is deferred whole (`rate_limited`, with the
time the window resets), never cut in half.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import normal_code, normal_text
from contract_sync.errors import UserError
from contract_sync.settings import Settings
from contract_sync.stages.apply import (
    FirstImportWriter,
    Record,
    ReimportWriter,
    Writer,
    failed_rows,
    refused_rows,
)
from contract_sync.store import schema as s
from contract_sync.store.bulk import read_frame
from contract_sync.store.contract_writes import LockedContract, write_transaction
from contract_sync.store.liveness import Life, life
from contract_sync.store.types import exact
from contract_sync.store.writes import audit_transaction, insert_audit
from contract_sync.vocabulary import (
    APPLIED,
    IMPORTED_STATUS,
    SPECTRUM,
    ContractStatus,
    ItemChange,
    Reason,
)

from .client import SYNC_MAX_RECORDS, ProcoreClient
from .errors import ProcoreError, ProcoreValueError, RateLimited
from .frames import contract_body, contract_frame, item_frame, item_records, project_frame
from .mirror import link_items, mirror_contracts, mirror_items, mirror_projects
from .records import PrimeContract

APPROVED_CHANGE_ORDER = "approved"
# Edits are looked for from a little before the last read: clocks differ, and updated_at
# has whole seconds.
READ_MARGIN = timedelta(minutes=2)
FAR_AHEAD = timedelta(days=1)


class SyncRefused(UserError, RuntimeError):
    """Procore refused records of a line-items sync (its per-record errors)."""


class ProcoreStore:
    """The store port's Procore side (see contract_sync.project_store)."""

    remote = True

    def __init__(self, settings: Settings, client: ProcoreClient | None = None) -> None:
        self.settings = settings
        self._clients: dict[int, ProcoreClient] = {}
        if client is not None:
            self._clients[client.company_id] = client

    def client_for(self, erp_company: int) -> ProcoreClient:
        company = self.settings.procore_company_of(erp_company)
        if company not in self._clients:
            self._clients[company] = ProcoreClient.from_settings(self.settings, company_id=company)
        return self._clients[company]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def request_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for client in self._clients.values():
            for endpoint, n in client.request_counts().items():
                counts[endpoint] = counts.get(endpoint, 0) + n
        return counts

    # -- reads ---------------------------------------------------------------------------------

    def refresh(self, ledger: sa.Engine, erp_company: int, *, contracts: bool = True) -> None:
        """The company's projects, job links and prime contracts, as Procore holds them now,
        into the ledger's mirror. A company the ledger does not know is left to load_state
        to refuse. Without `contracts` (a first import) only the projects: a first import
        lists its contract's project where it writes it, so a company's import across
        several hourly windows does not spend each on lists it does not need.

        Each project's contracts take a request: a company with more projects than the
        hourly window holds is read in part, the projects read longest ago first, keeping a
        quarter of the window for the run's writes; the others stay as last read. A contract
        is read again before it is written in any case, so a list read in an earlier window
        never lets a write through that Procore's state now refuses (it is `stale`)."""
        with ledger.connect() as connection:
            company = _company(connection, erp_company)
            importing = read_frame(connection, _open_imports(erp_company))
        if company is None:
            return
        client = self.client_for(erp_company)
        projects = client.projects(status="All")  # an inactive project's contracts too
        with _mirror_transaction(ledger, erp_company) as connection:
            project_ids = mirror_projects(
                connection, company.id, project_frame(projects, erp_company)
            )
            last_read = _lists_read_at(connection, project_ids.to_numpy().tolist())
        if not contracts:
            return
        spectrum = company.erp_type == SPECTRUM
        listed, orders, read = [], [], []
        for project in sorted(projects, key=lambda p: last_read.get(project_ids[p.id]) or ""):
            if not client.budget.fits((2 if spectrum else 1) + _reserve(client)):
                break  # the rest in a later window, stalest first
            listed += [(project.id, c) for c in client.prime_contracts(project.id)]
            if spectrum:
                orders += client.prime_change_orders(project.id)
            read.append(project_ids[project.id])
        contracts = contract_frame(listed, erp_company)
        # A first import stopped midway is completed by the import, not mirrored as imported.
        contracts = contracts[~normal_code(contracts["origin_id"]).isin(importing["contract_no"])]
        change_orders = None
        if spectrum:
            approved = [o.contract_id for o in orders if o.status == APPROVED_CHANGE_ORDER]
            change_orders = pd.Series(approved, dtype="int64").value_counts()
        with _mirror_transaction(ledger, erp_company) as connection:
            mirror_contracts(connection, company.id, contracts, project_ids, change_orders)
            connection.execute(
                s.projects.update()
                .where(s.projects.c.id.in_([int(i) for i in read]))
                .values(contracts_read_at=_now_text())
            )

    def refresh_items(self, ledger: sa.Engine, erp_company: int, contract_ids: list[int]) -> None:
        """The line items of these mirrored contracts, as Procore holds them now."""
        if not contract_ids:
            return
        client = self.client_for(erp_company)
        with ledger.connect() as connection:
            links = read_frame(connection, _links(contract_ids))
        read_at = _now_text()
        since = links[links["items_read_at"].notna()]
        changed = [
            _with_contract(
                client.line_items(
                    int(row.remote_project_id),
                    int(row.remote_id),
                    updated=(_earlier(row.items_read_at), _later(read_at)),
                ),
                row.id,
            )
            for row in since.itertuples(index=False)
        ]
        whole_links = links[links["items_read_at"].isna()]
        whole = [_whole_items(client, row) for row in whole_links.itertuples(index=False)]
        with _mirror_transaction(ledger, erp_company) as connection:
            if changed:
                mirror_items(
                    connection,
                    pd.concat(changed, ignore_index=True),
                    since["id"].astype("int64").tolist(),
                    whole=False,
                    read_at=read_at,
                )
            if whole:
                mirror_items(
                    connection,
                    pd.concat(whole, ignore_index=True),
                    whole_links["id"].astype("int64").tolist(),
                    whole=True,
                    read_at=read_at,
                )
            off = _totals_off(connection, since["id"].astype("int64").tolist())
        if off:  # an item went (or one came without an origin): read those whole
            again = links[links["id"].isin(off)]
            frames = [_whole_items(client, row) for row in again.itertuples(index=False)]
            with _mirror_transaction(ledger, erp_company) as connection:
                mirror_items(
                    connection,
                    pd.concat(frames, ignore_index=True),
                    off,
                    whole=True,
                    read_at=read_at,
                )

    # -- writes --------------------------------------------------------------------------------

    def write_group(
        self,
        ledger: sa.Engine,
        run_id: str,
        writer: Writer,
        group: pd.DataFrame,
        before: Record | None = None,
    ) -> pd.DataFrame:
        """apply's GroupWrite: each contract of the group written and recorded in turn."""
        if before is not None:
            with audit_transaction(ledger) as connection:
                before.insert(connection, run_id)
        erp_company = int(group["erp_company"].iloc[0]) if "erp_company" in group else None
        rows = [
            self._write_one(ledger, run_id, writer, group.loc[[index]], erp_company)
            for index in group.index  # one contract at a time: Procore has no transactions
        ]
        return pd.concat(rows) if rows else group

    def _write_one(
        self,
        ledger: sa.Engine,
        run_id: str,
        writer: Writer,
        row: pd.DataFrame,
        erp_company: int | None,
    ) -> pd.DataFrame:
        contract = _Contract(ledger, row, erp_company or self.settings.company, writer)
        client = self.client_for(contract.erp_company)
        needed = contract.requests()
        if not client.budget.fits(needed):
            return _record(ledger, run_id, _deferred(row, client, needed))
        try:
            resumed = contract.begin(run_id)
        except (LockedContract, sa.exc.IntegrityError):  # another run's intent
            return _record(ledger, run_id, refused_rows(row, row.index, Reason.locked))
        sent = False
        try:
            if isinstance(writer, ReimportWriter):
                checked = contract.check(client)
                if not checked["outcome"].isin(APPLIED).all():
                    contract.end()
                    return _record(ledger, run_id, checked)
                sent = True
                contract.reimport(client)
            else:
                sent = True
                if not contract.first_import(client, resumed):
                    return contract.rows
        except RateLimited as error:
            contract.keep(f"stopped: {error}") if sent else contract.end()
            rows = refused_rows(row, row.index, Reason.rate_limited)
            rows.loc[row.index, "error"] = str(error)
            return _record(ledger, run_id, rows)
        except (ProcoreError, ProcoreValueError, SyncRefused) as error:
            contract.keep(f"stopped: {error}") if sent else contract.end()
            return _record(ledger, run_id, _failed(row, error, sent))
        except Exception as error:  # noqa: BLE001 - recorded, and the run goes on
            contract.keep(f"stopped: {type(error).__name__}: {error}")
            return _record(ledger, run_id, _failed(row, error, sent=True))
        return contract.rows


def _failed(row: pd.DataFrame, error: Exception, sent: bool) -> pd.DataFrame:
    """Failed; once a call was sent, Procore may hold part of it, which the error says."""
    rows = failed_rows(row, row.index, error)
    if sent:
        rows.loc[row.index, "error"] = (
            "written in part, completed by the next run that writes it: "
            + rows.loc[row.index, "error"].astype(str)
        )
    return rows


@contextmanager
def _mirror_transaction(ledger: sa.Engine, erp_company: int) -> Iterator[sa.Connection]:
    """A transaction that writes the company's mirror, one at a time for a company: two
    runs reading Procore at once would otherwise insert the same new rows (SQLite's write
    lock does this already; on PostgreSQL the company's row is held)."""
    with write_transaction(ledger) as connection:
        if connection.dialect.name == "postgresql":
            c = s.companies.c
            connection.execute(
                sa.select(c.id).where(c.erp_company == erp_company).with_for_update()
            )
        yield connection


def _reserve(client: ProcoreClient) -> int:
    """Requests of the hourly window kept for writes while a run reads the lists."""
    return (client.budget.limit or 0) // 4


def _lists_read_at(connection: sa.Connection, project_ids: list[int]) -> dict[int, str]:
    p = s.projects.c
    found = connection.execute(
        sa.select(p.id, p.contracts_read_at).where(p.id.in_(project_ids))
    ).all()
    return {row.id: row.contracts_read_at for row in found}


def _record(ledger: sa.Engine, run_id: str, rows: pd.DataFrame) -> pd.DataFrame:
    with audit_transaction(ledger) as connection:
        insert_audit(connection, run_id, rows)
    return rows


def _deferred(row: pd.DataFrame, client: ProcoreClient, needed: int) -> pd.DataFrame:
    rows = refused_rows(row, row.index, Reason.rate_limited)
    wait = client.budget.seconds_to_reset()
    when = "when Procore's hourly window resets"
    if wait is not None:
        at = datetime.now(UTC) + timedelta(seconds=wait)
        when = f"after {at:%Y-%m-%d %H:%M} UTC, when Procore's hourly window resets"
    rows.loc[row.index, "error"] = (
        f"needs {needed} Procore requests; {client.budget.remaining} left in this hour: "
        f"deferred whole, written by the next run {when}"
    )
    return rows


class _Contract:
    """One contract's write to Procore, from its intent to its record in the ledger."""

    def __init__(self, ledger: sa.Engine, row: pd.DataFrame, erp_company: int, writer: Writer):
        self.ledger, self.rows, self.writer = ledger, row, writer
        self.erp_company = erp_company
        self.contract_no = str(row["contract_no"].iloc[0])
        self.first = isinstance(writer, FirstImportWriter)
        if self.first:
            self.headers = writer.headers.loc[[self.contract_no]]
            self.items = writer.erp_items.of(row["contract_no"])
        else:
            self.headers, self.items = writer.targets(row)
        with ledger.connect() as connection:
            self.open_intent = (
                connection.execute(
                    sa.select(s.store_intents.c.run_id).where(self._intent_key())
                ).first()
                is not None
            )
            if self.first:
                project_id = int(row["project_id"].iloc[0])
                self.remote_project = connection.execute(
                    sa.select(s.projects.c.remote_id).where(s.projects.c.id == project_id)
                ).scalar_one()
                self.remote_id = None
            else:
                link = read_frame(connection, _links([int(row["contract_id"].iloc[0])]))
                self.remote_project = int(link["remote_project_id"].iloc[0])
                self.remote_id = int(link["remote_id"].iloc[0])

    def requests(self) -> int:
        """The calls this contract's write takes: a re-import reads it again, syncs its
        added and changed items (1,000 a call), deletes each removed one, updates its header
        when that changed; a first import lists its project (is it there already?), creates
        it (or, resumed, updates the header of the one it made) and syncs all its items."""
        syncs = math.ceil(len(self.items) / SYNC_MAX_RECORDS)
        if self.first:
            return 2 + syncs
        change = self.items["change"]
        upserts = int(
            change.isin([ItemChange.added, ItemChange.changed, ItemChange.renumbered]).sum()
        )
        removed = int(change.eq(ItemChange.removed).sum())
        header = int(bool(self._header_body))
        return 1 + math.ceil(upserts / SYNC_MAX_RECORDS) + removed + header

    # -- the intent ---------------------------------------------------------------------------

    def begin(self, run_id: str) -> bool:
        """The intent recorded before any call; whether one was open already (a write an
        earlier run left midway)."""
        i, key = s.store_intents, self._intent_key()
        with write_transaction(self.ledger) as connection:
            earlier = connection.execute(sa.select(i.c.run_id).where(key)).first()
            other = earlier is not None and earlier.run_id != run_id
            if other and life(self.ledger, earlier.run_id) is Life.ALIVE:
                raise LockedContract(f"run {earlier.run_id} is writing {self.contract_no}")
            connection.execute(i.delete().where(key))
            contract_id = self.rows["contract_id"].iloc[0]
            connection.execute(
                i.insert().values(
                    erp_company=self.erp_company,
                    contract_no=self.contract_no,
                    kind="import" if self.first else "reimport",
                    run_id=run_id,
                    contract_id=None if pd.isna(contract_id) else int(contract_id),
                    erp_hash=str(self.rows["erp_hash"].iloc[0]),
                    started_at=datetime.now(UTC),
                    detail=f"resumes run {earlier.run_id}" if earlier else None,
                )
            )
        return earlier is not None

    def _intent_key(self) -> sa.ColumnElement:
        i = s.store_intents.c
        return (i.erp_company == self.erp_company) & (i.contract_no == self.contract_no)

    def keep(self, detail: str) -> None:
        """The intent stays (the contract is written in part), with what stopped it."""
        with write_transaction(self.ledger) as connection:
            connection.execute(
                s.store_intents.update().where(self._intent_key()).values(detail=detail[:2000])
            )

    def end(self, connection: sa.Connection | None = None) -> None:
        if connection is None:
            with write_transaction(self.ledger) as connection:
                connection.execute(s.store_intents.delete().where(self._intent_key()))
        else:
            connection.execute(s.store_intents.delete().where(self._intent_key()))

    # -- a re-import ---------------------------------------------------------------------------

    def check(self, client: ProcoreClient) -> pd.DataFrame:
        """The contract read again, mirrored, and checked as the SQL store checks it (version,
        items as compared, baseline): its audit row, blocked `stale` when it moved."""
        fresh = client.prime_contract(self.remote_project, self.remote_id)
        contract_id = int(self.rows["contract_id"].iloc[0])
        items = item_frame(fresh.line_items).assign(contract_id=contract_id)
        with _mirror_transaction(self.ledger, self.erp_company) as connection:
            company_id = _company(connection, self.erp_company).id
            mirror_contracts(
                connection,
                company_id,
                contract_frame([(self.remote_project, fresh)], self.erp_company),
                pd.Series({self.remote_project: int(self.rows["project_id"].iloc[0])}),
            )
            mirror_items(connection, items, [contract_id], whole=True, read_at=_now_text())
            return self.writer.check(connection, self.rows)

    def reimport(self, client: ProcoreClient) -> None:
        items = self.items
        change = items["change"]
        upserts = items[change.isin([ItemChange.added, ItemChange.changed, ItemChange.renumbered])]
        with self.ledger.connect() as connection:
            remote = _remote_item_ids(
                connection, items["item_id"].dropna().astype("int64").tolist()
            )
        upserts = upserts.assign(
            remote_id=upserts["item_id"].map(remote),
            item_code=upserts["item_code"].fillna(upserts["item_no"])
            if "item_code" in upserts
            else upserts["item_no"],
        )
        synced = self._sync(client, upserts, self.remote_id)
        for item_id in items.loc[change.eq(ItemChange.removed), "item_id"].astype("int64"):
            client.delete_line_item(self.remote_project, self.remote_id, int(remote[item_id]))
        updated = None
        body = self._header_body
        if body:
            updated = client.update_prime_contract(self.remote_project, self.remote_id, body)
        contract_id = int(self.rows["contract_id"].iloc[0])
        with _mirror_transaction(self.ledger, self.erp_company) as connection:
            # The contract is this run's by its intent: a run that mirrored it meanwhile
            # (seeing this run's own writes) moved its version, not its owner.
            version = connection.execute(
                sa.select(s.main_contracts.c.version).where(s.main_contracts.c.id == contract_id)
            ).scalar_one()
            written = self.writer.write(
                connection, self.rows, versions=pd.Series({contract_id: version})
            )
            self.rows = _assigned(self.rows, written)
            link_items(connection, contract_id, synced)
            if updated is not None:
                _set_remote(connection, contract_id, updated.id, updated.updated_at)
            insert_audit(
                connection,
                self._run_id(connection),
                self.rows,
                self.writer.changes(self.rows["contract_no"]),
            )
            self.end(connection)

    @cached_property
    def _header_body(self) -> dict:
        """The header attributes this re-import changes (none: no update is sent); counted
        by requests() and sent by reimport()."""
        changes = self.writer.changes(self.rows["contract_no"])
        if changes is None or changes.empty:
            return {}
        fields = changes.loc[changes["item_no"].isna(), "field"].dropna().unique().tolist()
        header = self.headers.iloc[0].to_dict()
        return contract_body(header, self.erp_company, fields=fields) if fields else {}

    def _run_id(self, connection: sa.Connection) -> str:
        return connection.execute(
            sa.select(s.store_intents.c.run_id).where(self._intent_key())
        ).scalar_one()

    def _sync(self, client: ProcoreClient, items: pd.DataFrame, remote_id: int) -> pd.Series:
        """Items synced; Procore's id of each, by the item's code. Refused records: SyncRefused
        with Procore's messages."""
        if items.empty:
            return pd.Series(dtype="int64")
        result = client.sync_line_items(
            self.remote_project,
            remote_id,
            item_records(items, self.contract_no, self.erp_company),
        )
        if result.errors:
            shown = "; ".join(
                f"item {e.origin_id or e.id}: "
                + ", ".join(f"{k} {' '.join(v)}" for k, v in e.errors.items())
                for e in result.errors[:5]
            )
            more = f" (and {len(result.errors) - 5} more)" if len(result.errors) > 5 else ""
            raise SyncRefused(f"Procore refused line items of {self.contract_no}: {shown}{more}")
        entities = item_frame(result.entities)
        return pd.Series(
            entities["remote_id"].to_numpy(), index=normal_code(entities["origin_id"]).to_numpy()
        )

    # -- a first import ------------------------------------------------------------------------

    def first_import(self, client: ProcoreClient, resumed: bool) -> bool:
        """The contract made in its project, with its items; False, nothing written, when
        the project holds it already and no run of ours left it midway (the mirror had not
        listed it): then it is mirrored and refused `already_imported`."""
        header = self.headers.iloc[0].to_dict()
        code = str(header.get("contract_code") or self.contract_no)
        made = next(
            (
                c
                for c in client.prime_contracts(self.remote_project)
                if normal_text(c.origin_id or "") == self.contract_no
            ),
            None,
        )
        if made is not None and not resumed:
            self._already_there(made)
            return False
        if made is None:
            body = contract_body(header, self.erp_company, origin_id=code) | {
                "number": self.contract_no,
                "status": str(IMPORTED_STATUS.get(header.get("erp_status"), ContractStatus.draft)),
            }
            made = client.create_prime_contract(self.remote_project, body)
        else:  # made by the stopped run, from the ERP's header then: the ERP's now
            made = client.update_prime_contract(
                self.remote_project, made.id, contract_body(header, self.erp_company)
            )
        synced = self._sync(client, self.items, made.id)
        with _mirror_transaction(self.ledger, self.erp_company) as connection:
            written = self.writer.write(connection, self.rows)
            self.rows = _assigned(self.rows, written)
            contract_id = int(self.rows["contract_id"].iloc[0])
            _set_remote(connection, contract_id, made.id, made.updated_at)
            link_items(connection, contract_id, synced)
            insert_audit(connection, self._run_id(connection), self.rows, None)
            self.end(connection)
        return True

    def _already_there(self, found: PrimeContract) -> None:
        """A contract Procore holds that the mirror did not know: mirrored, and this
        import refused as the gate refuses one the mirror knows."""
        project = pd.Series({self.remote_project: int(self.rows["project_id"].iloc[0])})
        self.rows = refused_rows(self.rows, self.rows.index, Reason.already_imported)
        with _mirror_transaction(self.ledger, self.erp_company) as connection:
            company_id = _company(connection, self.erp_company).id
            listed = contract_frame([(self.remote_project, found)], self.erp_company)
            mirror_contracts(connection, company_id, listed, project)
            insert_audit(connection, self._run_id(connection), self.rows, None)
            self.end(connection)


def _assigned(rows: pd.DataFrame, written: pd.DataFrame) -> pd.DataFrame:
    """The audit rows with the written contract's id and version (one contract)."""
    return rows.assign(
        contract_id=pd.array(
            [int(written["contract_id"].iloc[0])], dtype=rows["contract_id"].dtype
        ),
        version_after=pd.array([int(written["version_after"].iloc[0])], dtype="Int64"),
    ).astype({"version_after": rows["version_after"].dtype})


def _set_remote(connection: sa.Connection, contract_id: int, remote_id: int, updated_at) -> None:  # noqa: ANN001
    connection.execute(
        s.main_contracts.update()
        .where(s.main_contracts.c.id == contract_id)
        .values(remote_id=remote_id, remote_updated_at=updated_at, items_read_at=_now_text())
    )


def _company(connection: sa.Connection, erp_company: int):  # noqa: ANN202 - a row
    c, i = s.companies.c, s.erp_integrations.c
    return connection.execute(
        sa.select(c.id, i.erp_type)
        .select_from(s.companies.outerjoin(s.erp_integrations, i.company_id == c.id))
        .where(c.erp_company == erp_company)
    ).first()


def _open_imports(erp_company: int) -> sa.Select:
    i = s.store_intents.c
    return sa.select(i.contract_no).where(i.erp_company == erp_company, i.kind == "import")


def _links(contract_ids: list[int]) -> sa.Select:
    c, p = s.main_contracts.c, s.projects.c
    return (
        sa.select(
            c.id,
            c.remote_id,
            p.remote_id.label("remote_project_id"),
            c.items_read_at,
            c.remote_total,
        )
        .join(s.projects, p.id == c.project_id)
        .where(c.id.in_(contract_ids), c.remote_id.is_not(None))
    )


def _remote_item_ids(connection: sa.Connection, item_ids: list[int]) -> pd.Series:
    li = s.line_items.c
    found = read_frame(connection, sa.select(li.id, li.remote_id).where(li.id.in_(item_ids)))
    return pd.Series(found["remote_id"].to_numpy(), index=found["id"].to_numpy())


def _totals_off(connection: sa.Connection, contract_ids: list[int]) -> list[int]:
    """Contracts whose mirrored items do not add up to the total Procore listed."""
    if not contract_ids:
        return []
    c, li = s.main_contracts.c, s.line_items.c
    amount = exact(li.amount, connection.dialect.name).element  # the scaled integer, unlabelled
    sums = (
        sa.select(li.contract_id, sa.func.sum(amount).label("sum"))
        .where(li.contract_id.in_(contract_ids))
        .group_by(li.contract_id)
        .subquery()
    )
    query = (
        sa.select(c.id, c.remote_total, sums.c.sum)
        .outerjoin(sums, sums.c.contract_id == c.id)
        .where(c.id.in_(contract_ids))
    )
    found = read_frame(connection, query)
    total = found["remote_total"].fillna(0).astype("int64")
    return found.loc[total != found["sum"].fillna(0).astype("int64"), "id"].astype(int).tolist()


def _whole_items(client: ProcoreClient, row) -> pd.DataFrame:  # noqa: ANN001 - a link row
    items = client.line_items(int(row.remote_project_id), int(row.remote_id))
    return _with_contract(items, row.id)


def _with_contract(items: list, contract_id: int) -> pd.DataFrame:
    return item_frame(items).assign(contract_id=int(contract_id))


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _earlier(text: str) -> datetime:
    return _parse(text) - READ_MARGIN


def _later(text: str) -> datetime:
    return _parse(text) + FAR_AHEAD
