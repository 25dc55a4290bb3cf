"""SQLite access: one connection per request, and the schema as numbered migrations."""

import sqlite3

from flask import current_app, g

#: Migration n brings a database from version n to n + 1 (PRAGMA user_version). Never edit
#: a released migration: add the next one, so every existing database can follow.
MIGRATIONS = [
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL DEFAULT 'author' CHECK (role IN ('author', 'admin'))
    );
    CREATE TABLE posts (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL REFERENCES users (id),
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    CREATE INDEX posts_author ON posts (author_id);
    """,
    """
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY,
        post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        author_id INTEGER NOT NULL REFERENCES users (id),
        body TEXT NOT NULL,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    CREATE INDEX comments_post ON comments (post_id);
    """,
    # Full-text search: an FTS5 index over posts, kept in step by triggers.
    """
    CREATE VIRTUAL TABLE posts_fts USING fts5 (title, body, content='posts', content_rowid='id');
    CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN
        INSERT INTO posts_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
    END;
    CREATE TRIGGER posts_ad AFTER DELETE ON posts BEGIN
        INSERT INTO posts_fts (posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    END;
    CREATE TRIGGER posts_au AFTER UPDATE ON posts BEGIN
        INSERT INTO posts_fts (posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO posts_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
    END;
    INSERT INTO posts_fts (posts_fts) VALUES ('rebuild');
    """,
]


class Connection(sqlite3.Connection):
    """sqlite3's connection; ``execute`` also passes the SQL text, as written (placeholders,
    not values), to ``trace`` when one is set. Tests use it to see what SQL was sent."""

    trace = None

    def execute(self, sql, parameters=(), /):
        if self.trace is not None:
            self.trace(sql)
        return super().execute(sql, parameters)


def connect(path, trace=None):
    """A connection with foreign keys on, rows as sqlite3.Row, and a busy timeout."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, factory=Connection)  # autocommit
    conn.row_factory = sqlite3.Row
    conn.trace = trace
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(conn):
    """Apply the migrations this database has not seen yet, each in its own transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first, so the BEGIN ... COMMIT is inside the script itself.
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    return len(MIGRATIONS)


def get_db():
    """This request's connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"], current_app.config["SQL_TRACE"])
    return g.db


def close_db(exception=None):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app(app):
    """Migrate the database now, and close each request's connection after it."""
    conn = connect(app.config["DATABASE"])
    try:
        migrate(conn)
    finally:
        conn.close()
    app.teardown_appcontext(close_db)
