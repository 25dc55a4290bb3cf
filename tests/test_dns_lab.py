"""helpers.dns_lab: the authoritative server on 127.0.0.1 and the caching stub resolver, over real UDP."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest

from helpers.dns_lab import CachingResolver, FakeClock, start_dns_server


@pytest.fixture
def dns_server():
    server = start_dns_server(name="dns-test")
    yield server
    server.stop()
    assert not server.errors, server.errors


@pytest.fixture
def clock():
    return FakeClock(1000.0)


@pytest.fixture
def resolver(dns_server, clock):
    return CachingResolver(dns_server.address, clock=clock)


def ask(server, name, rtype):
    """One raw query with dnspython, no cache in between."""
    return dns.query.udp(dns.message.make_query(name, rtype), server.address[0], port=server.port, timeout=2)


def test_a_and_aaaa(resolver):
    assert resolver.resolve("course.test", "A").values == ["127.0.0.1"]
    aaaa = resolver.resolve("course.test", "AAAA")
    assert aaaa.values == ["::1"] and aaaa.rcode == "NOERROR" and aaaa.ttl == 300


def test_cname_chain_is_followed_inside_the_zone(resolver):
    answer = resolver.resolve("docs.course.test", "A")
    assert [(r.name, r.rtype, r.value) for r in answer.records] == [
        ("docs.course.test.", "CNAME", "www.course.test."),
        ("www.course.test.", "CNAME", "course.test."),
        ("course.test.", "A", "127.0.0.1"),
    ]
    assert answer.canonical_name == "course.test."
    assert answer.ttl == 300, "the chain is cached for its shortest TTL (www: 300, docs: 3600)"
    assert resolver.resolve("www.course.test", "CNAME").values == ["course.test."]


def test_answers_are_authoritative_and_not_recursive(dns_server):
    reply = ask(dns_server, "www.course.test", "A")
    assert reply.flags & dns.flags.AA and not reply.flags & dns.flags.RA
    assert dns.rcode.to_text(ask(dns_server, "example.com", "A").rcode()) == "REFUSED"


def test_nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl(dns_server, resolver):
    missing = ask(dns_server, "nope.course.test", "A")
    assert missing.rcode() == dns.rcode.NXDOMAIN and not missing.answer
    (soa,) = missing.authority
    assert soa.ttl == 60 and soa[0].minimum == 60, "RFC 2308: min(SOA TTL 3600, MINIMUM 60)"
    nodata = resolver.resolve("blog.course.test", "AAAA")
    assert (nodata.rcode, nodata.values, nodata.nodata, nodata.ttl) == ("NOERROR", [], True, 60)
    nx = resolver.resolve("nope.course.test", "A")
    assert (nx.rcode, nx.nodata, nx.ttl) == ("NXDOMAIN", False, 60)


def test_dangling_cname_is_nxdomain_with_the_alias(resolver):
    answer = resolver.resolve("old.course.test", "A")
    assert answer.rcode == "NXDOMAIN" and [r.rtype for r in answer.records] == ["CNAME"]


def test_empty_non_terminal_is_nodata_not_nxdomain():
    zone = ("$ORIGIN lab.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 7200 900 1209600 30\n"
            "a.b IN A 127.0.0.2\n")
    with start_dns_server(zone, name="dns-ent") as server:
        resolver = CachingResolver(server.address, clock=FakeClock())
        assert resolver.resolve("b.lab.test", "A").rcode == "NOERROR"
        assert resolver.resolve("c.lab.test", "A").rcode == "NXDOMAIN"
        assert resolver.resolve("a.b.lab.test", "A").values == ["127.0.0.2"]


def test_cache_hit_ages_the_ttl_and_expiry_asks_again(dns_server, resolver, clock):
    first = resolver.resolve("www.course.test", "A")
    assert not first.from_cache and resolver.queries_sent == 1
    clock.advance(120)
    second = resolver.resolve("WWW.course.test.", "A")  # names compare without case or final dot
    assert second.from_cache and resolver.queries_sent == 1
    assert second.ttl == 180 and {r.ttl for r in second.records} == {180}
    clock.advance(179)
    assert resolver.resolve("www.course.test", "A").ttl == 1 and resolver.queries_sent == 1
    clock.advance(1)
    third = resolver.resolve("www.course.test", "A")
    assert not third.from_cache and third.ttl == 300 and resolver.queries_sent == 2
    assert dns_server.queries == ["www.course.test. A", "www.course.test. A"]


def test_cache_keys_on_the_type_too(resolver):
    resolver.resolve("course.test", "A")
    assert not resolver.resolve("course.test", "AAAA").from_cache
    assert resolver.queries_sent == 2


def test_negative_answers_are_cached_for_the_soa_ttl(resolver, clock):
    resolver.resolve("nope.course.test", "A")
    clock.advance(59)
    assert resolver.resolve("nope.course.test", "A").from_cache
    clock.advance(1)
    assert not resolver.resolve("nope.course.test", "A").from_cache
    assert resolver.queries_sent == 2


def test_refused_is_not_cached(resolver):
    assert resolver.resolve("example.com", "A").rcode == "REFUSED"
    assert not resolver.resolve("example.com", "A").from_cache
    assert resolver.queries_sent == 2


def test_forget_empties_the_cache(resolver):
    resolver.resolve("course.test", "A")
    resolver.forget()
    assert not resolver.resolve("course.test", "A").from_cache


def test_dnspython_resolver_pointed_at_the_lab_server(dns_server):
    stub = dns.resolver.Resolver(configure=False)  # no /etc/resolv.conf: only the lab server
    stub.nameservers = [dns_server.address[0]]
    stub.port = dns_server.port
    answer = stub.resolve("docs.course.test", "A")
    assert answer.canonical_name.to_text() == "course.test." and answer.rrset[0].address == "127.0.0.1"
    with pytest.raises(dns.resolver.NXDOMAIN):
        stub.resolve("nope.course.test", "A")


def test_restart_under_the_same_name_stops_the_old_server(dns_server):
    again = start_dns_server(name="dns-test")
    try:
        assert not dns_server.running and again.running and again.port
        assert ask(again, "course.test", "A").answer
    finally:
        again.stop()


def test_fake_clock_does_not_go_backwards():
    clock = FakeClock(5)
    clock.advance(2.5)
    assert clock() == 7.5
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_a_zone_needs_one_soa():
    with pytest.raises(ValueError, match="one SOA"):
        start_dns_server("$ORIGIN x.test.\n@ 300 IN A 127.0.0.1\n", name="dns-no-soa")
