"""The project store (Procore-like): tables the pipeline reads and writes."""

from __future__ import annotations

import sqlalchemy as sa

from contract_sync.store.types import Amount, Percent, Quantity, UnitCost

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("erp_company", sa.Integer, nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("login", sa.String(80), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("email", sa.String(254)),  # where the daily digest reaches them (directory file)
)

tool_permissions = sa.Table(
    "tool_permissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("company_id", sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("tool", sa.String(40), nullable=False),
    sa.Column("project_id", sa.ForeignKey("projects.id")),  # null for company-level tools
    sa.Column("level", sa.String(20), nullable=False),
    sa.CheckConstraint("level IN ('none', 'read_only', 'standard', 'admin')", name="level_known"),
    sa.CheckConstraint("tool IN ('erp_integrations', 'main_contracts')", name="tool_known"),
)

erp_integrations = sa.Table(
    "erp_integrations",
    metadata,
    sa.Column("company_id", sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("erp_type", sa.String(40), nullable=False),
    sa.Column("configured", sa.Boolean, nullable=False),
)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("company_id", sa.ForeignKey("companies.id"), nullable=False, index=True),
    sa.Column("number", sa.String(40), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("remote_id", sa.BigInteger),  # Procore's project id, when Procore is the store
    sa.Column("contracts_read_at", sa.String(40)),  # when its contracts were last listed
    sa.UniqueConstraint("company_id", "number"),
)

synced_jobs = sa.Table(
    "synced_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("company_id", sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("erp_job_no", sa.String(20), nullable=False),
    sa.UniqueConstraint("company_id", "erp_job_no"),
)

main_contracts = sa.Table(
    "main_contracts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("company_id", sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("origin_id", sa.String(40)),  # ERP contract number; null if made in the store
    sa.Column("number", sa.String(40), nullable=False),
    sa.Column("title", sa.String(255)),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("customer", sa.String(120)),
    sa.Column("retainage_pct", Percent()),
    sa.Column("start_date", sa.String(10)),
    sa.Column("projected_completion", sa.String(10)),
    sa.Column("original_amount", Amount(), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    # When Procore is the store (the tables above then mirror it): its prime contract's id,
    # its updated_at and total as last read, and how many approved prime change orders it has.
    sa.Column("remote_id", sa.BigInteger),
    sa.Column("remote_updated_at", sa.String(40)),
    sa.Column("remote_total", sa.BigInteger),  # grand_total in cents, as last read
    sa.Column("items_read_at", sa.String(40)),  # when its line items were last read (UTC)
    sa.Column("change_orders_approved", sa.Integer),
    sa.UniqueConstraint("project_id", "origin_id"),
    sa.Index("ix_main_contracts_company_origin", "company_id", "origin_id"),
)

line_items = sa.Table(
    "line_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("contract_id", sa.ForeignKey("main_contracts.id"), nullable=False),
    sa.Column("origin_id", sa.String(40)),  # ERP item number
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("description", sa.String(255)),
    sa.Column("cost_code", sa.String(40)),
    sa.Column("line_item_type", sa.String(40)),
    sa.Column("uom", sa.String(10)),
    sa.Column("quantity", Quantity(), nullable=False),
    sa.Column("unit_cost", UnitCost(), nullable=False),
    sa.Column("amount", Amount(), nullable=False),
    sa.Column("tax_code", sa.String(20)),
    sa.Column("remote_id", sa.BigInteger),  # Procore's line item id, when Procore is the store
    sa.UniqueConstraint("contract_id", "origin_id"),
)

# ERP values as last imported: the base of the three-way compare.
import_baselines = sa.Table(
    "import_baselines",
    metadata,
    sa.Column("contract_id", sa.ForeignKey("main_contracts.id"), primary_key=True),
    sa.Column("erp_hash", sa.String(64), nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("title", sa.String(255)),
    sa.Column("customer", sa.String(120)),
    sa.Column("retainage_pct", Percent()),
    sa.Column("start_date", sa.String(10)),
    sa.Column("projected_completion", sa.String(10)),
    sa.Column("original_amount", Amount()),
    sa.Column("erp_status", sa.String(20)),  # null for a baseline written before it was kept
)

baseline_items = sa.Table(
    "baseline_items",
    metadata,
    sa.Column("contract_id", sa.ForeignKey("main_contracts.id"), primary_key=True),
    sa.Column("item_no", sa.String(40), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("description", sa.String(255)),
    sa.Column("cost_code", sa.String(40)),
    sa.Column("line_item_type", sa.String(40)),
    sa.Column("uom", sa.String(10)),
    sa.Column("quantity", Quantity(), nullable=False),
    sa.Column("unit_cost", UnitCost(), nullable=False),
    sa.Column("amount", Amount(), nullable=False),
    sa.Column("tax_code", sa.String(20)),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # the Prefect flow-run id when there is one
    sa.Column("company_id", sa.ForeignKey("companies.id")),
    sa.Column("trigger", sa.String(20), nullable=False),  # scheduled / manual / cli
    sa.Column("deployment", sa.String(120)),  # the Prefect deployment, for scheduled and UI runs
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
)

# How a run ended: one append-only record, written when it finished, or when a later run or
# `audit mark-abandoned` found it dead without an end (abandoned). A run without one is
# running, or was killed and not found yet (`audit verify` names it).
run_ends = sa.Table(
    "run_ends",
    metadata,
    # Named as migration 0005 made it (not by the naming convention).
    sa.Column("run_id", sa.ForeignKey("sync_runs.id", name="fk_run_ends_run_id"), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),  # completed / failed / abandoned
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    # Contracts the run checked whose state was the one last recorded: counted, not recorded.
    sa.Column("contracts_repeated", sa.Integer),
)

# The audit log proper: append-only, enforced by triggers (see the initial migration).
audit_contracts = sa.Table(
    "audit_contracts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("sync_runs.id"), nullable=False),
    sa.Column("erp_company", sa.Integer, nullable=False),
    sa.Column("contract_no", sa.String(40), nullable=False),
    sa.Column("project_id", sa.Integer),
    sa.Column("contract_id", sa.Integer),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reasons", sa.String(400), nullable=False),  # space-separated reason codes
    sa.Column("failed_expectations", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("items_added", sa.Integer, nullable=False),
    sa.Column("items_changed", sa.Integer, nullable=False),
    sa.Column("items_removed", sa.Integer, nullable=False),
    sa.Column("items_unchanged", sa.Integer, nullable=False),
    sa.Column("header_changes", sa.Integer, nullable=False),
    sa.Column("amount_before", Amount()),
    sa.Column("amount_after", Amount()),
    sa.Column("erp_hash", sa.String(64)),
    sa.Column("version_before", sa.Integer),
    sa.Column("version_after", sa.Integer),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("run_id", "erp_company", "contract_no"),
    sa.Index("ix_audit_contracts_contract", "erp_company", "contract_no"),
    sa.Index("ix_audit_contracts_recorded_at", "recorded_at"),
)

audit_changes = sa.Table(
    "audit_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("audit_id", sa.ForeignKey("audit_contracts.id"), nullable=False, index=True),
    sa.Column("item_no", sa.String(40)),  # null for a header field
    sa.Column("change", sa.String(10), nullable=False),  # added / removed / changed
    sa.Column("field", sa.String(40)),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("overwritten", sa.Boolean, nullable=False),  # a store-side edit was overwritten
)

# Every change `contract-sync directory apply` made to the directory (companies, ERP
# integrations, projects, synced jobs, users, permissions): append-only like the audit log
# (see migration 0004); permission changes are marked as security events.
directory_changes = sa.Table(
    "directory_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("change_set", sa.String(36), nullable=False),  # one apply of one file
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),  # who applied it (--by)
    sa.Column("source", sa.Text),  # the file applied
    sa.Column("erp_company", sa.Integer),  # null for a user (logins are global)
    sa.Column("entry", sa.String(400), nullable=False),  # company 1 / user jdoe / main_contracts P
    sa.Column("kind", sa.String(20), nullable=False),  # company, integration, project, job, ...
    sa.Column("action", sa.String(10), nullable=False),  # added / changed / removed
    sa.Column("before", sa.JSON(none_as_null=True)),  # null: the entry was added
    sa.Column("after", sa.JSON(none_as_null=True)),  # null: the entry was removed
    sa.Column("security_event", sa.Boolean, nullable=False),
    sa.Index("ix_directory_changes_recorded_at", "recorded_at"),
)

# Web sign-in (contract_sync_faces.web): a user's password hash (argon2), set by `contract-sync
# users set-password`; the open sessions, each known by the SHA-256 of its cookie's token.
user_passwords = sa.Table(
    "user_passwords",
    metadata,
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),  # signed out: never valid again
)

# A run asked for on the web pages by a signed-in user: the deployment run carries its id,
# and the flow acts for it once (claimed by the run's id), as that user and for that scope.
run_requests = sa.Table(
    "run_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("login", sa.String(80), nullable=False),
    sa.Column("erp_company", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # reimport / import
    sa.Column("contract_no", sa.String(40), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("flow_run_id", sa.String(36), index=True),  # the run started for it
    sa.Column("claimed_by_run", sa.String(36)),  # the run that acted for it; null until then
)

# What a re-import wrote over that its audit rows do not say, per contract written: the
# positions it moved, and the baseline (header and the baseline items it changed) as they
# were before it. `contract-sync undo` restores a run's contracts from these and the audit's
# field changes. JSON text (contract_sync.stages.undo_images); append-only like the audit log.
undo_images = sa.Table(
    "undo_images",
    metadata,
    sa.Column("run_id", sa.ForeignKey("sync_runs.id"), primary_key=True),
    sa.Column("contract_id", sa.Integer, primary_key=True),
    sa.Column("image", sa.Text, nullable=False),
)

# The notices the daily digest told (contract_sync.notify), each once: a contract's blocked
# state by the audit row it began with ("contract:ID"), a failed or abandoned run ("run:ID").
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
)

# Who signed in, who failed to, and what was refused or started on the web pages:
# append-only and chained like the rest of the audit log.
web_events = sa.Table(
    "web_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event", sa.String(30), nullable=False),  # vocabulary.WebEvent
    sa.Column("login", sa.String(80), nullable=False),  # as given; may be no user's
    sa.Column("client", sa.String(64), nullable=False),  # the client's address
    sa.Column("erp_company", sa.Integer),
    sa.Column("detail", sa.String(400), nullable=False),
    sa.Index("ix_web_events_login_recorded_at", "login", "recorded_at"),
    sa.Index("ix_web_events_client_recorded_at", "client", "recorded_at"),
)

# The hash chain over every audit record (contract_sync.store.chain): record N's digest is
# SHA-256 over record N-1's digest and record N's canonical content.
audit_chain = sa.Table(
    "audit_chain",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("record_table", sa.String(40), nullable=False),
    sa.Column("record_key", sa.String(40), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    # Named as migration 0005 made it (not by the naming convention).
    sa.UniqueConstraint("record_table", "record_key", name="uq_audit_chain_record"),
)

# Records in the hash chain, each with its key and the time it was recorded at.
CHAINED = {
    "sync_runs": (sync_runs.c.id, sync_runs.c.started_at),
    "run_ends": (run_ends.c.run_id, run_ends.c.at),
    "audit_contracts": (audit_contracts.c.id, audit_contracts.c.recorded_at),
    "audit_changes": (audit_changes.c.id, None),  # recorded with its audit_contracts row
    "directory_changes": (directory_changes.c.id, directory_changes.c.recorded_at),
    "web_events": (web_events.c.id, web_events.c.recorded_at),
}
APPEND_ONLY_TABLES = [*CHAINED, "audit_chain", "undo_images"]

# A contract's writes to a store without transactions (Procore), recorded before the first
# call and removed with the audit row that records their end: one left is a contract
# written in part.
store_intents = sa.Table(
    "store_intents",
    metadata,
    sa.Column("erp_company", sa.Integer, primary_key=True),
    sa.Column("contract_no", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # reimport / import
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("contract_id", sa.Integer),
    sa.Column("erp_hash", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.Text),  # what is done so far, or the error that stopped it
)
