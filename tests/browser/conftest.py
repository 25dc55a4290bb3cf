"""One JupyterLab server and one headless Chromium for the whole browser-test session.

The server is set up the way ``make lab`` sets it up (the same page config, settings
overrides, home page and copies), on a throwaway course root, so a learner's own
my-work/ is never touched. Skipped, with the reason, where Chromium is not installed
(``.ci/run`` installs Debian's ``chromium`` package before the tests).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers.course import home, lab, steps, workspace
from helpers.course.cells import kernel_env
from tests.browser.chrome import Browser, find_chromium, free_port


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course root with HOME.md and my-work/, as `make lab` prepares it.

    Module-scoped: the step registry points at it only while the browser tests run.
    """
    root = tmp_path_factory.mktemp("course")
    saved = steps.WORK
    steps.WORK = root / "my-work"
    workspace.ensure_copies()
    home.write()
    yield root
    steps.WORK = saved


@pytest.fixture(scope="module")
def jupyter(course, tmp_path_factory):
    """A running JupyterLab on ``course``: (base URL, token)."""
    config = tmp_path_factory.mktemp("jupyter-config")
    lab.write_page_config(instructor=False, config_dir=config)
    lab.write_server_config(config_dir=config)
    lab.write_settings_overrides()
    port, token = free_port(), secrets.token_hex(16)
    env = kernel_env() | {"JUPYTER_CONFIG_DIR": str(config)}
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        f"--ServerApp.root_dir={course}", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        "--LabApp.default_url=/lab/tree/HOME.md",
        f"--LabApp.workspaces_dir={config / 'workspaces'}",
        f"--LabApp.user_settings_dir={config / 'settings'}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    server = subprocess.Popen(command, env=env, cwd=course, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)  # noqa: S310
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                os.killpg(server.pid, signal.SIGTERM)
                pytest.fail("JupyterLab did not start")
            time.sleep(0.3)
    yield base, token
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); "
                    "the JupyterLab browser tests need it")
    chrome = Browser(binary)
    yield chrome
    chrome.close()


@pytest.fixture
def open_lab(jupyter, browser):
    """Open a JupyterLab URL path in a new tab; the tab is closed after the test."""
    base, token = jupyter
    pages = []

    def opener(path: str = "/lab"):
        sep = "&" if "?" in path else "?"
        page = browser.page(f"{base}{path}{sep}token={token}")
        pages.append(page)
        page.wait_for("document.querySelector('#jp-main-dock-panel') !== null", timeout=60,
                      what="JupyterLab's main area")
        return page

    yield opener
    for page in pages:
        page.close()


def text_of(selector: str) -> str:
    """JavaScript: the text of every element matching ``selector``, joined."""
    return f"Array.from(document.querySelectorAll({selector!r})).map(e => e.textContent).join('\\n')"

