"""Step 04's comparison: one small books endpoint in Flask, FastAPI and Django, side by side.

The three apps live in one module each (:mod:`~helpers.frameworks.flask_app`,
:mod:`~helpers.frameworks.fastapi_app`, :mod:`~helpers.frameworks.django_app`) and do the
same thing: ``POST /books`` validates a book and creates it (201, or 422 with a list of
field errors), ``GET /books/<id>`` reads it (200, or 404); errors are problem details.
This module is the plumbing around them::

    from helpers.frameworks import SAMPLE_REQUESTS, serve_all, send_all, show, stop_all
    servers = serve_all()                     # each on a free port of 127.0.0.1
    show(send_all(servers, SAMPLE_REQUESTS))  # the same requests to all three
    best_rates({name: s.url + "/books/1" for name, s in servers.items()})  # requests/s
    stop_all(servers)

Flask and Django are WSGI apps, served by werkzeug's threaded server
(:mod:`helpers.servers`); FastAPI is an ASGI app, served by uvicorn
(:mod:`helpers.asgi_server`). Servers are registered by name, so re-running a cell
replaces them instead of leaking ports.
"""

from __future__ import annotations

import ast
import http.client
import inspect
import io
import json
import time
import tokenize
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import requests

from helpers.asgi_server import serve_asgi
from helpers.servers import serve

__all__ = [
    "FRAMEWORKS", "SAMPLE_REQUESTS", "Replies", "Reply", "best_rates", "code_lines", "create_apps",
    "error_table", "plot_comparison", "requests_per_second", "send", "send_all", "serve_all", "show",
    "show_source", "status_table", "stop_all",
]

FRAMEWORKS = ("Flask", "FastAPI", "Django")

#: label -> (method, path, JSON body or None): what every app is sent, in this order.
SAMPLE_REQUESTS: dict[str, tuple[str, str, Any]] = {
    "valid": ("POST", "/books", {"title": "Dune", "author": "Frank Herbert", "year": 1965}),
    "read it back": ("GET", "/books/1", None),
    "invalid": ("POST", "/books", {"title": "", "year": 3000, "colour": "red"}),
    "missing": ("GET", "/books/99", None),
}


@dataclass(frozen=True)
class Reply:
    """The parts of a response the comparison looks at."""

    status: int
    media_type: str  # Content-Type without parameters such as charset
    body: Any  # parsed JSON, or the text when the body is not JSON
    location: str | None = None


#: request label -> framework -> reply
Replies = dict[str, dict[str, Reply]]


def _modules() -> dict[str, ModuleType]:
    # Imported on demand: FastAPI and Django take a moment to import.
    from helpers.frameworks import django_app, fastapi_app, flask_app

    return {"Flask": flask_app, "FastAPI": fastapi_app, "Django": django_app}


def create_apps() -> dict[str, Any]:
    """A fresh app per framework (Django's is its one per-process project, emptied)."""
    modules = _modules()
    return {
        "Flask": modules["Flask"].create_flask_app(),
        "FastAPI": modules["FastAPI"].create_fastapi_app(),
        "Django": modules["Django"].create_django_app(),
    }


def serve_all() -> dict[str, Any]:
    """Serve fresh apps on free ports of 127.0.0.1; returns the running servers by framework."""
    apps = create_apps()
    return {
        "Flask": serve(apps["Flask"], name="frameworks-flask"),
        "FastAPI": serve_asgi(apps["FastAPI"], name="frameworks-fastapi"),
        "Django": serve(apps["Django"], name="frameworks-django"),
    }


def stop_all(servers: dict[str, Any]) -> None:
    """Stop the servers, re-raising any error an app hit while serving."""
    for server in servers.values():
        server.stop()
    for server in servers.values():
        server.check()


def send(base_url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         ) -> Reply:
    """One request with ``requests``. ``body`` is sent as JSON, or as is (with ``Content-Type:
    application/json``) when it is ``bytes``, so malformed JSON can be sent too."""
    if isinstance(body, bytes):
        headers = {"Content-Type": "application/json", **(headers or {})}
        response = requests.request(method, base_url + path, data=body, headers=headers, timeout=5)
    else:
        response = requests.request(method, base_url + path, json=body, headers=headers, timeout=5)
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    try:
        parsed = response.json()
    except ValueError:
        parsed = response.text
    return Reply(response.status_code, media_type, parsed, response.headers.get("Location"))


