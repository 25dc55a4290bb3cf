"""Supply-chain checks that run offline, for step 07: hash-checked installs and advisories.

- :func:`build_wheel` -- a minimal, valid wheel of a one-module package, built with
  ``zipfile`` (no network, no build backend), so ``pip`` has something local to install.
- :func:`sha256_of` -- the ``sha256:...`` pin of a file, as ``pip hash`` prints it.
- :func:`pip_install` -- ``pip install --no-index --require-hashes`` into a throwaway
  folder, isolated from the machine's pip configuration; returns the exit code and output.
- :func:`audit` -- compare installed versions with advisories in the OSV format (the
  format of the PyPA advisory database that ``pip-audit`` queries online).

``pip-audit`` itself needs a network connection (it asks PyPI or osv.dev about each
package); :func:`audit` does the same comparison against a local advisory file, which
is what an air-gapped CI would mirror.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # pip colours its errors when it thinks a terminal reads them

__all__ = ["audit", "build_wheel", "pip_install", "sha256_of"]


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(folder: Path, name: str, version: str, code: str) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` holding module ``<name>.py`` = ``code``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": code.encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: helpers.supply_chain\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in files.items():
            wheel.writestr(zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0)), data)
        wheel.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)), record)
    return path


def sha256_of(path: Path) -> str:
    """``sha256:<hex>`` of the file, the form a ``--hash`` option takes."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pip_install(requirements: Path, wheels: Path, target: Path) -> tuple[int, str]:
    """``pip install --no-index --require-hashes -r requirements`` from ``wheels`` into ``target``.

    The machine's pip configuration (extra indexes, constraints) is ignored, so only
    the local folder is used. Returns pip's exit code and its combined output.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    command = [
        sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheels),
        "--require-hashes", "--no-deps", "--no-compile", "--target", str(target), "-r", str(requirements),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    return done.returncode, _ANSI.sub("", done.stdout + done.stderr)


def audit(installed: dict[str, str], advisories: list[dict]) -> list[tuple[str, str, str, str]]:
    """``(package, version, advisory id, fixed in)`` for each installed version an advisory covers.

    ``advisories`` are OSV records: ``{"id": ..., "affected": [{"package": {"name": ...},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"}]}]}]}``.
    """
    findings = []
    for advisory in advisories:
        for affected in advisory.get("affected", []):
            name = affected["package"]["name"].lower()
            if name not in installed:
                continue
            version = Version(installed[name])
            for span in affected.get("ranges", []):
                introduced = fixed = None
                for event in span.get("events", []):
                    introduced = event.get("introduced", introduced)
                    fixed = event.get("fixed", fixed)
                bounds = []
                if introduced and introduced != "0":
                    bounds.append(f">={introduced}")
                if fixed:
                    bounds.append(f"<{fixed}")
                if version in SpecifierSet(",".join(bounds)):
                    findings.append((name, str(version), advisory["id"], fixed or "no fix yet"))
    return findings
