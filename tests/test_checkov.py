"""checkov, bridgecrew's infrastructure-as-code scanner, on the deployment files of step 06.

Issue 17: the Dockerfile, Kubernetes manifests and GitHub Actions workflow that the
walkthrough (``notebooks/06-deployment.ipynb``) presents as production-ready must pass
the scanner a professional would point at them, not only the course's own teaching
rules (``helpers/deploy_rules.py``, tested in ``test_deploy_rules.py``).

The files are taken from the committed walkthrough itself: the string literals its cells
assign to ``DOCKERFILE``, ``MANIFESTS`` and ``WORKFLOW``, written out as ``Dockerfile``,
``k8s.yaml`` and ``.github/workflows/ci.yml``. checkov runs once for all three.

checkov pulls in ~70 packages and downgrades some the project needs, so it lives in its
own virtual environment, ``.venv-tools/checkov`` (git-ignored), which ``make tools``
creates (``.ci/run`` does, before ``make test``; the version range is in
``.ci/checkov-requirements.txt``); ``make lab`` and the project's ``.venv`` never see it.
Without it the tests skip and say how to install it. checkov runs offline
(``--skip-download``: no call to Prisma Cloud; no update check).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WALKTHROUGH = REPO / "notebooks" / "06-deployment.ipynb"
TOOLS_VENV = REPO / ".venv-tools" / "checkov"
FRAMEWORKS = ("dockerfile", "kubernetes", "github_actions")
# Walkthrough variable -> the path the file has in a real repository (checkov's
# github_actions framework only reads .github/workflows/).
FILES = {
    "DOCKERFILE": "Dockerfile",
    "MANIFESTS": "k8s.yaml",
    "WORKFLOW": ".github/workflows/ci.yml",
}
# Checks that are wrong for these files, each with the reason (the walkthrough says so too).
SKIPPED = {
    "CKV_K8S_43": "image by digest: the books-api image's digest exists only once CI has built and "
    "pushed it; the deploy step pins it then (the walkthrough shows how), the manifest carries the tag",
    "CKV_K8S_35": "secrets as files: the app takes its configuration from the environment "
    "(twelve-factor, section 3); the Secret reaches it through secretKeyRef, never as a literal",
}
SCAN_TIMEOUT = 300


def walkthrough_files(notebook: Path = WALKTHROUGH) -> dict[str, str]:
    """The deployment files a walkthrough shows: ``{path: text}`` from its cells' string literals."""
    found: dict[str, str] = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a cell with IPython syntax holds no file
            continue
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in FILES
            ):
                found[FILES[node.targets[0].id]] = ast.literal_eval(node.value)
    missing = sorted(set(FILES.values()) - set(found))
    assert not missing, f"{notebook.name} no longer assigns the files {missing} (as {sorted(FILES)})"
    return found


def checkov_executable(venv: Path = TOOLS_VENV) -> Path:
    """checkov in its own venv (``make tools``); the tests skip, saying how to install it, without it."""
    checkov = venv / ("Scripts/checkov.exe" if os.name == "nt" else "bin/checkov")
    if not (venv / ".installed").is_file() or not checkov.exists():
        pytest.skip(f"checkov is not installed in {venv.name}/: run `make tools` (its own venv, "
                    "about 300 MB; CI does) to scan step 06's deployment files")
    return checkov


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory) -> list[dict]:
    """checkov's JSON report, one entry per framework, for the walkthrough's files."""
    checkov = checkov_executable()
    root = tmp_path_factory.mktemp("step06-deploy")
    for relative, text in walkthrough_files().items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    command = [str(checkov), "--directory", str(root), "--framework", *FRAMEWORKS,
               "--skip-download", "--compact", "--output", "json"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=SCAN_TIMEOUT)
    # Exit code 1 means "some check failed": the tests below say which.
    assert result.returncode in (0, 1), f"checkov failed (exit {result.returncode}): {result.stderr[-2000:]}"
    print(f"checkov scan: {time.perf_counter() - started:.1f} s")
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def _failed(report: list[dict]) -> list[dict]:
    return [check for entry in report for check in entry["results"].get("failed_checks", [])]


def test_checkov_read_every_file(checkov_report):
    """Each framework ran and checked every file (checkov passes over a file it cannot read)."""
    by_type = {entry["check_type"]: entry for entry in checkov_report}
    assert set(by_type) == set(FRAMEWORKS), f"checkov reported {sorted(by_type)}, expected {FRAMEWORKS}"
    for entry in checkov_report:
        assert entry["summary"]["parsing_errors"] == 0, f"{entry['check_type']}: {entry['summary']}"
    checked = {
        check["file_path"].lstrip("/")
        for entry in checkov_report
        for kind in ("passed_checks", "failed_checks")
        for check in entry["results"].get(kind, [])
    }
    expected = set(FILES.values())
    assert checked == expected, f"checkov checked {sorted(checked)}, expected {sorted(expected)}"


def test_walkthrough_deployment_files_pass_checkov(checkov_report):
    """No failed check on the Dockerfile, manifests or workflow, apart from the SKIPPED ids."""
    failures = [
        f"{check['check_id']} {check['resource']} ({check['file_path'].lstrip('/')}): {check['check_name']}"
        for check in _failed(checkov_report)
        if check["check_id"] not in SKIPPED
    ]
    assert not failures, "checkov found, in notebooks/06-deployment.ipynb's files:\n" + "\n".join(failures)


def test_every_skipped_check_still_applies(checkov_report):
    """A skip stays only while checkov still reports that check; otherwise remove it from SKIPPED."""
    failed = {check["check_id"] for check in _failed(checkov_report)}
    stale = sorted(set(SKIPPED) - failed)
    assert not stale, f"checkov no longer reports {stale}: remove them from SKIPPED in {Path(__file__).name}"


def test_without_checkov_the_tests_skip_and_say_how_to_install_it(tmp_path):
    with pytest.raises(pytest.skip.Exception) as skipped:
        checkov_executable(tmp_path / "checkov")
    assert "make tools" in str(skipped.value)
