"""Seeds both sides: the Vista ERP database and the project store it was imported into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from contract_sync.bulk import insert_frame, reset_id_sequences
from contract_sync.columns import HEADER_FIELDS, ITEM_FIELDS
from contract_sync.demo.generator import (
    EDGE_COMPANY,
    CompanyData,
    edge_case_contracts,
    generate_company,
    imported_store_items,
)
from contract_sync.erp.vista_schema import JCCM
from contract_sync.erp.vista_write import create_vista_tables, write_vista
from contract_sync.errors import UserError
from contract_sync.hashing import contract_hashes
from contract_sync.store import schema as s

COMPANY_NAMES = ["Granite Peak Builders", "Bayside Constructors", "Cascade General Contracting"]
# login -> (ERP Integrations level, Main Contracts level)
USERS = {
    "sync-service": ("admin", "admin"),
    "admin": ("admin", "admin"),
    "estimator": ("standard", "admin"),
    "viewer": ("read_only", "read_only"),
}


class AlreadySeeded(UserError, RuntimeError):
    pass


@dataclass(frozen=True)
class SeedSummary:
    companies: int
    contracts: int
    items: int
    store_contracts: int


def seed(
    erp: sa.Engine,
    store: sa.Engine,
    companies: int,
    contracts: int,
    items_per_contract: int,
    seed: int,
) -> SeedSummary:
    """Write a generated company set into an empty ERP database and an upgraded, empty store."""
    create_vista_tables(erp)
    with erp.connect() as connection:
        if connection.execute(sa.select(sa.func.count()).select_from(JCCM)).scalar():
            raise AlreadySeeded(f"the ERP database at {erp.url!r} already holds contracts")
    with store.connect() as connection:
        if connection.execute(sa.select(sa.func.count()).select_from(s.companies)).scalar():
            raise AlreadySeeded(f"the project store at {store.url!r} already holds companies")
    data = [
        generate_company(c, contracts, items_per_contract, seed) for c in range(1, companies + 1)
    ]
    with erp.begin() as connection:
        for company in data:
            write_vista(connection, company.contracts, company.items)
    rows = store_rows(data, np.random.default_rng([seed, 0]))
    with store.begin() as connection:
        for table_name, frame in rows.items():
            insert_frame(connection, s.metadata.tables[table_name], frame)
        reset_id_sequences(connection, [s.metadata.tables[t] for t in rows if "id" in rows[t]])
    return SeedSummary(
        companies=companies,
        contracts=sum(len(c.contracts) for c in data),
        items=sum(len(c.items) for c in data),
        store_contracts=len(rows["main_contracts"]),
    )


def store_rows(data: list[CompanyData], rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Every store table's rows, in insertion order, as frames with explicit ids."""
    now = datetime.now(UTC)
    companies = pd.DataFrame(
        {
            "id": [d.company for d in data],
            "erp_company": [d.company for d in data],
            "name": [COMPANY_NAMES[(d.company - 1) % len(COMPANY_NAMES)] for d in data],
        }
    )
    integrations = pd.DataFrame(
        {"company_id": companies["id"], "erp_type": [d.erp_type for d in data], "configured": True}
    )
    users = pd.DataFrame(
        {"id": range(1, len(USERS) + 1), "login": list(USERS), "name": [u.title() for u in USERS]}
    )
    projects, synced, contracts, items, baselines, baseline_items = [], [], [], [], [], []
    next_project, next_contract = 1, 1
    for company in data:
        p, j, c, i, b, bi = _company_store_rows(company, next_project, next_contract, rng, now)
        next_project += len(p)
        next_contract += len(c)
        projects.append(p)
        synced.append(j)
        contracts.append(c)
        items.append(i)
        baselines.append(b)
        baseline_items.append(bi)
    projects_frame = pd.concat(projects, ignore_index=True)
    items_frame = pd.concat(items, ignore_index=True)
    items_frame.insert(0, "id", np.arange(1, len(items_frame) + 1))
    return {
        "companies": companies,
        "erp_integrations": integrations,
        "users": users,
        "projects": projects_frame.drop(columns="contract_no"),
        "synced_jobs": _with_ids(pd.concat(synced, ignore_index=True)),
        "tool_permissions": _with_ids(_permissions(companies, projects_frame, users)),
        "main_contracts": pd.concat(contracts, ignore_index=True),
        "line_items": items_frame,
        "import_baselines": pd.concat(baselines, ignore_index=True),
        "baseline_items": pd.concat(baseline_items, ignore_index=True),
    }


