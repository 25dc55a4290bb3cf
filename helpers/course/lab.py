"""Start JupyterLab on the curriculum, set up for learning.

``make lab`` (``python -m helpers.course lab``) creates the learner's copies (exercises
and walkthroughs) in ``my-work/``, writes the course home ``HOME.md`` and opens
JupyterLab on it, with the file browser at the repository root. It switches off
JupyterLab's first-run news prompt, shows Markdown rendered, keeps nbgrader's Validate
button, answered question by question (helpers/course/validate.py), but hides the
instructor panels and the Nbgrader menu (``--instructor`` shows them).

The set-up is three small JSON files in this environment (``page_config.json``,
``overrides.json``, a server config enabling the Validate handler), written only when
they would change, so a warm start costs JupyterLab's own start-up and nothing more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.course import home
from helpers.course.cells import kernel_env
from helpers.course.steps import REPO
from helpers.course.workspace import ensure_copies, relative

INSTRUCTOR_PLUGINS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:menu",  # the menu bar's "Nbgrader": empty once the panels are hidden
]
VALIDATE_EXTENSION = "helpers.course.validate"  # Validate's per-question summary
SETTINGS_OVERRIDES = {
    # No "Would you like to receive official Jupyter news?" pop-up, no update checks.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # HOME.md and the README open rendered, with working links, not as source text.
    "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Markdown Preview"}},
}


def write_json_if_changed(path: Path, data: dict) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that; True if written."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_settings_overrides(prefix: Path = Path(sys.prefix)) -> Path:
    """JupyterLab's settings overrides for this environment (merged with any already there)."""
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = read_json(path)
    current.update(SETTINGS_OVERRIDES)
    write_json_if_changed(path, current)
    return path


def write_page_config(instructor: bool, config_dir: Path = Path(sys.prefix) / "etc" / "jupyter") -> Path:
    """Hide (or show) nbgrader's instructor plugins: what ``jupyter labextension disable
    --level=sys_prefix`` writes, without starting four Jupyter processes to write it."""
    path = config_dir / "labconfig" / "page_config.json"
    config = read_json(path)
    disabled = config.setdefault("disabledExtensions", {})
    for plugin in INSTRUCTOR_PLUGINS:
        if instructor:
            disabled.pop(plugin, None)
        else:
            disabled[plugin] = True
    write_json_if_changed(path, config)
    return path


def write_server_config(config_dir: Path = Path(sys.prefix) / "etc" / "jupyter") -> Path:
    """Enable the course's Validate handler (helpers/course/validate.py) in Jupyter Server:
    what ``jupyter server extension enable --sys-prefix`` writes."""
    path = config_dir / "jupyter_server_config.d" / "backend-roadmap-lab.json"
    write_json_if_changed(path, {"ServerApp": {"jpserver_extensions": {VALIDATE_EXTENSION: True}}})
    return path


def command(extra_args: list[str] | None = None) -> list[str]:
    """The ``jupyter lab`` command line: the repository as root, the home page first."""
    return [
        sys.executable, "-m", "jupyter", "lab",
        f"--ServerApp.root_dir={REPO}",
        "--ServerApp.ip=127.0.0.1",
        "--LabApp.default_url=/lab/tree/HOME.md",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),  # containers
        *(extra_args or []),
    ]


def prepare(instructor: bool = False) -> None:
    """Everything ``make lab`` does before starting JupyterLab (fast when nothing changed)."""
    if not instructor:  # an instructor grades in submitted/, and needs no learner copies
        for path in ensure_copies():
            print(f"Created your copy: {relative(path)}")
    home.write()
    write_settings_overrides()
    write_page_config(instructor)
    write_server_config()


def run(instructor: bool = False, extra_args: list[str] | None = None) -> int:
    """Prepare and start JupyterLab at the repository root; returns its exit code."""
    prepare(instructor)
    print("Starting JupyterLab (the course home, HOME.md, opens first); "
          "press Ctrl-C twice to stop it.", flush=True)
    try:
        return subprocess.call(command(extra_args), cwd=REPO, env=kernel_env())
    except KeyboardInterrupt:
        return 0
