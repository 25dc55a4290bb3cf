"""A local OAuth 2.0 + OpenID Connect provider and an API that trusts it (step 02).

Small enough to read in one sitting, strict where the specifications are strict:

- the **authorization server** (:func:`create_authorization_server`) implements the
  authorization-code grant with PKCE (RFC 6749, RFC 7636, S256 only), client
  authentication with HTTP Basic, single-use codes bound to the client, the
  redirect URI and the code challenge, refresh tokens that rotate on every use
  (a reused one revokes its whole family, RFC 9700 section 4.14), and OpenID Connect's ID token (RS256),
  ``/userinfo``, discovery (``/.well-known/openid-configuration``) and JWKS;
- the **resource server** (:func:`create_resource_server`) accepts only RS256 access
  tokens signed by that issuer, for its own audience, with the scope it needs.

:func:`start_oauth_demo` starts both on 127.0.0.1 and returns them with the demo
client's registration. The client side is not here: the notebook plays the client
with Authlib's ``OAuth2Session`` so every step of the flow is visible.

In this demo the user "logs in" by POSTing the login form to ``/authorize``
together with the authorization request; a real provider shows a login page and a
consent screen first. Keys are generated at start, secrets are constants of the
demo: a real provider keeps both in a secret store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect, request

from helpers.servers import BackgroundServer, serve

__all__ = [
    "DEMO_CLIENT",
    "DEMO_USERS",
    "OAuthDemo",
    "create_authorization_server",
    "create_resource_server",
    "start_oauth_demo",
]

#: The one registered client: a web app with a secret (a "confidential" client).
DEMO_CLIENT = {
    "client_id": "notes-web",
    "client_secret": "demo-client-secret-7f3a9c2e5b1d4e8f",  # noqa: S105 (demo value)
    "redirect_uri": "https://notes-web.example/callback",
    "scope": "openid profile email notes:read",
}
#: Demo users: username -> (password, profile). A real provider stores password hashes.
DEMO_USERS = {
    "ada": ("correct horse battery staple", {"name": "Ada Lovelace", "email": "ada@example.org"}),
}
API_AUDIENCE = "notes-api"
CODE_TTL = 60
TOKEN_TTL = 300

#: What an S256 code_challenge looks like: BASE64URL(SHA-256(verifier)), unpadded.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
#: RFC 7636 section 4.1: a code_verifier is 43-128 unreserved characters.
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _oauth_error(status: int, error: str, description: str):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def create_authorization_server(private_key: rsa.RSAPrivateKey, clock=time.time) -> Flask:
    """The OAuth 2.0 / OpenID Connect provider. Set ``app.config["ISSUER"]`` to its URL."""
    app = Flask("oauth-authorization-server")
    app.config["ISSUER"] = "http://127.0.0.1"
    codes: dict[str, dict] = {}
    tokens: dict[str, str] = {}  # access token -> username, for /userinfo
    # Refresh tokens rotate: each is single use, and its successor joins the same "family"
    # (one per login). Presenting a used one means it was copied: the whole family is revoked.
    refresh_tokens: dict[str, dict] = {}  # token -> {"username", "scope", "family", "used"}
    revoked_families: set[str] = set()
    lock = threading.Lock()
    kid = "demo-key-1"
    public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    public_jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})

    def sign(claims: dict) -> str:
        return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})

    @app.get("/.well-known/openid-configuration")
    def discovery():
        issuer = app.config["ISSUER"]
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": DEMO_CLIENT["scope"].split(),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    @app.get("/jwks.json")
    def jwks():
        return {"keys": [public_jwk]}

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize():
        args = request.args
        # Errors about the client or redirect URI are shown to the user, never redirected:
        # redirecting to an unverified URI would make this an open redirector.
        if args.get("client_id") != DEMO_CLIENT["client_id"]:
            return _oauth_error(400, "invalid_request", "unknown client_id")
        if args.get("redirect_uri") != DEMO_CLIENT["redirect_uri"]:
            return _oauth_error(400, "invalid_request", "redirect_uri is not registered for this client")

        def back(**params: str):
            if args.get("state") is not None:
                params["state"] = args["state"]
            return redirect(f"{DEMO_CLIENT['redirect_uri']}?{urlencode(params)}", code=302)

        if args.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE with S256 is required")
        if not S256_CHALLENGE.fullmatch(args["code_challenge"]):
            # RFC 7636 4.2: BASE64URL(SHA256(verifier)) without padding, so 43 URL-safe characters.
            return back(error="invalid_request", error_description="code_challenge is not an S256 value")
        scope = args.get("scope", "")
        if not set(scope.split()) <= set(DEMO_CLIENT["scope"].split()):
            return back(error="invalid_scope")
        if request.method == "GET":  # a browser would see the login and consent page
            return "<form method=post>username, password, consent</form>", 200, {
                "Content-Type": "text/html; charset=utf-8"}
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        user = DEMO_USERS.get(username)
        if user is None or not hmac.compare_digest(user[0].encode(), password.encode()):
            return "<p>Wrong username or password</p>", 401, {"Content-Type": "text/html; charset=utf-8"}
        if request.form.get("consent") != "allow":
            return back(error="access_denied")
        code = secrets.token_urlsafe(32)
        with lock:
            codes[code] = {
                "username": username,
                "scope": scope,
                "code_challenge": args["code_challenge"],
                "nonce": args.get("nonce"),
                "expires": clock() + CODE_TTL,
            }
        return back(code=code)

    @app.post("/token")
    def token():
        auth = request.authorization
        if (auth is None or auth.type != "basic" or auth.username != DEMO_CLIENT["client_id"]
                or not hmac.compare_digest((auth.password or "").encode(),
                                           DEMO_CLIENT["client_secret"].encode())):
            response = _oauth_error(401, "invalid_client", "client authentication failed")
            response.headers["WWW-Authenticate"] = 'Basic realm="token"'
            return response
        form = request.form
        if form.get("grant_type") == "refresh_token":
            return refresh(form.get("refresh_token", ""))
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "only authorization_code and refresh_token")
        with lock:
            grant = codes.pop(form.get("code", ""), None)  # single use, even when it fails
        if grant is None or grant["expires"] < clock():
            return _oauth_error(400, "invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri") != DEMO_CLIENT["redirect_uri"]:
            return _oauth_error(400, "invalid_grant", "redirect_uri does not match the request")
        verifier = form.get("code_verifier", "")
        if not VERIFIER.fullmatch(verifier):
            return _oauth_error(400, "invalid_grant", "code_verifier must be 43-128 unreserved characters")
        # Bytes: compare_digest raises TypeError (a 500) on a str with non-ASCII characters.
        if not hmac.compare_digest(_s256(verifier).encode(), grant["code_challenge"].encode()):
            return _oauth_error(400, "invalid_grant", "code_verifier does not match code_challenge")
        return issue(grant["username"], grant["scope"], grant["nonce"], family=secrets.token_hex(8))

    def refresh(presented: str):
        """Rotate: a new access and refresh token for an unused refresh token of a live family."""
        with lock:
            record = refresh_tokens.get(presented)
            if record is None or record["family"] in revoked_families:
                return _oauth_error(400, "invalid_grant", "unknown or revoked refresh token")
            if record["used"]:
                revoked_families.add(record["family"])  # reuse: someone holds a copy; end the login
                return _oauth_error(400, "invalid_grant", "refresh token reused: every refresh token "
                                    "of this login is revoked")
            record["used"] = True
        return issue(record["username"], record["scope"], None, family=record["family"])

    def issue(username: str, scope: str, nonce: str | None, *, family: str):
        now = int(clock())
        issuer = app.config["ISSUER"]
        access_token = sign({"iss": issuer, "sub": username, "aud": API_AUDIENCE,
                             "scope": scope, "iat": now, "exp": now + TOKEN_TTL,
                             "client_id": DEMO_CLIENT["client_id"], "jti": secrets.token_hex(8)})
        refresh_token = secrets.token_urlsafe(32)
        with lock:
            tokens[access_token] = username
            refresh_tokens[refresh_token] = {"username": username, "scope": scope, "family": family,
                                             "used": False}
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_TTL,
                "refresh_token": refresh_token, "scope": scope}
        if "openid" in scope.split():
            id_claims = {"iss": issuer, "sub": username, "aud": DEMO_CLIENT["client_id"],
                         "iat": now, "exp": now + TOKEN_TTL, "auth_time": now}
            if nonce:
                id_claims["nonce"] = nonce
            body["id_token"] = sign(id_claims)
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/userinfo")
    def userinfo():
        auth = request.authorization
        username = tokens.get(auth.token) if auth is not None and auth.type == "bearer" else None
        if username is None:
            return "", 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        profile = DEMO_USERS[username][1]
        return {"sub": username, **profile}

    return app


def create_resource_server(issuer: str, audience: str = API_AUDIENCE) -> Flask:
    """An API that serves ``GET /notes`` to bearer tokens from ``issuer`` with ``notes:read``.

    It fetches the issuer's public keys from its JWKS endpoint (and caches them), so
    the provider can rotate keys without redeploying the API.
    """
    app = Flask("oauth-resource-server")
    keys = jwt.PyJWKClient(f"{issuer}/jwks.json", cache_keys=True, timeout=5)

    def challenge(status: int, error: str):
        return jsonify({"error": error}), status, {"WWW-Authenticate": f'Bearer error="{error}"'}

    @app.get("/notes")
    def notes():
        auth = request.authorization
        if auth is None or auth.type != "bearer" or not auth.token:
            return jsonify({"error": "missing bearer token"}), 401, {"WWW-Authenticate": "Bearer"}
        try:
            key = keys.get_signing_key_from_jwt(auth.token).key
            claims = jwt.decode(auth.token, key, algorithms=["RS256"], audience=audience,
                                issuer=issuer, options={"require": ["exp", "iat", "sub"]})
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            return challenge(401, "invalid_token")
        if "notes:read" not in claims.get("scope", "").split():
            return challenge(403, "insufficient_scope")
        return {"owner": claims["sub"], "notes": ["buy milk", "learn OAuth"]}

    return app


@dataclass
class OAuthDemo:
    """The running provider and API, plus the demo client's registration."""

    provider: BackgroundServer
    api: BackgroundServer
    client: dict = field(default_factory=lambda: dict(DEMO_CLIENT))

    def stop(self) -> None:
        """Stop both servers."""
        self.provider.stop()
        self.api.stop()


def start_oauth_demo(clock=time.time) -> OAuthDemo:
    """Start the authorization server and the resource server on 127.0.0.1."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider_app = create_authorization_server(private_key, clock=clock)
    provider = serve(provider_app, name="oauth-provider")
    provider_app.config["ISSUER"] = provider.url
    api = serve(create_resource_server(provider.url), name="oauth-api")
    return OAuthDemo(provider, api)
