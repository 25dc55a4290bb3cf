"""helpers.migrations: Alembic upgrade and downgrade on a given engine."""

from __future__ import annotations

import sqlalchemy as sa

from helpers import migrations

REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("notes")
'''


def test_upgrade_and_downgrade(db, tmp_path, capsys):
    cfg = migrations.project(tmp_path / "alembic")
    (tmp_path / "alembic" / "versions" / "0001_notes.py").write_text(REVISION)
    assert migrations.current(db) is None
    migrations.upgrade(cfg, db)
    assert migrations.current(db) == "0001"
    assert sa.inspect(db).has_table("notes")
    migrations.downgrade(cfg, db)
    assert migrations.current(db) is None
    assert not sa.inspect(db).has_table("notes")
    captured = capsys.readouterr()
    assert captured.err == "", "Alembic must stay quiet (nbval compares stderr)"
