"""The layers: the core never reaches up into orchestration, and commands pay only for
what they use (Prefect and Great Expectations cost seconds to import)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
FACES, FLOWS, TASKS = "contract_sync_faces", "contract_sync_flows", "contract_sync_tasks"
# The layers, from the bottom up, as their folders and what each may not import.
FORBIDDEN = {
    "contract_sync": {"prefect", FACES, FLOWS, TASKS},
    "tasks": {FACES, FLOWS},
    "flows": {FACES},
}
# Names of the folders that never install as such (pyproject maps them to the names above).
BARE = {"flows", "tasks", "faces"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _sources() -> list[Path]:
    folders = ["contract_sync", "faces", "flows", "tasks", "bench", "tests"]
    return [path for folder in folders for path in (PROJECT / folder).rglob("*.py")]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_reaches_up(layer):
    """The core imports no orchestration and no face, with no exception; tasks import
    neither flows nor faces; flows import no face."""
    offenders = {
        str(path.relative_to(PROJECT)): sorted(_imported_roots(path) & FORBIDDEN[layer])
        for path in (PROJECT / layer).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_nothing_imports_a_folder_by_its_bare_name():
    """`flows`, `tasks` and `faces` are imported by their installed names only."""
    offenders = {str(p.relative_to(PROJECT)): _imported_roots(p) & BARE for p in _sources()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_tasks_only_wrap_core_functions():
    """Every module-level object in tasks/ is a Prefect task around a core function."""
    from prefect.tasks import Task

    from contract_sync_tasks import stages

    tasks = [v for k, v in vars(stages).items() if k.endswith("_task") and k != "_task"]
    assert tasks and all(isinstance(t, Task) for t in tasks)
    assert all(t.fn.__module__.startswith("contract_sync.") for t in tasks)
    assert set(stages.TASKS) == {t.fn for t in tasks}


def _modules_after(args: list[str], env: dict[str, str]) -> tuple[str, list[str]]:
    """Run the CLI in a fresh interpreter; which heavy packages did the command import?"""
    probe = (
        "import sys\n"
        "from contract_sync_faces.cli import app\n"
        "try:\n"
        f"    app({args!r}, standalone_mode=False)\n"
        "finally:\n"
        "    print('IMPORTED', 'prefect' in sys.modules, 'great_expectations' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, done.stdout.strip().splitlines()[-1].split()[1:]


@pytest.mark.parametrize("args", [["--help"], ["web", "--help"]])
def test_help_imports_neither_prefect_nor_gx(args):
    _, imported = _modules_after(args, dict(os.environ))
    assert imported == ["False", "False"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_web_pages_start_without_prefect(configured):
    """The page server imports Prefect at the first click or run page, not at its start."""
    probe = (
        "import sys\n"
        "from contract_sync.settings import get_settings\n"
        "from contract_sync_faces.web.app import create_app\n"
        "from contract_sync_faces.web.prefect_api import PrefectRuns\n"
        "create_app(get_settings(), PrefectRuns.from_environment())\n"
        "print('prefect' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_commands_run_without_prefect_and_without_gx_for_the_project_suites(configured):
    """The project's suites are checked without Great Expectations (stages/suite_checks.py):
    no command loads it, not even one that validates."""
    env = dict(os.environ, COLUMNS="200")
    shown, imported = _modules_after(["ready"], env)
    assert "ERP company 1: main contracts ready to be imported" in shown
    assert imported == ["False", "False"]  # contracts not imported yet are validated
    shown, imported = _modules_after(["diff", "24008-"], env)
    assert "24008- as sync-service: " in shown  # its verdict, after its lines or none
    assert imported == ["False", "False"]
    shown, imported = _modules_after(["audit", "report"], env)
    assert "audit rows" in shown
    assert imported == ["False", "False"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_imports(path: Path, known: set[str]) -> set[str]:
    """The core modules `path` imports anywhere in it: at the top, inside a function or
    under TYPE_CHECKING alike (`from package import module` names the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found & known


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), or of one that
    imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_core_has_no_import_cycle_lazy_or_typed():
    paths = [p for p in (PROJECT / "contract_sync").rglob("*.py") if "versions" not in p.parts]
    known = {_module_name(p) for p in paths}
    graph = {_module_name(p): _core_imports(p, known) - {_module_name(p)} for p in paths}
    # A package's __init__ is imported with any of its modules: not an edge of its own.
    packages = {m for m in known if (PROJECT / m.replace(".", "/") / "__init__.py").exists()}
    graph = {m: targets - packages for m, targets in graph.items()}
    assert _cycles(graph) == []
