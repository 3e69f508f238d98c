"""Code run in an interpreter of its own: for what the test session may have imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python(code: str) -> str:
    """What `code` prints, run from the project folder; fails the test if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "false"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
