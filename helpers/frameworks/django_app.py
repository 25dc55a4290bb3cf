"""The books endpoint in Django, configured in-process: no ``startproject``, no ``manage.py``.

A Django project is one per process: settings are global and configured once
(:func:`configure`), views are module-level functions and ``urlpatterns`` is this
module's list. A form validates the JSON; the view turns its errors into problem
details (RFC 9457), as the other two apps do. Production settings: ``DEBUG`` off,
``ALLOWED_HOSTS`` set, a ``SECRET_KEY`` generated rather than written in the source.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

PROBLEM_JSON = "application/problem+json"
#: The store, module-level like everything in a Django project (a real one uses the ORM).
books: dict[int, dict[str, Any]] = {}


def configure() -> None:
    """Configure Django once per process (a second call does nothing) and load it."""
    if settings.configured:
        return
    import django
    from django.core.management.utils import get_random_secret_key

    settings.configure(
        DEBUG=False,  # never True outside your laptop: the debug page shows settings and source
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],  # other Host headers get a 400
        SECRET_KEY=get_random_secret_key(),  # in production: from the environment, never in git
        ROOT_URLCONF=__name__,  # this module's urlpatterns
        INSTALLED_APPS=[],  # no ORM models, admin, sessions or auth here; see the notebook's table
        # CommonMiddleware is what checks ALLOWED_HOSTS on every request. No CsrfViewMiddleware:
        # CSRF rides on cookies and this API sets none (an app with cookie sessions keeps it).
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        DATA_UPLOAD_MAX_MEMORY_SIZE=64 * 1024,  # a bigger body is refused before it is read
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()


class TextField(forms.CharField):
    """A CharField for JSON: forms expect form data, where every value is a string, and would
    turn ``42`` or ``["x"]`` into the text ``"42"`` or ``"['x']"``."""

    def to_python(self, value: Any) -> str:
        if value not in self.empty_values and not isinstance(value, str):
            raise forms.ValidationError("Enter a string.", code="invalid")
        return super().to_python(value)


class BookForm(forms.Form):
    title = TextField(max_length=200)  # required and stripped by default
    author = TextField(max_length=200)
    year = forms.IntegerField(min_value=1, max_value=2100, required=False)


def problem(status: int, title: str, detail: str, **extra: Any) -> JsonResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JsonResponse(body, status=status, content_type=PROBLEM_JSON)


@require_POST
def create_book(request: HttpRequest) -> JsonResponse:
    if request.content_type != "application/json":  # Django parses no JSON for you
        return problem(415, "Unsupported Media Type", "send JSON with Content-Type: application/json")
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):  # malformed, not UTF-8, or nested thousands deep
        return problem(400, "Bad Request", "send a JSON object")
    if not isinstance(data, dict):
        return problem(400, "Bad Request", "send a JSON object")
    form = BookForm(data)
    errors = [{"field": name, "message": "unknown field"} for name in data if name not in form.fields]
    if not form.is_valid() or errors:  # a form ignores unknown fields; we refuse them
        errors += [{"field": f, "message": m} for f, messages in form.errors.items() for m in messages]
        detail = f"{len(errors)} field(s) failed validation"
        return problem(422, "Unprocessable Content", detail, errors=errors)
    book = {"id": len(books) + 1, **form.cleaned_data}
    books[book["id"]] = book
    response = JsonResponse(book, status=201)
    response["Location"] = f"/books/{book['id']}"
    return response


@require_GET
def read_book(request: HttpRequest, book_id: int) -> JsonResponse:
    if book_id not in books:
        return problem(404, "Not Found", f"no book with id {book_id}")
    return JsonResponse(books[book_id])


urlpatterns = [
    path("books", create_book),
    path("books/<int:book_id>", read_book),
]


def create_django_app() -> Any:
    """Django's WSGI app with an empty store. There is one project per process, so a second
    call returns the same project, emptied; there is no app factory as in Flask."""
    configure()
    from django.core.wsgi import get_wsgi_application

    books.clear()
    return get_wsgi_application()
