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
ORCHESTRATION = ("prefect", "flows", "tasks")


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


# The one exception: the command line records its runs as Prefect flow runs when
# PREFECT_API_URL names a server, through flows/recorded.py, imported only then.
ALLOWED = {"contract_sync/cli.py": ["flows"]}


def test_the_core_imports_neither_prefect_nor_flows_nor_tasks():
    offenders = {
        str(path.relative_to(PROJECT)): sorted(_imported_roots(path) & set(ORCHESTRATION))
        for path in (PROJECT / "contract_sync").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == ALLOWED


def test_tasks_only_wrap_core_functions():
    """Every module-level object in tasks/ is a Prefect task around a core function."""
    from prefect.tasks import Task

    from tasks import stages

    tasks = [v for k, v in vars(stages).items() if k.endswith("_task") and k != "_task"]
    assert tasks and all(isinstance(t, Task) for t in tasks)
    assert all(t.fn.__module__.startswith("contract_sync.") for t in tasks)
    assert set(stages.TASKS) == {t.fn for t in tasks}


def _modules_after(args: list[str], env: dict[str, str]) -> tuple[str, list[str]]:
    """Run the CLI in a fresh interpreter; which heavy packages did the command import?"""
    probe = (
        "import sys\n"
        "from contract_sync.cli import app\n"
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


def test_help_imports_neither_prefect_nor_gx():
    _, imported = _modules_after(["--help"], dict(os.environ))
    assert imported == ["False", "False"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_commands_run_without_prefect_and_gx_only_to_validate(configured):
    env = dict(os.environ, COLUMNS="200")
    shown, imported = _modules_after(["ready"], env)
    assert "ERP main contracts ready to be imported" in shown
    assert imported == ["False", "True"]  # contracts not imported yet are validated
    shown, imported = _modules_after(["ready"], env)
    assert "ERP main contracts ready to be imported" in shown
    assert imported == ["False", "False"]  # ... once: their verdicts are kept
    for gx_imported in ("True", "False"):  # compared in full: validated, then known
        shown, imported = _modules_after(["diff", "24008-"], env)
        assert "Re-import preview of contract 24008-" in shown
        assert imported == ["False", gx_imported]
    shown, imported = _modules_after(["audit", "report"], env)
    assert "audit rows" in shown
    assert imported == ["False", "False"]
