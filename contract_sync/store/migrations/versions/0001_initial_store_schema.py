"""Initial store schema, with the audit log made append-only by triggers.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from contract_sync.store.migrations import scaled_0001

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("erp_company", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("erp_company", name=op.f("uq_companies_erp_company")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
    )
    op.create_table(
        "erp_integrations",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("erp_type", sa.String(length=40), nullable=False),
        sa.Column("configured", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_erp_integrations_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_erp_integrations")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_projects_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("company_id", "number", name=op.f("uq_projects_company_id_number")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_company_id"), ["company_id"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_sync_runs_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_table(
        "audit_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("erp_company", sa.Integer(), nullable=False),
        sa.Column("contract_no", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.String(length=400), nullable=False),
        sa.Column("failed_expectations", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("items_added", sa.Integer(), nullable=False),
        sa.Column("items_changed", sa.Integer(), nullable=False),
        sa.Column("items_removed", sa.Integer(), nullable=False),
        sa.Column("items_unchanged", sa.Integer(), nullable=False),
        sa.Column("header_changes", sa.Integer(), nullable=False),
        sa.Column("amount_before", scaled_0001.Scaled(precision=15, scale=2), nullable=True),
        sa.Column("amount_after", scaled_0001.Scaled(precision=15, scale=2), nullable=True),
        sa.Column("erp_hash", sa.String(length=64), nullable=True),
        sa.Column("version_before", sa.Integer(), nullable=True),
        sa.Column("version_after", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_audit_contracts_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_contracts")),
        sa.UniqueConstraint(
            "run_id",
            "erp_company",
            "contract_no",
            name=op.f("uq_audit_contracts_run_id_erp_company_contract_no"),
        ),
    )
    with op.batch_alter_table("audit_contracts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_contracts_contract", ["erp_company", "contract_no"], unique=False
        )

    op.create_table(
        "main_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("origin_id", sa.String(length=40), nullable=True),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("customer", sa.String(length=120), nullable=True),
        sa.Column("retainage_pct", scaled_0001.Scaled(precision=5, scale=2), nullable=True),
        sa.Column("start_date", sa.String(length=10), nullable=True),
        sa.Column("projected_completion", sa.String(length=10), nullable=True),
        sa.Column(
            "original_amount",
            scaled_0001.Scaled(precision=15, scale=2),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_main_contracts_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_main_contracts_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_main_contracts")),
        sa.UniqueConstraint(
            "project_id", "origin_id", name=op.f("uq_main_contracts_project_id_origin_id")
        ),
    )
    with op.batch_alter_table("main_contracts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_main_contracts_company_origin", ["company_id", "origin_id"], unique=False
        )

    op.create_table(
        "synced_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("erp_job_no", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_synced_jobs_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_synced_jobs_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_jobs")),
        sa.UniqueConstraint(
            "company_id", "erp_job_no", name=op.f("uq_synced_jobs_company_id_erp_job_no")
        ),
    )
    op.create_table(
        "tool_permissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "level IN ('none', 'read_only', 'standard', 'admin')",
            name=op.f("ck_tool_permissions_level_known"),
        ),
        sa.CheckConstraint(
            "tool IN ('erp_integrations', 'main_contracts')",
            name=op.f("ck_tool_permissions_tool_known"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_tool_permissions_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_tool_permissions_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tool_permissions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_permissions")),
    )
    with op.batch_alter_table("tool_permissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tool_permissions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("item_no", sa.String(length=40), nullable=True),
        sa.Column("change", sa.String(length=10), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("overwritten", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_id"],
            ["audit_contracts.id"],
            name=op.f("fk_audit_changes_audit_id_audit_contracts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_changes")),
    )
    with op.batch_alter_table("audit_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_changes_audit_id"), ["audit_id"], unique=False)

    op.create_table(
        "baseline_items",
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("item_no", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("cost_code", sa.String(length=40), nullable=True),
        sa.Column("line_item_type", sa.String(length=40), nullable=True),
        sa.Column("uom", sa.String(length=10), nullable=True),
        sa.Column("quantity", scaled_0001.Scaled(precision=15, scale=3), nullable=False),
        sa.Column("unit_cost", scaled_0001.Scaled(precision=15, scale=5), nullable=False),
        sa.Column("amount", scaled_0001.Scaled(precision=15, scale=2), nullable=False),
        sa.Column("tax_code", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["main_contracts.id"],
            name=op.f("fk_baseline_items_contract_id_main_contracts"),
        ),
        sa.PrimaryKeyConstraint("contract_id", "item_no", name=op.f("pk_baseline_items")),
    )
    op.create_table(
        "import_baselines",
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("erp_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("customer", sa.String(length=120), nullable=True),
        sa.Column("retainage_pct", scaled_0001.Scaled(precision=5, scale=2), nullable=True),
        sa.Column("start_date", sa.String(length=10), nullable=True),
        sa.Column("projected_completion", sa.String(length=10), nullable=True),
        sa.Column(
            "original_amount",
            scaled_0001.Scaled(precision=15, scale=2),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["main_contracts.id"],
            name=op.f("fk_import_baselines_contract_id_main_contracts"),
        ),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_import_baselines")),
    )
    op.create_table(
        "line_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("origin_id", sa.String(length=40), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("cost_code", sa.String(length=40), nullable=True),
        sa.Column("line_item_type", sa.String(length=40), nullable=True),
        sa.Column("uom", sa.String(length=10), nullable=True),
        sa.Column("quantity", scaled_0001.Scaled(precision=15, scale=3), nullable=False),
        sa.Column("unit_cost", scaled_0001.Scaled(precision=15, scale=5), nullable=False),
        sa.Column("amount", scaled_0001.Scaled(precision=15, scale=2), nullable=False),
        sa.Column("tax_code", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["main_contracts.id"],
            name=op.f("fk_line_items_contract_id_main_contracts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_items")),
        sa.UniqueConstraint(
            "contract_id", "origin_id", name=op.f("uq_line_items_contract_id_origin_id")
        ),
    )

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("line_items")
    op.drop_table("import_baselines")
    op.drop_table("baseline_items")
    with op.batch_alter_table("audit_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_changes_audit_id"))

    op.drop_table("audit_changes")
    with op.batch_alter_table("tool_permissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tool_permissions_user_id"))

    op.drop_table("tool_permissions")
    op.drop_table("synced_jobs")
    with op.batch_alter_table("main_contracts", schema=None) as batch_op:
        batch_op.drop_index("ix_main_contracts_company_origin")

    op.drop_table("main_contracts")
    with op.batch_alter_table("audit_contracts", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_contracts_contract")

    op.drop_table("audit_contracts")
    op.drop_table("sync_runs")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_company_id"))

    op.drop_table("projects")
    op.drop_table("erp_integrations")
    op.drop_table("users")
    op.drop_table("companies")


APPEND_ONLY = ("audit_contracts", "audit_changes")


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the audit log is append-only: % on % refused', "
            "TG_OP, TG_TABLE_NAME; END $$"
        )
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            name = f"{table}_no_{action.lower()}"
            if op.get_bind().dialect.name == "postgresql":
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'the audit log is append-only: {action} on {table} "
                    "refused'); END"
                )


def _drop_append_only_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{action}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION refuse_audit_change()")
