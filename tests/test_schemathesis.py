"""Property-based tests of the course's APIs with schemathesis, from their OpenAPI documents.

Issue 17: code a learner copies must survive the tools a professional points at it.
schemathesis generates requests from each OpenAPI document (valid ones and, in its
negative phase, invalid ones) and checks every response: no 5xx, a status code the
document lists, the documented media type, a body that matches its schema, and that
invalid input is rejected. Both APIs are under test here:

- the mini books API of step 04 (``helpers.mini_api``), through its WSGI app, with
  the document it serves at ``/openapi.json``;
- the notes API of step 02 (``helpers.rest_demo``), served on 127.0.0.1, with
  ``helpers.rest_demo.OPENAPI``.

Examples are bounded so the module runs in well under a minute on two cores.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from helpers.mini_api import create_app as create_books_app
from helpers.rest_demo import OPENAPI
from helpers.rest_demo import create_app as create_notes_app
from helpers.servers import serve

MAX_EXAMPLES = 30
SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), print_blob=False)

books_app = create_books_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
with books_app.test_client() as _seed:
    for n in range(1, 4):
        _seed.post("/books", json={"title": f"Book {n}", "author": "Ada", "year": 1990 + n})
books_schema = schemathesis.openapi.from_wsgi("/openapi.json", books_app)
notes_schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture
def notes_url():
    server = serve(create_notes_app(seed=5), name="notes-api-schemathesis")
    yield server.url + "/v1"
    server.stop()


@books_schema.parametrize()
@SETTINGS
def test_mini_api_conforms_to_its_openapi(case):
    """Every generated request: no 5xx, documented status and media type, body matches its schema."""
    case.call_and_validate()


@notes_schema.parametrize()
@SETTINGS
def test_rest_demo_conforms_to_its_openapi(case, notes_url):
    """The step 02 notes API, over HTTP on 127.0.0.1, against helpers.rest_demo.OPENAPI."""
    if case.headers and "Idempotency-Key" in case.headers:
        # Generated keys repeat across examples ("0", "00"...), and a key reused with another
        # body is rightly a 422; a fresh key per request is what a real client sends.
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    case.call_and_validate(base_url=notes_url)
