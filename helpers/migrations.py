"""Alembic migrations run from a notebook, on the connection you give them.

Alembic normally lives in a project folder (``alembic init``) with an ``alembic.ini``
and an ``env.py`` that builds its own engine. For the notebook, :func:`project`
writes a minimal project into a folder, whose ``env.py`` uses the connection passed
through ``config.attributes["connection"]``, and :func:`upgrade` / :func:`downgrade`
/ :func:`current` run Alembic's own commands on it::

    cfg = project(folder)                 # folder/versions/ holds the revision files
    upgrade(cfg, db, "head")
    downgrade(cfg, db, "base")
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

__all__ = ["current", "downgrade", "project", "upgrade"]

ENV_PY = '''\\
"""Alembic environment: run migrations on the connection the caller passed in."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
'''

SCRIPT_MAKO = '''\\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""
from alembic import op
import sqlalchemy as sa

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''


def project(folder: str | Path) -> Config:
    """Write a minimal Alembic project in ``folder`` (``env.py``, ``versions/``); return its Config."""
    folder = Path(folder)
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    (folder / "env.py").write_text(ENV_PY)
    (folder / "script.py.mako").write_text(SCRIPT_MAKO)
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    return cfg


def _run(cfg: Config, eng: Engine, action, revision: str) -> None:
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        try:
            action(cfg, revision)
        finally:
            del cfg.attributes["connection"]


def upgrade(cfg: Config, eng: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``alembic upgrade``)."""
    _run(cfg, eng, command.upgrade, revision)


def downgrade(cfg: Config, eng: Engine, revision: str = "base") -> None:
    """Roll migrations back to ``revision`` (``alembic downgrade``)."""
    _run(cfg, eng, command.downgrade, revision)


def current(eng: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with eng.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
