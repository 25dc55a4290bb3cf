"""Twelve-factor configuration: the books API reads its settings from the environment.

:func:`load_config` turns environment variables into Flask config keys, validates
each one, and raises :class:`ConfigError` naming the variable that is wrong, so a
misconfigured deploy fails at start-up with a message that says what to fix.
Secrets (``SECRET_KEY``) come only from the environment, never from code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULTS", "ConfigError", "load_config"]

DEFAULTS: dict[str, Any] = {
    "APP_ENV": "development",
    "DATABASE_URL": "sqlite://",  # an in-memory SQLite database, per process
    "MAX_CONTENT_LENGTH": 64 * 1024,  # bytes; a bigger body gets 413
    "PER_PAGE_MAX": 100,
    "DEMO_ROUTES": False,  # /slow, for the graceful-shutdown demo of step 06
    "SECRET_KEY": None,
}
ENVIRONMENTS = ("development", "test", "production")


class ConfigError(ValueError):
    """A configuration variable is missing or invalid; ``variable`` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(name, f"must be greater than 0, got {value}")
    return value


def load_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """Flask config from ``environ`` (pass ``os.environ``); raises ConfigError on a bad value.

    Variables: ``APP_ENV`` (development, test or production), ``DATABASE_URL``,
    ``MAX_CONTENT_LENGTH`` and ``PER_PAGE_MAX`` (positive integers), ``DEMO_ROUTES``
    (``1`` to enable) and ``SECRET_KEY`` (required, 32+ characters, in production).
    In production ``DATABASE_URL`` is required too (no in-memory fallback).
    """
    config = dict(DEFAULTS)
    app_env = environ.get("APP_ENV", DEFAULTS["APP_ENV"])
    if app_env not in ENVIRONMENTS:
        raise ConfigError("APP_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    config["APP_ENV"] = app_env
    url = environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]
    if "://" not in url:
        raise ConfigError("DATABASE_URL", f"must be a URL such as sqlite:///books.db, got {url!r}")
    config["DATABASE_URL"] = url
    config["MAX_CONTENT_LENGTH"] = _positive_int(
        environ, "MAX_CONTENT_LENGTH", DEFAULTS["MAX_CONTENT_LENGTH"]
    )
    config["PER_PAGE_MAX"] = _positive_int(environ, "PER_PAGE_MAX", DEFAULTS["PER_PAGE_MAX"])
    demo = environ.get("DEMO_ROUTES", "0")
    if demo not in ("0", "1"):
        raise ConfigError("DEMO_ROUTES", f"must be 0 or 1, got {demo!r}")
    config["DEMO_ROUTES"] = demo == "1"
    secret = environ.get("SECRET_KEY")
    if app_env == "production":
        if not secret:
            raise ConfigError("SECRET_KEY", "is required when APP_ENV=production (set it in the environment)")
        if len(secret) < 32:
            raise ConfigError("SECRET_KEY", f"must be at least 32 characters, got {len(secret)}")
        if not environ.get("DATABASE_URL"):
            # The development default is an in-memory database that vanishes with the
            # process: in production that would lose every write, silently. Refuse.
            raise ConfigError(
                "DATABASE_URL", "is required when APP_ENV=production (set it in the environment)"
            )
    config["SECRET_KEY"] = secret
    return config
