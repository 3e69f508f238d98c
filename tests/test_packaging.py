"""Packaging: the wheel holds everything the commands need (suites, migrations, templates),
and the installed `contract-sync` runs from a fresh venv outside the project folder."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]
MAPPED = SETUPTOOLS.get("package-dir", {})  # package -> folder outside its parent's folder

# Loaded in every interpreter of the fresh venv (from a .pth file): at exit, appends the file
# of each imported module to $CS_MODULE_LOG, so the test sees what the commands imported.
MODULE_LOG = """\
import atexit, os, sys


def _write():
    with open(os.environ["CS_MODULE_LOG"], "a") as log:
        for module in list(sys.modules.values()):
            if getattr(module, "__file__", None):
                log.write(module.__file__ + "\\n")


if os.environ.get("CS_MODULE_LOG"):
    atexit.register(_write)
"""


def test_every_package_folder_is_listed_in_pyproject():
    """pyproject lists the packages by hand (for the mapped folders); a new one must be added."""
    roots = {name.split(".")[0] for name in SETUPTOOLS["packages"]} - set(MAPPED)
    found = set()
    for package, top in [*((r, r) for r in roots), *MAPPED.items()]:
        for folder in [PROJECT / top, *(PROJECT / top).rglob("*")]:
            parts = folder.relative_to(PROJECT / top).parts
            if folder.is_dir() and not any(p == "__pycache__" or p[0] == "." for p in parts):
                found.add(".".join((package, *parts)))
    assert set(SETUPTOOLS["packages"]) == found


def test_nothing_installs_a_generic_top_level_package():
    """Every installed top-level package is named for the product: no `flows` or `tasks` to
    collide with another project's."""
    tops = {name.split(".")[0] for name in SETUPTOOLS["packages"]}
    assert all(top.startswith("contract_sync") for top in tops), tops


def _copy_sources(target: Path) -> Path:
    """What the build reads, copied: no build/ or egg-info left in the shared working tree."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    roots = {name.split(".")[0] for name in SETUPTOOLS["packages"]} - set(MAPPED)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in sorted(roots | set(MAPPED.values())):
        shutil.copytree(PROJECT / folder, target / folder, ignore=ignore)
    for name in ("pyproject.toml", project["readme"]):
        shutil.copy2(PROJECT / name, target / name)
    return target


def _build_wheel(source: Path, dist: Path) -> Path:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist)]
    # setuptools >= 70.1 builds wheels itself: build offline with it, else in pip's isolation
    try:
        setuptools = importlib.metadata.version("setuptools").split(".")
    except importlib.metadata.PackageNotFoundError:
        setuptools = []
    if tuple(int(n) for n in setuptools[:2] if n.isdigit()) >= (70, 1):
        command.append("--no-build-isolation")
    _run([*command, "--disable-pip-version-check", str(source)])
    (wheel,) = dist.glob("contract_sync-*.whl")
    return wheel


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=300, **kwargs
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def _fresh_venv(venv: Path, wheel: Path) -> list[Path]:
    """A venv with the wheel installed, and this interpreter's dependencies borrowed."""
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index"]
        + ["--quiet", "--disable-pip-version-check", wheel]
    )
    # After the install, so pip never sees (nor touches) the editable install borrowed here.
    # Lines of a .pth only extend sys.path: the .pth files in those folders (the editable
    # finder of contract_sync among them) are not processed, as asserted below.
    where = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    site_packages = Path(where.stdout.strip())
    here = [*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    borrowed = [Path(p).resolve() for p in dict.fromkeys(here) if Path(p).is_dir()]
    (site_packages / "_borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in borrowed))
    (site_packages / "_cs_module_log.py").write_text(MODULE_LOG)
    (site_packages / "_cs_module_log.pth").write_text("import _cs_module_log\n")
    return borrowed


@pytest.mark.slow
def test_the_wheel_runs_the_cli_from_a_fresh_venv(tmp_path):
    wheel = _build_wheel(_copy_sources(tmp_path / "src"), tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    core = PROJECT / "contract_sync"
    data = [*(core / "store" / "migrations").rglob("*.py"), *core.glob("reports/templates/*")]
    expected = {p.relative_to(PROJECT).as_posix() for p in data if "__pycache__" not in p.parts}
    expected |= {
        f"contract_sync/expectations/{p.name}" for p in PROJECT.glob("expectations/*.json")
    }
    assert len(expected) >= 3 + 4 and expected <= names, sorted(expected - names)

    venv = tmp_path / "venv"
    borrowed = _fresh_venv(venv, wheel)
    work = tmp_path / "work"  # an empty folder, not the project's
    work.mkdir()
    module_log = tmp_path / "modules.txt"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONTRACT_SYNC_", "PYTHON", "VIRTUAL_ENV"))
    }
    env |= {
        "CONTRACT_SYNC_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "GX_ANALYTICS_ENABLED": "false",
        "CS_MODULE_LOG": str(module_log),
    }

    probe = (
        "import sys, contract_sync; from contract_sync.settings import Settings\n"
        "print(contract_sync.__file__); print(Settings().expectations_dir)\n"
        "print(sorted(m for m in sys.modules if 'editable' in m))"
    )
    lines = _run([venv / "bin" / "python", "-c", probe], cwd=work, env=env).stdout.splitlines()
    package, suites = Path(lines[0]).resolve(), Path(lines[1]).resolve()
    assert package.is_relative_to(venv.resolve()) and suites.is_relative_to(venv.resolve())
    suite_names = sorted(p.name for p in (PROJECT / "expectations").glob("*.json"))
    assert sorted(p.name for p in suites.glob("*.json")) == suite_names
    assert lines[2] == "[]"  # the editable finder of the borrowed site-packages is not loaded

    cli = venv / "bin" / "contract-sync"
    for args in (
        ["db", "upgrade"],
        ["demo", "seed", "--contracts", "10", "--items-per-contract", "4"],
        ["demo", "edit-erp", "--fraction", "1"],
    ):
        _run([cli, *args], cwd=work, env=env)
    sync = _run([cli, "sync"], cwd=work, env=env)
    assert "re-imported" in sync.stdout

    imported = {Path(f).resolve() for f in module_log.read_text().splitlines()}
    from_checkout = {
        f
        for f in imported
        if f.is_relative_to(PROJECT) and not any(f.is_relative_to(b) for b in borrowed)
    }
    assert not from_checkout, sorted(from_checkout)
    ours = {f for f in imported if "contract_sync" in f.parts}
    assert ours and all(f.is_relative_to(venv.resolve()) for f in ours)
    assert list(work.iterdir()) == []  # nothing written to the folder it ran from
