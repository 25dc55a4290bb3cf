"""Milestone 1: CSRF tokens for every state-changing request, and security headers."""

import hmac
import secrets

from flask import abort, request, session

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

#: Scripts, styles and images from this origin only: an injected <script> or inline handler
#: does not run even if it slips past the sanitiser, and no page may frame this one.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csrf_token():
    """This session's CSRF token, created on first use (32 random bytes, URL-safe)."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def protect():
    """Before each request: a POST, PUT, PATCH or DELETE must carry the session's token
    in the X-CSRF-Token header or a csrf_token form field, else 403."""
    if request.method in SAFE_METHODS:
        return None
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf_token", "")
    # compare_digest: the time taken does not tell an attacker how many characters matched.
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, description="missing or wrong CSRF token")
    return None


def security_headers(response):
    """After each request: CSP and the other security headers on every response."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response
