"""The store's directory as a document in the file format, and documents as YAML text."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import yaml

from contract_sync.directory.plan import ALL_PROJECTS, COMPANY_LEVEL, Snapshot, read_snapshot
from contract_sync.vocabulary import PERMISSION_LEVELS, Tool

HEADER = """\
# The company directory of a contract-sync project store: companies, their ERP integration,
# projects and the ERP jobs synced to them, users and their permissions.
# `contract-sync directory apply FILE --check` shows what applying it would change.
"""


def export_text(engine: sa.Engine) -> str:
    with engine.connect() as connection:
        return document_text(export_document(read_snapshot(connection)))


def export_document(store: Snapshot) -> dict[str, Any]:
    """The whole directory of the store: applying it changes nothing."""
    return {"companies": [_company(store, n, name) for n, name in sorted(store.companies.items())]}


def _company(store: Snapshot, n: int, name: str) -> dict[str, Any]:
    company: dict[str, Any] = {"erp_company": n, "name": name}
    if n in store.integrations:
        company["erp"], company["integration_configured"] = store.integrations[n]
    projects = [(number, name) for (c, number), name in store.projects.items() if c == n]
    jobs: dict[str, list[str]] = {}
    for (c, job), project in sorted(store.jobs.items()):
        if c == n:
            jobs.setdefault(project, []).append(job)
    company["projects"] = [
        {"number": number, "name": name, **({"jobs": jobs[number]} if number in jobs else {})}
        for number, name in projects
    ]
    order = {ALL_PROJECTS: -1} | {number: i for i, (number, _) in enumerate(projects)}
    users = []
    for login, user_name in store.users.items():
        held = {
            (tool, project): _lowest(levels)
            for (who, c, tool, project), levels in store.permissions.items()
            if who == login and c == n
        }
        if not held:
            continue
        user: dict[str, Any] = {"login": login, "name": user_name}
        if login in store.emails:
            user["email"] = store.emails[login]
        if (Tool.erp_integrations, COMPANY_LEVEL) in held:
            user["erp_integrations"] = held[(Tool.erp_integrations, COMPANY_LEVEL)]
        main = {p: level for (tool, p), level in held.items() if tool == Tool.main_contracts}
        if main:
            user["main_contracts"] = {
                p: main[p] for p in sorted(main, key=lambda p: order.get(p, len(order)))
            }
        users.append(user)
    company["users"] = users
    return {k: v for k, v in company.items() if v != []}


def _lowest(levels: list[str]) -> str:
    """The level of a permission held in several rows: the lowest of them (as the gates
    read it)."""
    return min(levels, key=PERMISSION_LEVELS.index)


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key; short lists and maps on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = (
        0 < len(data) <= FLOW_ITEMS
        and not _ENTRY_KEYS & set(data)
        and all(not isinstance(v, dict | list) for v in data.values())
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


FLOW_ITEMS = 8  # a permissions map this short goes on one line


class Code(str):
    """A project number or job code: always written in quotes (1001 is a number in YAML)."""


def _represent_code(dumper: yaml.SafeDumper, data: Code) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


def _represent_member(dumper: yaml.SafeDumper, data: StrEnum) -> yaml.Node:
    """A member of the vocabulary (a permission level) as its text."""
    return dumper.represent_str(data.value)


# Keys of entries: an entry is always written as a block, never on one line.
_ENTRY_KEYS = {"erp_company", "number", "login"}

_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(Code, _represent_code)
_Dumper.add_multi_representer(StrEnum, _represent_member)


def document_text(document: dict[str, Any], header: str = HEADER) -> str:
    """A directory document as the file's text; project numbers and job codes in quotes."""
    body = yaml.dump(
        _quoted(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return header + body


def _quoted(document: dict[str, Any]) -> dict[str, Any]:
    def project(p: dict) -> dict:
        codes = {k: [Code(j) for j in p[k]] for k in ("jobs", "remove_jobs") if k in p}
        return p | {"number": Code(p["number"])} | codes

    def user(u: dict) -> dict:
        if "main_contracts" not in u:
            return u
        return u | {"main_contracts": {Code(k): v for k, v in u["main_contracts"].items()}}

    def company(c: dict) -> dict:
        children = {
            "projects": [project(p) for p in c.get("projects", [])],
            "users": [user(u) for u in c.get("users", [])],
        }
        return c | {k: v for k, v in children.items() if k in c}

    return document | {"companies": [company(c) for c in document.get("companies", [])]}
