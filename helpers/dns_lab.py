"""DNS for real, on loopback: an authoritative server for a made-up zone and a caching stub resolver.

Step 02 resolves names the way a computer does, without touching the internet:

- :func:`start_dns_server` serves a zone (a zone file, :data:`ZONE_FILE` by default) with
  dnslib on 127.0.0.1, on a free UDP port, from a background thread. It answers only for
  its own zone, as an *authoritative* server does: records, CNAME chains, ``NXDOMAIN``
  for a name that does not exist and ``NODATA`` (no error, no answer) for a name that
  exists without records of the type asked for. Both negative answers carry the zone's
  SOA record, from which resolvers take how long to remember them (RFC 2308).
- :class:`CachingResolver` is a stub resolver built on dnspython's ``dns.query.udp``: it
  sends one query to that server and keeps the answer for its TTL, read from an
  injectable clock (:class:`FakeClock` in a notebook or a test), so expiry is shown
  without waiting.

::

    from helpers.dns_lab import CachingResolver, FakeClock, start_dns_server
    dns_server = start_dns_server()
    resolver = CachingResolver(dns_server.address, clock=FakeClock())
    resolver.resolve("www.course.test", "A").values      # ['127.0.0.1']
    dns_server.stop()

``course.test.`` is safe to make up: RFC 2606 reserves the ``.test`` top-level domain
for testing, so it can never be a real domain.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
from dnslib import QTYPE, RCODE, RR, DNSLabel
from dnslib.server import DNSServer
from dnslib.server import UDPServer as _DnslibUDPServer

from helpers.registry import ServerRegistry

__all__ = [
    "ZONE_FILE",
    "Answer",
    "CachingResolver",
    "DnsServer",
    "FakeClock",
    "Record",
    "start_dns_server",
]

HOST = "127.0.0.1"

#: The lab's zone, in the zone-file format every DNS server reads (RFC 1035, section 5).
#: Names without a final dot are relative to $ORIGIN; the TTL column is in seconds.
ZONE_FILE = """\
$ORIGIN course.test.
$TTL 3600
; name   TTL   class type  data
@              IN SOA   ns1 hostmaster 2026113001 7200 900 1209600 60
@              IN NS    ns1
ns1            IN A     127.0.0.1
@        300   IN A     127.0.0.1
@        300   IN AAAA  ::1
www      300   IN CNAME course.test.
docs     3600  IN CNAME www.course.test.
blog     60    IN A     127.0.0.1
shop     60    IN A     127.0.0.1
old      3600  IN CNAME gone.course.test.
@              IN MX    10 mail.course.test.
mail           IN A     127.0.0.1
@              IN TXT   "v=spf1 -all"
"""

_servers: ServerRegistry[DnsServer] = ServerRegistry()


# -- the authoritative server -----------------------------------------------------------


class _QuietLogger:
    """dnslib's server logs every packet with print(); this logger keeps stdout and stderr clean."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("log_"):
            return lambda *args: None
        raise AttributeError(name)


