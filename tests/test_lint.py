"""ruff over helpers/, tests/, the walkthroughs and the solutions (config in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from helpers.course.steps import REPO


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
