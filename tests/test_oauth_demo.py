"""helpers.oauth_demo: the authorization-code flow with PKCE, end to end on 127.0.0.1."""

from __future__ import annotations

import secrets

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from helpers.oauth_demo import DEMO_USERS, start_oauth_demo


@pytest.fixture
def demo():
    running = start_oauth_demo()
    yield running
    running.stop()


def authorize(demo, verifier, nonce="n-1", password=None, consent="allow"):
    c = demo.client
    session = OAuth2Session(c["client_id"], c["client_secret"], scope=c["scope"],
                            redirect_uri=c["redirect_uri"], code_challenge_method="S256")
    uri, _ = session.create_authorization_url(demo.provider.url + "/authorize",
                                              code_verifier=verifier, nonce=nonce)
    form = {"username": "ada", "password": password or DEMO_USERS["ada"][0], "consent": consent}
    answer = requests.post(uri, data=form, allow_redirects=False, timeout=5)
    return session, answer


def test_full_flow_gives_tokens_the_api_and_userinfo_accept(demo):
    verifier = generate_token(48)
    session, answer = authorize(demo, verifier)
    assert answer.status_code == 302
    token = session.fetch_token(demo.provider.url + "/token",
                                authorization_response=answer.headers["Location"],
                                code_verifier=verifier)
    jwks = jwt.PyJWKClient(demo.provider.url + "/jwks.json")
    key = jwks.get_signing_key_from_jwt(token["id_token"]).key
    claims = jwt.decode(token["id_token"], key, algorithms=["RS256"], audience="notes-web",
                        issuer=demo.provider.url)
    assert claims["sub"] == "ada" and claims["nonce"] == "n-1"
    assert session.get(demo.api.url + "/notes", timeout=5).json()["owner"] == "ada"
    assert session.get(demo.provider.url + "/userinfo", timeout=5).json()["email"] == "ada@example.org"


def test_code_is_single_use_and_bound_to_the_verifier(demo):
    c = demo.client
    verifier = generate_token(48)
    _, answer = authorize(demo, verifier)
    code = answer.headers["Location"].split("code=")[1].split("&")[0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": c["redirect_uri"],
            "code_verifier": generate_token(48)}
    auth = (c["client_id"], c["client_secret"])
    wrong = requests.post(demo.provider.url + "/token", data={**form, "code_verifier": "é" * 50},
                          auth=auth, timeout=5)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    form["code_verifier"] = verifier  # the code was burnt by the failed attempt
    again = requests.post(demo.provider.url + "/token", data=form, auth=auth, timeout=5)
    assert again.status_code == 400
    bad_client = requests.post(demo.provider.url + "/token", data=form, auth=("notes-web", "x"), timeout=5)
    assert bad_client.status_code == 401


def test_authorize_rejects_bad_requests(demo):
    base = demo.provider.url + "/authorize"
    c = demo.client
    assert requests.get(base, params={"client_id": "evil"}, timeout=5).status_code == 400
    params = {"client_id": c["client_id"], "redirect_uri": "https://evil.example/cb"}
    assert requests.get(base, params=params, timeout=5).status_code == 400
    params = {"client_id": c["client_id"], "redirect_uri": c["redirect_uri"], "response_type": "code",
              "state": "s"}
    no_pkce = requests.get(base, params=params, timeout=5, allow_redirects=False)
    assert no_pkce.status_code == 302 and "error=invalid_request" in no_pkce.headers["Location"]
    for challenge in ("é" * 43, "short", "a" * 43 + "="):  # hostile or not an S256 value
        odd = {**params, "code_challenge": challenge, "code_challenge_method": "S256"}
        refused = requests.get(base, params=odd, timeout=5, allow_redirects=False)
        assert refused.status_code == 302, challenge
        assert "error=invalid_request" in refused.headers["Location"], challenge
    _, wrong = authorize(demo, generate_token(48), password="guess")  # noqa: S106 (a wrong password on purpose)
    assert wrong.status_code == 401
    _, denied = authorize(demo, generate_token(48), consent="deny")
    assert "error=access_denied" in denied.headers["Location"]


def test_api_rejects_missing_forged_and_wrong_audience_tokens(demo):
    url = demo.api.url + "/notes"
    assert requests.get(url, timeout=5).status_code == 401
    forged = jwt.encode({"sub": "ada", "aud": "notes-api"}, secrets.token_hex(32), algorithm="HS256")
    assert requests.get(url, headers={"Authorization": f"Bearer {forged}"}, timeout=5).status_code == 401
    discovery = requests.get(demo.provider.url + "/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == demo.provider.url
    assert discovery["code_challenge_methods_supported"] == ["S256"]


def test_refresh_tokens_rotate_and_reuse_revokes_the_family(demo):
    """Each refresh token works once; presenting a used one revokes every token of that login."""
    c = demo.client
    verifier = generate_token(48)
    session, answer = authorize(demo, verifier)
    first = session.fetch_token(demo.provider.url + "/token", code_verifier=verifier,
                                authorization_response=answer.headers["Location"])
    auth = (c["client_id"], c["client_secret"])

    def refresh(token):
        return requests.post(demo.provider.url + "/token", auth=auth, timeout=5,
                             data={"grant_type": "refresh_token", "refresh_token": token})

    second = refresh(first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    reuse = refresh(first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    revoked = refresh(second.json()["refresh_token"])
    assert revoked.status_code == 400, "after a reuse, the successor must be revoked too"


def test_authlib_checks_state_only_when_given(demo):
    """fetch_token(state=...) refuses a callback whose state is not ours (login CSRF)."""
    from authlib.oauth2.rfc6749.errors import MismatchingStateException

    verifier = generate_token(48)
    session, _ = authorize(demo, verifier)
    forged = demo.client["redirect_uri"] + "?code=attacker-code&state=attacker-state"
    with pytest.raises(MismatchingStateException):
        session.fetch_token(demo.provider.url + "/token", authorization_response=forged,
                            code_verifier=verifier, state="our-state")