class _QuietUDPServer(_DnslibUDPServer):
    """dnslib's threaded UDP server; an error in a handler is recorded instead of printed."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.append(sys.exc_info()[1])


class ZoneResolver:
    """Answers queries from one zone's records, authoritatively (dnslib's resolver interface)."""

    def __init__(self, zone_file: str) -> None:
        self.records = RR.fromZone(zone_file)
        soas = [rr for rr in self.records if rr.rtype == QTYPE.SOA]
        if len(soas) != 1:
            raise ValueError(f"a zone has exactly one SOA record, found {len(soas)}")
        self.soa = soas[0]
        self.origin = self.soa.rname
        self.queries: list[str] = []  # "name TYPE" for each query received, in order
        self._lock = threading.Lock()

    def _names(self) -> set[DNSLabel]:
        return {rr.rname for rr in self.records}

    def _exists(self, name: DNSLabel) -> bool:
        # A name with no records of its own but names below it (an "empty non-terminal")
        # exists too: asking for it is NODATA, not NXDOMAIN (RFC 8020).
        return any(other == name or other.matchSuffix(name) for other in self._names())

    def _negative_soa(self) -> RR:
        """The SOA for the authority section; its TTL is min(SOA TTL, MINIMUM) (RFC 2308, section 3)."""
        minimum = self.soa.rdata.times[-1]
        return RR(self.soa.rname, QTYPE.SOA, rdata=self.soa.rdata, ttl=min(self.soa.ttl, minimum))

    def resolve(self, request: Any, handler: Any) -> Any:
        """The reply to ``request``: the answer records, following CNAMEs inside the zone."""
        question = request.q
        with self._lock:
            self.queries.append(f"{str(question.qname).lower()} {QTYPE[question.qtype]}")
        reply = request.reply()  # copies the id and the question, sets QR
        reply.header.ra = 0  # no recursion: this server only knows its own zone
        name = question.qname
        if not (name == self.origin or name.matchSuffix(self.origin)):
            reply.header.rcode = RCODE.REFUSED  # not our zone, and we do not recurse
            return reply
        reply.header.aa = 1  # authoritative: the answer comes from the zone itself
        for _ in range(8):  # a CNAME chain longer than this is a loop
            records = [rr for rr in self.records if rr.rname == name]
            wanted = [rr for rr in records if question.qtype in (rr.rtype, QTYPE.ANY)]
            alias = [rr for rr in records if rr.rtype == QTYPE.CNAME]
            if wanted or not alias:
                break
            reply.add_answer(*alias)
            name = alias[0].rdata.label
            if not name.matchSuffix(self.origin) and name != self.origin:
                return reply  # the target is another zone's: the resolver asks on from here
        reply.add_answer(*wanted)
        if not wanted:
            if not self._exists(name):
                reply.header.rcode = RCODE.NXDOMAIN  # the (last) name does not exist
            reply.add_auth(self._negative_soa())  # NXDOMAIN or NODATA: say how long to remember it
        return reply


class DnsServer:
    """An authoritative DNS server on 127.0.0.1 (UDP), from a daemon thread. See :func:`start_dns_server`."""

    def __init__(self, zone_file: str, name: str, port: int = 0) -> None:
        self.name = name
        self.zone = ZoneResolver(zone_file)
        self._server = DNSServer(self.zone, address=HOST, port=port, logger=_QuietLogger(),
                                 server=_QuietUDPServer)
        self._server.server.errors = []
        self.address: tuple[str, int] = self._server.server.server_address[:2]
        self.port = self.address[1]
        self._thread = threading.Thread(target=self._server.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name=f"dns-{name}", daemon=True)
        self._stopped = False

    @property
    def queries(self) -> list[str]:
        """The queries the server has received, as ``"name TYPE"``, oldest first."""
        return list(self.zone.queries)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while answering (the client then times out)."""
        return list(self._server.server.errors)

    def start(self) -> DnsServer:
        """Serve from a background thread; the socket is bound already, so queries queue until then."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._server.server.shutdown()
            self._thread.join(timeout=5)
        self._server.server.server_close()
        _servers.forget(self.name, self)

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        return self._thread.is_alive() and not self._stopped

    def __enter__(self) -> DnsServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<DnsServer {self.name!r} zone {self.zone.origin} {'running' if self.running else 'stopped'}>"


def start_dns_server(zone_file: str = ZONE_FILE, name: str = "dns", port: int = 0) -> DnsServer:
    """Serve ``zone_file`` on 127.0.0.1 (a free UDP port by default) and return the running server.

    A server already running under ``name`` is stopped first, so re-running a notebook cell is safe.
    """
    return _servers.replace(name, lambda: DnsServer(zone_file, name, port)).start()


# -- the caching stub resolver ----------------------------------------------------------


class FakeClock:
    """A clock that moves only when told to: ``clock()`` is the time, ``clock.advance(s)`` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        if seconds < 0:
            raise ValueError(f"time does not go backwards: advance({seconds})")
        self.now += seconds


@dataclass(frozen=True)
class Record:
    """One resource record: ``name TTL IN type value``, as in a zone file."""

    name: str
    rtype: str
    ttl: int
    value: str

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} IN {self.rtype} {self.value}"


