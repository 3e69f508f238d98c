"""A simulator fixture made from a contract-sync ledger: its company's projects, each linked
to its synced ERP job by origin_id "<company>:<job>" as Procore's ERP integrations link
them, and no prime contract yet (a first import makes them). For the demo and the tests."""

from __future__ import annotations

import sqlalchemy as sa

from contract_sync.store import schema as s

CLIENT_ID, CLIENT_SECRET = "sim-client", "sim-secret"
PROJECT_IDS_FROM = 10_000  # Procore's project id: this plus the ledger's
CONTRACT_TABLES = (s.baseline_items, s.import_baselines, s.line_items, s.main_contracts)


def fixture_from_store(ledger: sa.Engine, erp_company: int, procore_company: int) -> dict:
    p, j, c = s.projects, s.synced_jobs, s.companies
    with ledger.connect() as connection:
        rows = connection.execute(
            sa.select(p.c.id, p.c.number, p.c.name, j.c.erp_job_no)
            .select_from(p.outerjoin(j, j.c.project_id == p.c.id).join(c, c.c.id == p.c.company_id))
            .where(c.c.erp_company == erp_company)
            .order_by(p.c.id)
        ).all()
        name = connection.execute(
            sa.select(c.c.name).where(c.c.erp_company == erp_company)
        ).scalar_one()
    projects = [
        {
            "id": PROJECT_IDS_FROM + row.id,
            "company_id": procore_company,
            "name": row.name,
            "project_number": row.number,
            **({"origin_id": f"{erp_company}:{row.erp_job_no}"} if row.erp_job_no else {}),
        }
        for row in rows
    ]
    return {
        "companies": [{"id": procore_company, "name": name}],
        "users": [],
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "company_ids": [procore_company],
            }
        ],
        "projects": projects,
    }


def procore_settings(base_url: str, procore_company: int) -> dict[str, object]:
    """The settings that make the simulator at `base_url` the project store."""
    return {
        "store": "procore",
        "procore_base_url": base_url,
        "procore_login_url": base_url,
        "procore_client_id": CLIENT_ID,
        "procore_client_secret": CLIENT_SECRET,
        "procore_company_id": procore_company,
    }


def as_environment(settings: dict[str, object]) -> dict[str, str]:
    """Settings as the CONTRACT_SYNC_* variables a command reads."""
    return {f"CONTRACT_SYNC_{name.upper()}": str(value) for name, value in settings.items()}


def without_contracts(ledger: sa.Engine) -> None:
    """The ledger's directory kept (companies, users, rights, projects), its contracts and
    their baselines gone: the store they came from is not Procore, which holds none yet."""
    with ledger.begin() as connection:
        for table in CONTRACT_TABLES:
            connection.execute(table.delete())
