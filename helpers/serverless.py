"""Run the mini API as a serverless function on this machine: events in, responses out.

AWS Lambda does not speak HTTP to your code. API Gateway (or a function URL) turns
each HTTP request into a JSON *event*, calls ``handler(event, context)``, and turns
the dict it returns into the HTTP response. Without an AWS account the same code
runs here, driven by events built like the real ones:

- :func:`http_api_event` builds an API Gateway HTTP API / function URL event
  (payload format 2.0), with the fields AWS fills in;
- :class:`LambdaContext` stands in for the context object Lambda passes;
- :func:`cold_start` runs a module in a **new Python process**, the way Lambda
  starts a new execution environment, and measures inside it the init phase
  (importing the libraries, then creating the app) and each invocation after it.

Events carry a fixed time and made-up account and API ids, so outputs are
reproducible. The real ones differ only in those values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

__all__ = ["ColdStart", "Invocation", "LambdaContext", "cold_start", "http_api_event"]

REPO = Path(__file__).resolve().parents[1]
ACCOUNT_ID = "123456789012"  # the documentation account id AWS uses in its examples
API_ID = "abc123def4"
REGION = "eu-west-1"
EVENT_TIME = ("01/Jan/2026:00:00:00 +0000", 1_767_225_600_000)  # fixed, for reproducible outputs


def http_api_event(
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    body: str | None = None,
    source_ip: str = "203.0.113.7",
    request_id: str = "req-0001",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for ``method path``.

    ``json_body`` is serialised and sent with ``content-type: application/json``;
    ``body`` is sent as it is. Header names are lower-cased, as API Gateway does.
    """
    if json_body is not None and body is not None:
        raise ValueError("pass json_body or body, not both")
    domain = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    all_headers = {
        "host": domain,
        "user-agent": "curl/8.5.0",
        "accept": "*/*",
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if json_body is not None:
        body = json.dumps(json_body)
        all_headers["content-type"] = "application/json"
    if body is not None:
        all_headers["content-length"] = str(len(body.encode()))
    all_headers.update({name.lower(): value for name, value in (headers or {}).items()})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": all_headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": API_ID,
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": all_headers["user-agent"],
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": EVENT_TIME[0],
            "timeEpoch": EVENT_TIME[1],
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        event["body"] = body
    return event


class LambdaContext:
    """The parts of Lambda's context object that handlers use."""

    def __init__(self, function_name: str = "books-api", memory_mb: int = 512, timeout_s: float = 30.0,
                 request_id: str = "req-0001") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda would stop this invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One call of the handler: its duration (seconds) and the HTTP status it answered."""

    seconds: float
    status: int


@dataclass
class ColdStart:
    """What one new execution environment measured (seconds, from inside the process)."""

    import_seconds: float  # importing the libraries (Flask, SQLAlchemy, the adapter)
    create_seconds: float  # importing the handler module: creating the app, its engine, its tables
    invocations: list[Invocation] = field(default_factory=list)

    @property
    def init_seconds(self) -> float:
        """Lambda's init phase: everything before the first event is handled."""
        return self.import_seconds + self.create_seconds


# Runs in the new process. Standard library only until the timer has started.
_CHILD = textwrap.dedent("""
    import importlib, json, sys, time
    request = json.load(sys.stdin)
    start = time.perf_counter()
    for name in request["libraries"]:
        importlib.import_module(name)
    imported = time.perf_counter()
    module = importlib.import_module(request["module"])
    created = time.perf_counter()
    from helpers.serverless import LambdaContext
    handler = getattr(module, request["handler"])
    calls = []
    for n, event in enumerate(request["events"]):
        t = time.perf_counter()
        response = handler(event, LambdaContext(request_id=f"req-{n + 1:04d}"))
        calls.append([time.perf_counter() - t, response["statusCode"]])
    json.dump({"import": imported - start, "create": created - imported, "calls": calls}, sys.stdout)
    sys.stdout.flush()
    import os
    os._exit(0)  # Lambda freezes or discards an environment, never tears it down: skip the clean-up
""")


def cold_start(
    events: Iterable[Mapping[str, Any]],
    *,
    module: str = "helpers.mini_api.aws_lambda",
    handler: str = "handler",
    libraries: Iterable[str] = ("flask", "sqlalchemy", "apig_wsgi", "helpers.mini_api"),
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> ColdStart:
    """Start a new execution environment (a new Python process) and send it ``events``.

    Inside the process: import ``libraries``, then ``module`` (whose top level creates
    the app, as Lambda's init phase does), then call ``module.handler`` once per event.
    ``env`` is the function's configuration (added to this process's environment).
    Raises RuntimeError with the process's stderr if the init phase or a call fails.
    """
    request = {"module": module, "handler": handler, "libraries": list(libraries), "events": list(events)}
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(request), capture_output=True,
                          text=True, env=full_env, cwd=REPO, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the function failed in its execution environment:\n{done.stderr}")
    result = json.loads(done.stdout)
    calls = [Invocation(seconds, status) for seconds, status in result["calls"]]
    return ColdStart(result["import"], result["create"], calls)
