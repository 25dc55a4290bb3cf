"""Milestone 2: accounts. Argon2 password hashes, sessions, roles and a login rate limit."""

import functools
import math
import re
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for

from .db import get_db

bp = Blueprint("auth", __name__)

USERNAME = re.compile(r"[A-Za-z0-9_]{3,30}")
MIN_PASSWORD, MAX_PASSWORD = 12, 128  # the cap keeps a megabyte "password" from costing a hash


def hasher():
    """The app's argon2id hasher (config ARGON2: its parameters, {} for the library defaults)."""
    return PasswordHasher(**current_app.config["ARGON2"])


def hash_password(password):
    """An argon2id hash of password, with its own random salt."""
    return hasher().hash(password)


def verify_password(stored, password):
    """True if password matches the stored hash; False (never an exception) otherwise."""
    try:
        return hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(username, password, role="author"):
    """Insert a user (the username's case is kept, but unique ignoring case); its id.
    Raises ValueError for an invalid username, password or role, or a taken username."""
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise ValueError("username: 3 to 30 letters, digits or _")
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if role not in ("author", "admin"):
        raise ValueError("role: author or admin")
    db = get_db()
    if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
        raise ValueError("username taken")
    try:
        cursor = db.execute("INSERT INTO users (username, password_hash, role) VALUES (?, ?, ?)",
                            (username, hash_password(password), role))
    except db.IntegrityError as error:  # two registrations raced past the check above
        raise ValueError("username taken") from error
    return cursor.lastrowid


class LoginLimiter:
    """At most ``max_failures`` failed logins per username in ``window`` seconds.

    In memory, so per process: with several workers, keep the counts in Redis instead.
    A login in progress counts as a failure until it ends, so a burst of parallel
    guesses cannot all pass the check before the first one has failed.
    """

    def __init__(self, max_failures, window, clock):
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._lock = threading.Lock()
        self._failures = {}  # key -> times of recent failures
        self._pending = {}  # key -> logins in progress

    def acquire(self, key):
        """0 if a login for key may go ahead (then call release), else seconds to wait."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < self.window]
            if recent:
                self._failures[key] = recent
            else:
                self._failures.pop(key, None)  # forget a username once its failures have expired
            if len(recent) + self._pending.get(key, 0) >= self.max_failures:
                oldest = recent[0] if recent else now
                return max(1, math.ceil(oldest + self.window - now))
            self._pending[key] = self._pending.get(key, 0) + 1
            return 0

    def release(self, key, success):
        """Record how the login that acquire() let through ended."""
        with self._lock:
            self._pending[key] -= 1
            if not self._pending[key]:
                del self._pending[key]
            if success:
                self._failures.pop(key, None)
            else:
                self._failures.setdefault(key, []).append(self.clock())


def limiter():
    app = current_app._get_current_object()
    if "login_limiter" not in app.extensions:
        with _setup_lock:
            app.extensions.setdefault("login_limiter", LoginLimiter(
                app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_WINDOW_SECONDS"], app.config["CLOCK"]))
    return app.extensions["login_limiter"]


_setup_lock = threading.Lock()


def dummy_hash():
    """A hash of a random password, verified when the username is unknown, so an unknown
    user costs the same time as a wrong password (no user enumeration by timing)."""
    app = current_app._get_current_object()
    with _setup_lock:
        if "dummy_hash" not in app.extensions:
            app.extensions["dummy_hash"] = hash_password(secrets.token_urlsafe(16))
    return app.extensions["dummy_hash"]


def current_user():
    """The logged-in user's row, or None."""
    if "user" not in g:
        user_id = session.get("user_id")
        g.user = None if user_id is None else get_db().execute(
            "SELECT id, username, role FROM users WHERE id = ?", (user_id,)).fetchone()
    return g.user


def login_required(view):
    """401 for a request without a logged-in user."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        if current_user() is None:
            if request.is_json or request.path.startswith("/api/"):
                return jsonify(error="login required"), 401
            return redirect(url_for("auth.login"))
        return view(**kwargs)
    return wrapped


def user_json(user):
    return {"id": user["id"], "username": user["username"], "role": user["role"]}


def submitted():
    """The request's fields: a JSON object's, or the form's."""
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form


def failure(status, message, template):
    if request.is_json:
        return jsonify(error=message), status
    return render_template(template, error=message), status


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an author account (never an admin: a client cannot choose its role)."""
    if request.method == "GET":
        return render_template("register.html")
    data = submitted()
    try:
        user_id = create_user(data.get("username"), data.get("password"))
    except ValueError as error:
        status = 409 if str(error) == "username taken" else 400
        return failure(status, str(error), "register.html")
    if request.is_json:
        user = get_db().execute("SELECT id, username, role FROM users WHERE id = ?", (user_id,)).fetchone()
        return jsonify(user_json(user)), 201
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in; the same 401 for an unknown user and a wrong password; 429 when rate limited."""
    if request.method == "GET":
        return render_template("login.html")
    data = submitted()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or len(username) > 30:
        return failure(400, "username and password required", "login.html")
    if len(password) > MAX_PASSWORD:
        return failure(400, f"password: at most {MAX_PASSWORD} characters", "login.html")
    key = username.lower()
    wait = limiter().acquire(key)
    if wait:
        response, status = failure(429, "too many failed logins; try again later", "login.html")
        return response, status, {"Retry-After": str(wait)}
    success = False
    try:
        db = get_db()
        user = db.execute("SELECT id, username, role, password_hash FROM users WHERE username = ?",
                          (username,)).fetchone()
        stored = user["password_hash"] if user else dummy_hash()
        success = verify_password(stored, password) and user is not None
        if success and hasher().check_needs_rehash(stored):
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                       (hash_password(password), user["id"]))
    finally:
        limiter().release(key, success)
    if not success:
        return failure(401, "invalid username or password", "login.html")
    session.clear()  # a fresh session (and CSRF token): nothing from before login carries over
    session["user_id"] = user["id"]
    if request.is_json:
        return jsonify(user_json(user))
    return redirect("/")


@bp.post("/logout")
def logout():
    session.clear()
    if request.is_json:
        return "", 204
    return redirect("/")


@bp.get("/api/me")
@login_required
def me():
    return jsonify(user_json(current_user()))
