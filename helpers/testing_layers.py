"""Which layer of tests catches which bug? Plant one bug in the mini API, run the tests, read the report.

Step 04 tests the books API three ways (unit, integration, functional) and then asks
which tests catch which bug. This module plants one bug from :data:`BUGS` for a whole
pytest run, the way a mutation-testing tool (mutmut, cosmic-ray) plants a *mutant*, and
reads pytest's JUnit XML report back as pass/fail counts per layer::

    PLANTED_BUG=no-commit pytest -p helpers.testing_layers --junit-xml=report.xml tests/
    layer_results("report.xml")   # {"unit": LayerResult(...), "integration": ..., ...}

Loaded with ``-p helpers.testing_layers`` it is a pytest plugin: :func:`pytest_configure`
plants the bug named in the ``PLANTED_BUG`` environment variable (nothing when it is
empty), before any test module is imported. Each bug replaces one function of the
package in the pytest process only; nothing on disk changes.

Run as a program it runs the same tests once per bug, one pytest session after another
in one process, so Python, pytest, Flask and SQLAlchemy start once rather than once per
bug; each session writes ``report-<bug>.xml`` (``report-none.xml`` for no bug)::

    python -m helpers.testing_layers --reports=DIR --bug= --bug=no-commit -- -q tests/

A notebook runs the same sessions in its own kernel, where Python, pytest, Flask and
SQLAlchemy are already loaded: :func:`run_sessions` inside
:func:`helpers.inprocess_pytest.pytest_environment`.

For testing functional tests, :func:`create_broken_app` builds the books API with one
of the defects in :data:`SERVED_BREAKS`, each visible only to a client over HTTP, as
step 02's ``helpers.rest_demo.create_broken_app`` does for the notes API.
"""

from __future__ import annotations

import os
import statistics
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from flask import Flask, Response, json, request

__all__ = [
    "BUGS", "LAYERS", "SERVED_BREAKS", "LayerResult", "create_broken_app", "layer_results", "plant",
    "pytest_configure", "run_sessions", "unplant",
]

#: The layers, fastest first; each is a folder of tests (``tests/unit``, ...).
LAYERS = ("unit", "integration", "functional")

BUGS = {
    "blank-title": "validate_book accepts a title made of spaces (an edge case in a pure function)",
    "no-commit": "POST /books answers 201 but never commits: the book is gone when the request ends",
    "env-config": "the app configured from the environment has no body-size limit "
    "(load_config drops MAX_CONTENT_LENGTH)",
}


class _Replaced(NamedTuple):
    owner: Any
    name: str
    original: Any


#: What :func:`plant` replaced, so that :func:`unplant` can put it back.
_REPLACED: list[_Replaced] = []


def _replace(owner: Any, name: str, new: Any) -> None:
    _REPLACED.append(_Replaced(owner, name, getattr(owner, name)))
    setattr(owner, name, new)


def unplant() -> None:
    """Put back every function :func:`plant` replaced (nothing when no bug is planted)."""
    while _REPLACED:
        owner, name, original = _REPLACED.pop()
        setattr(owner, name, original)