def _with_ids(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(id=np.arange(1, len(frame) + 1))


def _company_store_rows(
    data: CompanyData,
    first_project: int,
    first_contract: int,
    rng: np.random.Generator,
    now: datetime,
):
    header = data.imported_contracts
    edge = edge_case_contracts(header["contract_no"]) if data.company == EDGE_COMPANY else {}
    projects = pd.DataFrame(
        {
            "id": np.arange(first_project, first_project + len(header)),
            "company_id": data.company,
            "number": header["job_no"],
            "name": header["title"],
            "contract_no": header["contract_no"],
        }
    )
    if "contract_in_multiple_projects" in edge:
        twin = projects[projects["contract_no"] == edge["contract_in_multiple_projects"]].assign(
            id=first_project + len(header),
            number=lambda f: f["number"] + "-B",
            name=lambda f: f["name"] + " (Phase B)",
        )
        projects = pd.concat([projects, twin], ignore_index=True)
    synced = projects[~projects["number"].str.endswith("-B")]
    synced = synced[~_is_edge(synced["contract_no"], edge, "job_not_synced")]
    synced = pd.DataFrame(
        {"company_id": data.company, "project_id": synced["id"], "erp_job_no": synced["number"]}
    )
    # Main contracts exist where an import happened: never on QuickBooks, not for "not_imported".
    imported = projects
    if data.erp_type == "quickbooks_online":
        imported = projects.iloc[0:0]
    imported = imported[~_is_edge(imported["contract_no"], edge, "not_imported")]
    imported = imported.reset_index(drop=True)
    erp = header.set_index("contract_no").loc[imported["contract_no"]].reset_index()
    contracts = erp[["contract_no", *HEADER_FIELDS]].assign(
        id=np.arange(first_contract, first_contract + len(imported)),
        company_id=data.company,
        project_id=imported["id"].to_numpy(),
        origin_id=erp["contract_no"],
        number=erp["contract_no"],
        status=np.where(
            _is_edge(erp["contract_no"], edge, "contract_unapproved"), "Draft", "Approved"
        ),
        version=1,
        updated_at=now,
    )
    contract_ids = contracts[["id", "contract_no"]].rename(columns={"id": "contract_id"})
    erp_items = data.imported_items.merge(contract_ids, on="contract_no")
    store_items = imported_store_items(data, rng).merge(contract_ids, on="contract_no")
    hashes = contract_hashes(header, data.imported_items)
    hash_by_contract = pd.Series(hashes.to_numpy(), index=header["contract_no"])
    baselines = (
        contracts[["id", *HEADER_FIELDS]]
        .rename(columns={"id": "contract_id"})
        .assign(erp_hash=hash_by_contract.loc[contracts["contract_no"]].to_numpy(), imported_at=now)
    )
    line_items = store_items[["contract_id", "item_no", *ITEM_FIELDS]].rename(
        columns={"item_no": "origin_id"}
    )
    baseline_items = erp_items[["contract_id", "item_no", *ITEM_FIELDS]]
    return (
        projects,
        synced,
        contracts.drop(columns="contract_no"),
        line_items,
        baselines,
        baseline_items,
    )


def _is_edge(contract_nos: pd.Series, edge: dict[str, str], case: str) -> pd.Series:
    return contract_nos.isin([edge[case]] if case in edge else [])


def _permissions(
    companies: pd.DataFrame, projects: pd.DataFrame, users: pd.DataFrame
) -> pd.DataFrame:
    levels = pd.DataFrame(
        [(login, erp, main) for login, (erp, main) in USERS.items()],
        columns=["login", "erp_level", "main_level"],
    ).merge(users[["id", "login"]], on="login")
    company_level = (
        companies[["id"]].rename(columns={"id": "company_id"}).merge(levels, how="cross")
    )
    company_rows = pd.DataFrame(
        {
            "user_id": company_level["id"],
            "company_id": company_level["company_id"],
            "tool": "erp_integrations",
            "project_id": None,
            "level": company_level["erp_level"],
        }
    )
    project_level = (
        projects[["id", "company_id"]]
        .rename(columns={"id": "project_id"})
        .merge(levels, how="cross")
    )
    main_level = project_level["main_level"].mask(
        (project_level["login"] == "sync-service")
        & project_level["project_id"].isin(_permission_edge_projects(projects)),
        "standard",
    )
    project_rows = pd.DataFrame(
        {
            "user_id": project_level["id"],
            "company_id": project_level["company_id"],
            "tool": "main_contracts",
            "project_id": project_level["project_id"],
            "level": main_level,
        }
    )
    return pd.concat([company_rows, project_rows], ignore_index=True)


def _permission_edge_projects(projects: pd.DataFrame) -> list[int]:
    """The project where the service user holds only Standard on Main Contracts."""
    company = projects[projects["company_id"] == EDGE_COMPANY]
    if company.empty:
        return []
    edge = edge_case_contracts(company["contract_no"])
    return list(company.loc[company["contract_no"] == edge["permission_denied"], "id"])
