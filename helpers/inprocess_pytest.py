"""Run pytest on a folder inside the current process, as the ``pytest`` command would, and keep its report.

Steps 01 and 02 write a module and its tests to a temporary folder and run pytest on
them. ``pytest.main(args)`` is the function behind the ``pytest`` command: calling it
here gives the same session, report and exit status, without starting a new Python
and importing pytest and the tested libraries again for every run (a second or more
per notebook)::

    run = run_pytest(folder, "-q")          # like `cd folder && pytest -q`
    run.exit_code, run.output               # 0 (or 1 when a test failed), the report

What a command would not leave behind is cleaned up after each run, so the next run
sees the files as they are then: the modules imported from ``folder`` are forgotten,
``sys.path``, the working directory and the environment are put back. Plugins
installed in the environment are not loaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), no
cache folder is written, and the report is plain text (no colours).
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

__all__ = ["PytestRun", "pytest_environment", "run_pytest"]


class PytestRun(NamedTuple):
    """What a ``pytest`` command would give: its exit status and what it printed."""

    exit_code: int
    output: str


@contextlib.contextmanager
def pytest_environment(folder: str | Path | None = None,
                       env: Mapping[str, str] | None = None) -> Iterator[io.StringIO]:
    """Inside the block, ``pytest.main`` runs here as a new ``pytest`` command would.

    Only pytest's own plugins load (installed ones, such as hypothesis or schemathesis,
    take seconds and are not wanted), options from an outer run (``PYTEST_ADDOPTS``,
    ``PYTEST_PLUGINS``) do not apply, ``env`` is added to the environment, and what is
    printed goes into the yielded buffer as plain text. With ``folder``, the block runs
    in that folder and the modules imported from it are forgotten afterwards. The
    environment, working directory and ``sys.path`` are put back.
    """
    folder = Path(folder).resolve() if folder is not None else None
    added = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_ADDOPTS": "", "PYTEST_PLUGINS": "",
             "PY_COLORS": "0", **(env or {})}
    saved_env = {name: os.environ.get(name) for name in added}
    saved_path, saved_cwd, saved_bytecode = list(sys.path), os.getcwd(), sys.dont_write_bytecode
    report = io.StringIO()
    try:
        os.environ.update(added)
        if folder is not None:
            os.chdir(folder)
        sys.dont_write_bytecode = True  # a file rewritten within the same second is read afresh
        # pytest ends a session with gc.collect() (twice, for unraisable exceptions): in a
        # kernel holding matplotlib and friends that scans every object, a quarter of a second
        # each. Frozen, the objects that were here before the run are left out of it.
        gc.freeze()
        with contextlib.redirect_stdout(report), contextlib.redirect_stderr(report):
            yield report
    finally:
        gc.unfreeze()
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if folder is not None:
            _forget_modules_from(folder)


def run_pytest(folder: str | Path, *args: str, env: Mapping[str, str] | None = None) -> PytestRun:
    """Run pytest with ``args`` in ``folder``, in this process, with ``env`` added to the environment."""
    import pytest  # only when a notebook runs tests: the import costs a few tenths of a second

    with pytest_environment(folder, env) as report:
        exit_code = pytest.main(["-p", "no:cacheprovider", "--color=no", *args])
    return PytestRun(int(exit_code), report.getvalue())


def _forget_modules_from(folder: Path) -> None:
    """Drop the modules imported from files under ``folder``, so the next import reads them again."""
    # Compared as text: resolving the file of each of a kernel's thousand modules costs more
    # than the test run. pytest imports them through the folder's resolved path.
    prefixes = tuple({os.path.join(str(folder), ""), os.path.join(os.path.realpath(folder), "")})
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.abspath(file).startswith(prefixes):
            del sys.modules[name]
