"""helpers.tls: a local CA whose certificate a verifying client accepts, and others refuse."""

from __future__ import annotations

import datetime
import os

import pytest
import requests
from cryptography import x509
from flask import Flask

from helpers.servers import serve
from helpers.tls import LocalTLS


def create_app():
    app = Flask("tls_demo")

    @app.get("/")
    def index():
        return {"ok": True}

    return app


@pytest.fixture
def tls():
    with LocalTLS() as local:
        yield local


def test_verifying_client_accepts_the_local_ca(tls):
    server = serve(create_app(), ssl_context=tls.server_context())
    assert server.url.startswith("https://127.0.0.1:")
    assert requests.get(server.url, verify=tls.ca_file, timeout=5).json() == {"ok": True}


def test_client_without_the_ca_refuses(tls):
    server = serve(create_app(), ssl_context=tls.server_context())
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url, timeout=5)
    with LocalTLS(organization="another CA") as other, pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url, verify=other.ca_file, timeout=5)


def test_certificate_fields(tls):
    cert = tls.server_certificate()
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 90
    assert cert.not_valid_before_utc < datetime.datetime.now(datetime.timezone.utc)
    assert cert.issuer == tls.ca_certificate().subject
    assert tls.ca_certificate().extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_client_context_checks_host_names(tls):
    context = tls.client_context()
    assert context.check_hostname


def test_cleanup_removes_the_ca_file():
    local = LocalTLS()
    assert os.path.exists(local.ca_file)
    local.cleanup()
    local.cleanup()  # twice is fine
    assert not os.path.exists(local.ca_file)


@pytest.mark.parametrize("kwargs", [{"hosts": ()}, {"validity_days": 1}])
def test_bad_arguments_say_what_to_do(kwargs):
    with pytest.raises(ValueError, match="host|validity_days"):
        LocalTLS(**kwargs)