def plant(bug: str) -> None:
    """Replace one function of ``helpers.mini_api`` with a subtly wrong one (``""``: none)."""
    if not bug:
        return
    if bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; choose from {sorted(BUGS)}")
    import helpers.mini_api as package
    from helpers.mini_api import books, validation

    if bug == "blank-title":
        real_validate = validation.validate_book

        def accepts_blank_title(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
            title = data.get("title")
            if isinstance(title, str) and title and not title.strip():
                return {**real_validate({**data, "title": "x"}, partial=partial), "title": ""}
            return real_validate(data, partial=partial)

        # Both names: books.py imported the function into its own namespace.
        _replace(validation, "validate_book", accepts_blank_title)
        _replace(books, "validate_book", accepts_blank_title)
    elif bug == "no-commit":
        real_get_session = books.get_session

        def session_that_never_commits():  # noqa: ANN202 (a SQLAlchemy Session)
            session = real_get_session()
            session.commit = session.flush  # ids are assigned, nothing is kept
            return session

        _replace(books, "get_session", session_that_never_commits)
    elif bug == "env-config":
        real_load_config = package.load_config

        def forgets_the_limit(environ: Any) -> dict[str, Any]:
            config = real_load_config(environ)
            del config["MAX_CONTENT_LENGTH"]  # Flask's default, None, means "no limit"
            return config

        _replace(package, "load_config", forgets_the_limit)


def pytest_configure(config: Any) -> None:
    """pytest hook: plant the bug named by ``PLANTED_BUG`` before test modules are imported."""
    plant(os.environ.get("PLANTED_BUG", ""))


def _test_places(pytest_args: list[str]) -> tuple[str, ...]:
    """The tests' own files: the folders (or files) named among pytest's arguments, else the working one."""
    places = [os.path.abspath(arg) + (os.sep if os.path.isdir(arg) else "")
              for arg in pytest_args if not arg.startswith("-") and os.path.exists(arg)]
    return tuple(places or [os.getcwd() + os.sep])


def _forget_test_modules(before: set[str], places: tuple[str, ...]) -> None:
    """Drop the modules imported since ``before`` from ``places``, so the next session imports them afresh."""
    for module_name in set(sys.modules) - before:
        file = getattr(sys.modules[module_name], "__file__", None)
        if file and os.path.abspath(file).startswith(places):
            del sys.modules[module_name]


def run_sessions(bugs: Iterable[str], pytest_args: list[str], reports: str | Path) -> int:
    """One pytest session per bug (``""``: none), one after another in this process.

    Each session plants its bug (this module is its plugin, ``PLANTED_BUG`` names the bug),
    writes ``reports/report-<bug>.xml`` and keeps its ``tmp_path`` folders under
    ``reports/tmp-<bug>``. Between sessions the bug is taken out again and the test
    modules are forgotten, so the next session imports them afresh (a test module that
    imported a planted function by name would otherwise keep it). Returns 0, or the
    first exit code that means pytest could not run the tests (not "some tests failed").
    """
    import pytest

    reports = Path(reports)
    places = _test_places(pytest_args)
    worst = 0
    for bug in bugs:
        name = bug or "none"
        before = set(sys.modules)
        os.environ["PLANTED_BUG"] = bug
        try:
            code = pytest.main([*pytest_args, f"--junit-xml={reports / f'report-{name}.xml'}",
                                f"--basetemp={reports / f'tmp-{name}'}"], plugins=[sys.modules[__name__]])
        finally:
            unplant()
            del os.environ["PLANTED_BUG"]
            _forget_test_modules(before, places)
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not worst:
            worst = int(code)
    return worst


@dataclass(frozen=True)
class LayerResult:
    """One layer's tests in a run: how many failed, and each test's time in seconds."""

    failed: int
    times: tuple[float, ...]

    @property
    def tests(self) -> int:
        """How many tests the layer ran."""
        return len(self.times)

    @property
    def seconds(self) -> float:
        """The layer's total time."""
        return sum(self.times)

    @property
    def median(self) -> float:
        """The typical test's time: unlike the mean, one slow test (a server start) does not move it."""
        return statistics.median(self.times)

    @property
    def summary(self) -> str:
        """``'6 passed'`` or ``'2 of 6 failed'``."""
        return f"{self.tests} passed" if not self.failed else f"{self.failed} of {self.tests} failed"


def layer_results(junit_xml: str | Path) -> dict[str, LayerResult]:
    """Per layer (the test's top folder: ``unit``, ``integration``...), from pytest's ``--junit-xml``.

    A test that failed or errored (a fixture that could not start the server) counts
    as failed; the time of a test includes its fixtures' set-up and tear-down.
    """
    cases: dict[tuple[str, str], tuple[bool, float]] = {}
    # pytest's own report, written by the run the caller just started: not untrusted XML.
    for case in ET.parse(junit_xml).getroot().iter("testcase"):  # noqa: S314
        key = (case.get("classname", ""), case.get("name", ""))
        broken = case.find("failure") is not None or case.find("error") is not None
        was_broken, seconds = cases.get(key, (False, 0.0))  # a tear-down error may repeat a test
        cases[key] = (was_broken or broken, seconds + float(case.get("time", 0)))
    results: dict[str, LayerResult] = {}
    for (classname, _), (broken, seconds) in cases.items():
        layer = classname.split(".")[0]
        old = results.get(layer, LayerResult(0, ()))
        results[layer] = LayerResult(old.failed + broken, (*old.times, seconds))
    return results


SERVED_BREAKS = {
    "create-200": "POST /books answers 200 instead of 201",
    "no-location": "POST /books answers 201 without a Location header",
    "not-stored": "POST /books answers 201, but the book is not stored (a missing commit)",
    "json-as-html": "books come with Content-Type text/html instead of application/json",
    "request-id-replaced": "the caller's X-Request-ID is replaced by a fresh one",
    "validation-400": "an invalid book is answered 400 instead of 422",
    "errors-as-html": "errors come as an HTML page instead of application/problem+json",
    "no-body-limit": "no MAX_CONTENT_LENGTH: a 100 kB body is read, not refused with 413",
    "delete-keeps": "DELETE answers 204 but the book is still there",
    "no-nosniff": "no response carries X-Content-Type-Options: nosniff (the hook that sets it is missing)",
}


def create_broken_app(defect: str, test_config: Mapping[str, Any] | None = None) -> Flask:
    """The books API (``helpers.mini_api.create_app(test_config)``) with one defect from SERVED_BREAKS.

    Everything else behaves as the real API; each defect is a small hook around it.
    """
    if defect not in SERVED_BREAKS:
        raise ValueError(f"unknown defect {defect!r}; choose from {sorted(SERVED_BREAKS)}")
    from helpers.mini_api import create_app
    from helpers.mini_api.db import Book, get_session

    app = create_app(dict(test_config or {}))
    if defect == "no-body-limit":
        app.config["MAX_CONTENT_LENGTH"] = None

    @app.before_request
    def keep_deleted_books() -> tuple[str, int] | None:
        if defect == "delete-keeps" and request.method == "DELETE":
            return "", 204  # answers as if deleted, deletes nothing
        return None

    # after_request hooks run last-registered first: these run before the app's own hook
    # (which sets X-Request-ID and nosniff), so header defects are made in _with_headers.
    @app.after_request
    def break_the_api(response: Response) -> Response:
        created = request.method == "POST" and response.status_code == 201
        if defect == "create-200" and created:
            response.status_code = 200
        elif defect == "no-location" and created:
            del response.headers["Location"]
        elif defect == "not-stored" and created:
            session = get_session()
            session.delete(session.get(Book, response.get_json()["id"]))
            session.commit()
        elif defect == "json-as-html" and response.mimetype == "application/json":
            response.mimetype = "text/html"
        elif defect == "validation-400" and response.status_code == 422:
            response.status_code = 400
            response.set_data(json.dumps({**response.get_json(force=True), "status": 400}))
        elif defect == "errors-as-html" and response.status_code >= 400:
            response.set_data(f"<h1>Error {response.status_code}</h1>")
            response.mimetype = "text/html"
        return response

    if defect == "no-nosniff":
        app.wsgi_app = _with_headers(app.wsgi_app, lambda headers: [
            (name, value) for name, value in headers if name.lower() != "x-content-type-options"])
    elif defect == "request-id-replaced":
        app.wsgi_app = _with_headers(app.wsgi_app, lambda headers: [
            (name, uuid.uuid4().hex if name.lower() == "x-request-id" else value) for name, value in headers])
    return app


def _with_headers(wsgi_app: Callable, change: Callable[[list], list]) -> Callable:
    """A WSGI middleware passing every response's header list through ``change``."""

    def middleware(environ: dict, start_response: Callable) -> Iterable[bytes]:
        def changed_start_response(status: str, headers: list, exc_info: object = None) -> Callable:
            return start_response(status, change(headers), exc_info)

        return wsgi_app(environ, changed_start_response)

    return middleware


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.testing_layers --reports=DIR [--bug=BUG ...] -- PYTEST_ARGS``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.testing_layers", description=main.__doc__)
    parser.add_argument("--reports", required=True, help="folder for report-<bug>.xml and tmp-<bug>/")
    parser.add_argument("--bug", action="append", default=[], choices=["", *BUGS],
                        help='a bug to plant, once per session ("" for none); repeatable')
    parser.add_argument("pytest_args", nargs="*", help="pytest's arguments (after --)")
    args = parser.parse_args(argv)
    # pytest loads the plugin as helpers.testing_layers, not as __main__: plant and unplant there.
    from helpers import testing_layers

    return testing_layers.run_sessions(args.bug or [""], args.pytest_args, args.reports)


if __name__ == "__main__":
    raise SystemExit(main())