def send_all(servers: dict[str, Any], sample: dict[str, tuple] = SAMPLE_REQUESTS) -> Replies:
    """Send every request of ``sample`` (label -> ``(method, path, body[, headers])``), in order,
    to every server; returns label -> framework -> reply."""
    return {label: {name: send(server.url, *request) for name, server in servers.items()}
            for label, request in sample.items()}


def _short(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        body = {**body, "errors": f"[{len(body['errors'])} errors, below]"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def show(replies: Replies, sample: dict[str, tuple] = SAMPLE_REQUESTS) -> None:
    """Print each request, then each framework's status, media type and body beneath it."""
    for label, by_framework in replies.items():
        method, path, body = sample[label][:3]
        print(f"{label}: {method} {path}" + (f" {json.dumps(body)}" if body is not None else ""))
        for name, reply in by_framework.items():
            print(f"  {name:8} {reply.status} {reply.media_type:25} {_short(reply.body)}")


def error_table(by_framework: dict[str, Reply]) -> None:
    """Print a 422's field errors as a table: one row per field, one column per framework."""
    names = list(by_framework)
    messages: dict[str, dict[str, str]] = {}
    for name, reply in by_framework.items():
        for error in reply.body.get("errors", []):
            row = messages.setdefault(error["field"], {})
            row[name] = "; ".join(filter(None, [row.get(name), error["message"]]))
    rows = [["field", *names]] + [[field, *(messages[field].get(n, "(accepted)") for n in names)]
                                  for field in sorted(messages)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def status_table(replies: Replies) -> None:
    """Print one row per request and the status code each framework answered."""
    names = list(next(iter(replies.values())))
    width = max(len(label) for label in replies)
    print(f"{'':{width}}  " + "  ".join(f"{name:>7}" for name in names))
    for label, by_framework in replies.items():
        print(f"{label:{width}}  " + "  ".join(f"{by_framework[name].status:>7}" for name in names))


def show_source(*objects: Any) -> None:
    """Print the source code of functions or classes exactly as their module has it."""
    print("\n\n".join(inspect.getsource(obj).rstrip() for obj in objects))


def code_lines(module: ModuleType) -> int:
    """Lines of code in ``module``'s source: not blank, not only a comment, not a docstring."""
    with open(module.__file__, encoding="utf-8") as source:
        text = source.read()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    layout = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
              tokenize.ENDMARKER}
    code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in layout:
            code.update(range(token.start[0], token.end[0] + 1))
    return len(code - docstrings)


def requests_per_second(url: str, duration: float = 0.5) -> float:
    """``GET url`` back to back on one keep-alive connection for ``duration`` seconds; the rate.

    Every response must be a 200 (anything else raises), so a fast error is never counted
    as speed. Client and server share this process (and its GIL), so the figure is a
    comparison on one machine, not a capacity: a load test uses a separate client machine.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    target = parts.path or "/"

    def get() -> None:
        conn.request("GET", target)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url} answered {response.status}, not 200")

    try:
        for _ in range(5):  # warm up: the connection, first-request imports and caches
            get()
        count = 0
        start = now = time.perf_counter()
        while now - start < duration:
            get()
            count += 1
            now = time.perf_counter()
        return count / (now - start)
    finally:
        conn.close()



def best_rates(urls: dict[str, str], rounds: int = 3, duration: float = 0.05) -> dict[str, float]:
    """The best of ``rounds`` :func:`requests_per_second` runs per URL, taken in turn.

    Interleaving the rounds (A, B, C, A, B, C, ...) spreads a burst of load from elsewhere on
    the machine over all of them, and the best round is the one least disturbed by it.
    """
    best = dict.fromkeys(urls, 0.0)
    for _ in range(rounds):
        for name, url in urls.items():
            best[name] = max(best[name], requests_per_second(url, duration=duration))
    return best

def plot_comparison(lines: dict[str, int], rates: dict[str, float]) -> Any:
    """Two bar charts side by side, each bar labelled with its value: lines of code, requests/s."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    for ax, values, title in ((left, lines, "lines of code (same endpoint)"),
                              (right, rates, "GET /books/1, requests per second")):
        bars = ax.bar(list(values), list(values.values()), color=["#4c72b0", "#55a868", "#c44e52"])
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values.values()])
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.15)
    fig.tight_layout()
    return fig