@dataclass(frozen=True)
class Answer:
    """What a lookup found.

    ``rcode`` is ``"NOERROR"`` or ``"NXDOMAIN"`` (or ``"REFUSED"``, ``"SERVFAIL"`` ...);
    ``records`` is the answer section in order (CNAMEs first, then the records asked for);
    ``ttl`` is how many seconds the answer may still be cached; ``from_cache`` says whether
    this lookup sent a query at all.
    """

    name: str
    rtype: str
    rcode: str
    records: tuple[Record, ...]
    ttl: int
    from_cache: bool = False

    @property
    def values(self) -> list[str]:
        """The data of the records of the type asked for (addresses for A and AAAA)."""
        return [r.value for r in self.records if r.rtype == self.rtype]

    @property
    def canonical_name(self) -> str:
        """The name at the end of the CNAME chain (the name asked for, when there is none)."""
        aliases = [r for r in self.records if r.rtype == "CNAME"]
        return aliases[-1].value if aliases else dns.name.from_text(self.name).to_text()

    @property
    def nodata(self) -> bool:
        """The name exists, but has no record of this type (RFC 2308's NODATA)."""
        return self.rcode == "NOERROR" and not self.values

    def __str__(self) -> str:
        lines = [f";; {self.name} {self.rtype}: {self.rcode}, ttl {self.ttl}"
                 f"{' (from cache)' if self.from_cache else ''}"]
        return "\n".join(lines + [str(r) for r in self.records])


class CachingResolver:
    """A stub resolver with a cache: one UDP query to ``server``, then the answer is reused for its TTL.

    ``server`` is ``(address, port)``, e.g. :attr:`DnsServer.address`. ``clock`` returns
    seconds (``time.monotonic`` by default; a :class:`FakeClock` to show expiry). Positive
    answers are kept for the smallest TTL in the answer (the whole CNAME chain expires when
    its shortest link does); NXDOMAIN and NODATA answers for the TTL of the SOA record in
    the authority section (negative caching, RFC 2308); anything else is not cached.
    """

    def __init__(self, server: tuple[str, int], clock: Callable[[], float] = time.monotonic,
                 timeout: float = 2.0) -> None:
        self.server = server
        self.clock = clock
        self.timeout = timeout
        self.queries_sent = 0
        self._cache: dict[tuple[str, str], tuple[Answer, float]] = {}  # key -> (answer, stored at)

    def resolve(self, name: str, rtype: str = "A") -> Answer:
        """Look ``name`` up (``rtype`` is ``"A"``, ``"AAAA"``, ``"CNAME"``, ``"MX"`` ...)."""
        key = (dns.name.from_text(name).to_text().lower(), rtype.upper())
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None:
            answer, stored_at = cached
            age = int(now - stored_at)
            if age < answer.ttl:
                return self._aged(answer, age)
            del self._cache[key]  # expired: ask again
        answer = self._query(name, rtype.upper())
        if answer.ttl > 0 and answer.rcode in ("NOERROR", "NXDOMAIN"):
            self._cache[key] = (answer, now)
        return answer

    def forget(self) -> None:
        """Empty the cache (what ``resolvectl flush-caches`` or ``ipconfig /flushdns`` do)."""
        self._cache.clear()

    def _query(self, name: str, rtype: str) -> Answer:
        query = dns.message.make_query(name, rtype)
        query.flags &= ~dns.flags.RD  # ask this server only, as a resolver asks an authoritative one
        # dns.query.udp checks that the reply answers this query (same id, same question).
        reply = dns.query.udp(query, self.server[0], port=self.server[1], timeout=self.timeout)
        self.queries_sent += 1
        records = tuple(Record(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl,
                               rdata.to_text())
                        for rrset in reply.answer for rdata in rrset)
        rcode = dns.rcode.to_text(reply.rcode())
        if records and any(r.rtype == rtype for r in records):
            ttl = min(r.ttl for r in records)
        else:  # negative: NXDOMAIN or NODATA; the SOA in the authority section says for how long
            soas = [rrset for rrset in reply.authority if rrset.rdtype == dns.rdatatype.SOA]
            ttl = min(soas[0].ttl, soas[0][0].minimum) if soas else 0
        return Answer(name, rtype, rcode, records, ttl)

    @staticmethod
    def _aged(answer: Answer, age: int) -> Answer:
        """The cached answer as a cache hands it out: every TTL lowered by the time it was kept."""
        records = tuple(replace(r, ttl=r.ttl - age) for r in answer.records)
        return replace(answer, records=records, ttl=answer.ttl - age, from_cache=True)
