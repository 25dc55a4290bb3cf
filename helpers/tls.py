"""A throwaway certificate authority for serving HTTPS on 127.0.0.1.

Real sites get certificates from a public CA that browsers already trust. Offline,
we play both parts: :class:`LocalTLS` creates a private CA with `trustme`, issues a
server certificate for ``127.0.0.1`` and ``localhost``, and gives you

- :meth:`LocalTLS.server_context`: an :class:`ssl.SSLContext` to pass to
  ``helpers.servers.serve(app, ssl_context=...)``;
- :attr:`LocalTLS.ca_file`: the CA certificate as a PEM file, for
  ``requests.get(url, verify=tls.ca_file)``;
- :meth:`LocalTLS.server_certificate`: the issued certificate, parsed by
  `cryptography`, so its fields can be inspected.

Everything lives in a temporary folder removed by :meth:`LocalTLS.cleanup`.
The keys are for local demos only: never use a CA whose key sits in a temp folder
for anything real.
"""

from __future__ import annotations

import datetime
import shutil
import ssl
import tempfile
from pathlib import Path

import trustme
from cryptography import x509

__all__ = ["LocalTLS"]


class LocalTLS:
    """A local CA plus one server certificate for ``hosts`` (default 127.0.0.1, localhost).

    ``organization`` names the CA (shown as the certificate's issuer); the server
    certificate is valid for ``validity_days`` days, starting yesterday (like a
    90-day Let's Encrypt certificate).
    """

    def __init__(
        self,
        hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
        organization: str = "Backend Roadmap Lab local CA",
        validity_days: int = 90,
    ) -> None:
        if not hosts:
            raise ValueError("LocalTLS needs at least one host name or IP address for the certificate")
        if validity_days < 2:
            raise ValueError(f"validity_days must be 2 or more, got {validity_days}")
        self.hosts = tuple(hosts)
        self.ca = trustme.CA(organization_name=organization)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.leaf = self.ca.issue_cert(
            *self.hosts,
            organization_name="Backend Roadmap Lab demo server",
            not_before=now - datetime.timedelta(days=1),
            not_after=now + datetime.timedelta(days=validity_days - 1),
        )
        self._dir = Path(tempfile.mkdtemp(prefix="lab-tls-"))
        self.ca_file = str(self._dir / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)

    def server_context(self) -> ssl.SSLContext:
        """A server-side SSL context with the certificate and its private key loaded (TLS 1.2+)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.leaf.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side SSL context that trusts this CA (and checks host names)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def server_certificate(self) -> x509.Certificate:
        """The issued server certificate, parsed."""
        return x509.load_pem_x509_certificate(self.leaf.cert_chain_pems[0].bytes())

    def ca_certificate(self) -> x509.Certificate:
        """The CA's own (self-signed) certificate, parsed."""
        return x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())

    def cleanup(self) -> None:
        """Delete the temporary folder holding the CA file. Safe to call twice."""
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalTLS:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()
