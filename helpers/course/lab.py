"""Start JupyterLab on the curriculum, set up for learning.

``make lab`` (``python -m helpers.course lab``) creates the learner's copies of the
exercises, switches off JupyterLab's first-run news prompt, keeps nbgrader's Validate
button but hides the instructor panels (``--instructor`` shows them), and opens the
walkthroughs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.course.cells import kernel_env
from helpers.course.steps import REPO
from helpers.course.workspace import ensure_copies, relative

INSTRUCTOR_PLUGINS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
]
SETTINGS_OVERRIDES = {
    # No "Would you like to receive official Jupyter news?" pop-up, no update checks.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def write_settings_overrides(prefix: Path = Path(sys.prefix)) -> Path:
    """JupyterLab's settings overrides for this environment (merged with any already there)."""
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(SETTINGS_OVERRIDES)
    path.write_text(json.dumps(current, indent=2) + "\n")
    return path


def set_instructor_panels(enabled: bool) -> None:
    """Show or hide nbgrader's instructor panels in this environment's JupyterLab."""
    action = "enable" if enabled else "disable"
    for plugin in INSTRUCTOR_PLUGINS:
        subprocess.run(
            [sys.executable, "-m", "jupyter", "labextension", action, "--level=sys_prefix", plugin],
            check=True, capture_output=True, env=kernel_env(),
        )


def run(instructor: bool = False, extra_args: list[str] | None = None) -> int:
    """Prepare and start JupyterLab at the repository root; returns its exit code."""
    if not instructor:  # an instructor grades in submitted/, and needs no learner copies
        for path in ensure_copies():
            print(f"Created your copy of the exercises: {relative(path)}")
    write_settings_overrides()
    set_instructor_panels(instructor)
    command = [
        sys.executable, "-m", "jupyter", "lab",
        f"--ServerApp.root_dir={REPO}",
        "--ServerApp.ip=127.0.0.1",
        "--LabApp.default_url=/lab/tree/notebooks",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),  # containers
        *(extra_args or []),
    ]
    print("Starting JupyterLab; press Ctrl-C twice to stop it.")
    try:
        return subprocess.call(command, cwd=REPO, env=kernel_env())
    except KeyboardInterrupt:
        return 0
