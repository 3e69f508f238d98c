"""The product's modules as syntax trees, for tests that hold a rule over every one of them."""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# The product's folders: the core, its faces, its flows and its tasks.
FOLDERS = ["contract_sync", "faces", "flows", "tasks"]


def modules() -> dict[str, ast.Module]:
    """Every module of the product, by its path from the project folder."""
    paths = sorted(p for folder in FOLDERS for p in (PROJECT / folder).rglob("*.py"))
    return {p.relative_to(PROJECT).as_posix(): ast.parse(p.read_text(), str(p)) for p in paths}
