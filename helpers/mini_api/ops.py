"""Operational endpoints: liveness, readiness, the OpenAPI description, and demo ``/slow`` and ``/work``."""

from __future__ import annotations

import os
import re
import time

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import BadRequest

from helpers.mini_api.db import database_ready, get_engine
from helpers.mini_api.openapi import openapi_document
from helpers.mini_api.problems import problem

__all__ = ["bp", "demo_bp"]

bp = Blueprint("ops", __name__)
demo_bp = Blueprint("demo", __name__)


@bp.get("/healthz")
def healthz() -> dict:
    """Liveness: the process is up and answering. Checks nothing else on purpose."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response | dict:
    """Readiness: 200 only if the database answers, else 503 (take me out of the load balancer)."""
    if not database_ready(get_engine()):
        return problem(503, "Service Unavailable", "the database is unreachable")
    return {"status": "ready", "checks": {"database": "ok"}}


@bp.get("/openapi.json")
def openapi() -> dict:
    """The OpenAPI 3.1 description of this API."""
    return openapi_document(current_app)


SLOW_STARTED = "slow request started"


@demo_bp.get("/slow")
def slow() -> dict:
    """Sleep ``seconds`` (at most 5) and answer: a request that is in flight for a while."""
    try:
        seconds = float(request.args.get("seconds", "1"))
    except ValueError:
        raise BadRequest("seconds must be a number") from None
    if not 0 <= seconds <= 5:
        raise BadRequest("seconds must be between 0 and 5")
    # Announce it in the server's log, so a demo can wait until the request is in flight
    # and tell which process serves it (one of gunicorn's workers).
    print(f"{SLOW_STARTED} in process {os.getpid()}", flush=True)
    time.sleep(seconds)
    return {"slept": seconds}


@demo_bp.get("/work")
def work() -> dict:
    """A CPU-bound request: sum the squares below ``n`` (at most 5,000,000) in pure Python.

    Pure Python holds the GIL while it computes, so one process runs one such request at
    a time however many threads it has; only more processes (workers) run them in parallel.
    """
    raw = request.args.get("n", "100000")
    # ASCII digits only: "²".isdigit() is True but int("²") raises (a 500).
    if not re.fullmatch(r"[0-9]{1,7}", raw) or int(raw) > 5_000_000:
        raise BadRequest("n must be a whole number from 0 to 5000000")
    n = int(raw)
    return {"n": n, "sum_of_squares": sum(i * i for i in range(n))}
