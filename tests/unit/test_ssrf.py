"""The SSRF guard: hostile URLs are refused with the reason, public ones pass normalised (no I/O)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest

from auralink.errors import ValidationFailed
from auralink.ssrf import CheckedEndpoint, EndpointNotAllowed, address_class, check_endpoint

PUBLIC = "93.184.216.34"
# Look-alikes written with escapes so that the source stays readable: fullwidth forms (U+FF01..).
FULLWIDTH_127 = "".join(chr(ord(char) + 0xFEE0) if char.isdigit() else char for char in "127.0.0.1")
FULLWIDTH_LOCALHOST = "".join(chr(ord(char) + 0xFEE0) for char in "localhost")

# The DNS the tests see; any other name does not resolve (no test ever reaches a real resolver).
DNS: dict[str, list[str]] = {
    "example.com": [PUBLIC],
    "mcp.deepwiki.com": ["104.18.32.7", "2606:4700::6812:2007"],
    "xn--bcher-kva.example": [PUBLIC],
    "localhost": ["127.0.0.1", "::1"],
    "loopback.example": ["127.0.0.1"],
    "private.example": ["10.1.2.3"],
    "mixed.example": [PUBLIC, "10.0.0.7"],
    "metadata.example": ["169.254.169.254"],
    "ula.example": ["fd12:3456::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "cgnat.example": ["100.64.1.1"],
    "localhost.example.com": ["127.0.0.1"],
    "garbage.example": ["not-an-address"],
    "empty.example": [],
}


class FakeDns:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return DNS[host]


def check(url: str, *, dev: bool = False, dns: FakeDns | None = None) -> CheckedEndpoint:
    return check_endpoint(url, allow_loopback=dev, resolver=dns or FakeDns())


# (url, reason, words the message must contain)
HOSTILE: list[tuple[str, str, str]] = [
    # Schemes and URL shapes
    ("http://example.com/mcp", "scheme", "scheme http"),
    ("http://127.0.0.1:8000/mcp", "scheme", "scheme http"),
    ("ftp://example.com/", "scheme", "scheme ftp"),
    ("file:///etc/passwd", "scheme", "scheme file"),
    ("gopher://example.com:70/_GET", "scheme", "scheme gopher"),
    ("javascript:alert(1)", "malformed", "absolute"),
    ("//example.com/mcp", "malformed", "absolute"),
    ("https:/example.com/mcp", "malformed", "absolute"),
    ("https://", "malformed", "no host"),
    ("https://:443/", "malformed", "no host"),
    ("https://example.com:0/", "malformed", "port"),
    ("https://example.com:65536/", "malformed", "port"),
    ("https://example.com:44x/", "malformed", "port"),
    ("https://exa mple.com/", "malformed", "whitespace"),
    ("https://example.com/\r\nHost: 127.0.0.1", "malformed", "whitespace"),
    ("https://example.com\t/", "malformed", "whitespace"),
    ("https://127.0.0.1\\@example.com/", "malformed", "backslash"),
    ("https://example.com/" + "a" * 2100, "malformed", "too long"),
    # Credentials in the URL
    ("https://user:pass@example.com/", "userinfo", "credentials"),
    ("https://example.com@127.0.0.1/", "userinfo", "credentials"),
    ("https://token@example.com/", "userinfo", "credentials"),
    # IPv4 classes
    ("https://127.0.0.1/", "address", "loopback"),
    ("https://127.255.255.254/", "address", "loopback"),
    ("https://10.0.0.1/", "address", "private"),
    ("https://172.16.5.4/", "address", "private"),
    ("https://172.31.255.255/", "address", "private"),
    ("https://192.168.1.1/", "address", "private"),
    ("https://169.254.169.254/latest/meta-data/", "address", "cloud metadata"),
    ("https://169.254.170.2/v2/credentials", "address", "cloud metadata"),
    ("https://169.254.0.1/", "address", "link-local"),
    ("https://100.64.0.1/", "address", "CGNAT"),
    ("https://100.100.100.200/latest/meta-data/", "address", "cloud metadata"),
    ("https://192.0.0.192/opc/v1/", "address", "cloud metadata"),
    ("https://0.0.0.0/", "address", "this-network"),
    ("https://0.1.2.3/", "address", "this-network"),
    ("https://224.0.0.1/", "address", "multicast"),
    ("https://239.255.255.250/", "address", "multicast"),
    ("https://255.255.255.255/", "address", "broadcast"),
    ("https://240.0.0.1/", "address", "reserved"),
    ("https://198.18.0.1/", "address", "non-global"),
    ("https://192.0.2.10/", "address", "non-global"),
    # Other spellings of 127.0.0.1
    ("https://2130706433/", "address", "four decimal numbers"),
    ("https://0x7f000001/", "address", "four decimal numbers"),
    ("https://0x7f.1/", "address", "four decimal numbers"),
    ("https://017700000001/", "address", "four decimal numbers"),
    ("https://0177.0.0.1/", "address", "four decimal numbers"),
    ("https://127.1/", "address", "four decimal numbers"),
    ("https://127.0.1/", "address", "four decimal numbers"),
    ("https://127.000.000.001/", "address", "four decimal numbers"),
    ("https://example.0x7f/", "address", "four decimal numbers"),
    ("https://1.2.3.4.5/", "address", "four decimal numbers"),
    ("https://127.0.0.1./", "address", "loopback"),
    ("https://%31%32%37.0.0.1/", "malformed", "percent-encoded"),
    ("https://①②⑦.⓪.⓪.①/", "address", "loopback"),
    ("https://127。0。0。1/", "address", "loopback"),
    (f"https://{FULLWIDTH_127}/", "address", "loopback"),
    # IPv6 classes and IPv4 embeddings
    ("https://[::1]/", "address", "loopback"),
    ("https://[0:0:0:0:0:0:0:1]/", "address", "loopback"),
    ("https://[::]/", "address", "unspecified"),
    ("https://[fc00::1]/", "address", "unique local"),
    ("https://[fd00:ec2::254]/latest/meta-data/", "address", "cloud metadata"),
    ("https://[fe80::1]/", "address", "link-local"),
    ("https://[fe80::1%25eth0]/", "address", "zone"),
    ("https://[fec0::1]/", "address", "site-local"),
    ("https://[ff02::1]/", "address", "multicast"),
    ("https://[2001:db8::1]/", "address", "non-global"),
    ("https://[::ffff:127.0.0.1]/", "address", "IPv4-mapped loopback"),
    ("https://[::ffff:7f00:1]/", "address", "IPv4-mapped loopback"),
    ("https://[::ffff:10.0.0.1]/", "address", "IPv4-mapped private"),
    ("https://[::ffff:169.254.169.254]/", "address", "IPv4-mapped cloud metadata"),
    ("https://[0:0:0:0:0:ffff:127.0.0.1]/", "address", "IPv4-mapped loopback"),
    ("https://[::127.0.0.1]/", "address", "IPv4-compatible loopback"),
    ("https://[::8.8.8.8]/", "address", "IPv4-compatible"),
    ("https://[2002:7f00:1::]/", "address", "6to4 loopback"),
    ("https://[2002:a9fe:a9fe::]/", "address", "6to4 cloud metadata"),
    ("https://[2002:c0a8:101::1]/", "address", "6to4 private"),
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "address", "Teredo loopback"),
    ("https://[64:ff9b::7f00:1]/", "address", "NAT64 loopback"),
    ("https://[64:ff9b::a9fe:a9fe]/", "address", "NAT64 cloud metadata"),
    ("https://[64:ff9b:1::a00:1]/", "address", "non-global"),
    ("https://[::1/", "malformed", "IPv6"),
    ("https://[::1]x/", "malformed", "IPv6"),
    ("https://[not-an-ip]/", "malformed", "IPv6"),
    # Names
    ("https://localhost/", "name", "fully qualified"),
    ("https://localhost./", "name", "fully qualified"),
    ("https://LOCALHOST:8443/", "name", "fully qualified"),
    ("https://foo.localhost/", "name", "local or internal"),
    (f"https://{FULLWIDTH_LOCALHOST}/", "name", "fully qualified"),
    ("https://metadata/computeMetadata/v1/", "name", "fully qualified"),
    ("https://metadata.google.internal/computeMetadata/v1/", "name", "local or internal"),
    ("https://metadata.google.internal./", "name", "local or internal"),
    ("https://instance-data/latest/meta-data/", "name", "fully qualified"),
    ("https://instance-data.ec2.internal/", "name", "local or internal"),
    ("https://printer.local/", "name", "local or internal"),
    ("https://router.home.arpa/", "name", "local or internal"),
    ("https://intranet/", "name", "fully qualified"),
    ("https://exa_mple..com/", "malformed", "valid name"),
    ("https://.example.com/", "malformed", "valid name"),
    ("https://xn--bcher-kva-.example/", "malformed", "punycode"),
    ("https://xn--zz.example/", "malformed", "punycode"),
    # Names that resolve to what the guard refuses (DNS is the attacker's)
    ("https://loopback.example/", "address", "loopback.example resolves to a loopback address"),
    ("https://private.example/", "address", "private.example resolves to a private address"),
    ("https://mixed.example/", "address", "mixed.example resolves to a private address"),
    ("https://metadata.example/", "address", "cloud metadata"),
    ("https://ula.example/", "address", "unique local"),
    ("https://mapped.example/", "address", "IPv4-mapped loopback"),
    ("https://cgnat.example/", "address", "CGNAT"),
    ("https://localhost.example.com/", "address", "loopback"),
    ("https://garbage.example/", "address", "unreadable address"),
    ("https://empty.example/", "unresolvable", "does not resolve"),
    ("https://nowhere.example/", "unresolvable", "does not resolve"),
]


def _reason_of(url: str, *, dev: bool = False) -> EndpointNotAllowed:
    with pytest.raises(EndpointNotAllowed) as raised:
        check(url, dev=dev)
    return raised.value


def test_the_table_is_large_enough() -> None:
    assert len(HOSTILE) >= 100


@pytest.mark.parametrize(("url", "reason", "words"), HOSTILE, ids=[row[0][:60] for row in HOSTILE])
def test_a_hostile_url_is_refused_in_production(url: str, reason: str, words: str) -> None:
    error = _reason_of(url)

    assert isinstance(error, ValidationFailed)
    assert error.code == "endpoint_not_allowed"
    assert error.details == {"reason": reason}
    assert words.lower() in error.message.lower()


# Rows of HOSTILE that name 127.0.0.1, ::1 or localhost (in some spelling that normalises to it).
ALLOWED_IN_DEVELOPMENT = {
    "http://127.0.0.1:8000/mcp",
    "https://127.0.0.1/",
    "https://127.0.0.1./",
    "https://①②⑦.⓪.⓪.①/",
    "https://127。0。0。1/",
    f"https://{FULLWIDTH_127}/",
    "https://[::1]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://localhost/",
    "https://localhost./",
    "https://LOCALHOST:8443/",
    f"https://{FULLWIDTH_LOCALHOST}/",
}
HOSTILE_IN_DEVELOPMENT = [row for row in HOSTILE if row[0] not in ALLOWED_IN_DEVELOPMENT]


@pytest.mark.parametrize(
    ("url", "reason", "words"), HOSTILE_IN_DEVELOPMENT, ids=[row[0][:60] for row in HOSTILE_IN_DEVELOPMENT]
)
def test_development_refuses_the_same_but_the_loopback_hosts(url: str, reason: str, words: str) -> None:
    error = _reason_of(url, dev=True)
    assert error.details == {"reason": reason}
    assert words.lower() in error.message.lower()


@pytest.mark.parametrize("url", sorted(ALLOWED_IN_DEVELOPMENT))
def test_development_allows_the_loopback_hosts_of_the_table(url: str) -> None:
    assert check(url, dev=True).host in {"127.0.0.1", "::1", "localhost"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:8000/mcp",  # loopback, but not one of the three hosts
        "https://127.0.0.2/",
        "http://[::ffff:127.0.0.1]:8000/",
        "http://loopback.example/",  # a public-looking name that resolves to loopback
        "https://loopback.example/",
        "https://localhost.example.com/",
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://foo.localhost/",
        "http://user:pw@localhost:8000/",
    ],
)
def test_development_allows_loopback_only_through_the_three_hosts(url: str) -> None:
    with pytest.raises(EndpointNotAllowed):
        check(url, dev=True)


def test_localhost_must_resolve_to_loopback_in_development() -> None:
    with pytest.raises(EndpointNotAllowed, match=r"localhost resolves to a private address"):
        check_endpoint(
            "http://localhost:8000/", allow_loopback=True, resolver=lambda host, port: ["10.0.0.1"]
        )


@pytest.mark.parametrize(
    ("url", "normalised", "addresses"),
    [
        ("https://example.com/mcp", "https://example.com/mcp", (PUBLIC,)),
        ("HTTPS://Example.COM./mcp?x=1#frag", "https://example.com/mcp?x=1", (PUBLIC,)),
        ("https://example.com:443/mcp", "https://example.com/mcp", (PUBLIC,)),
        ("https://example.com:8443", "https://example.com:8443", (PUBLIC,)),
        (
            "https://mcp.deepwiki.com/mcp",
            "https://mcp.deepwiki.com/mcp",
            ("104.18.32.7", "2606:4700::6812:2007"),
        ),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x", (PUBLIC,)),
        ("https://xn--bcher-kva.example/x", "https://xn--bcher-kva.example/x", (PUBLIC,)),
        ("https://8.8.8.8/dns", "https://8.8.8.8/dns", ("8.8.8.8",)),
        ("https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/", ("2606:4700:4700::1111",)),
        (
            "https://[2606:4700:4700:0:0:0:0:1111]:444/",
            "https://[2606:4700:4700::1111]:444/",
            ("2606:4700:4700::1111",),
        ),
        ("https://[::ffff:8.8.8.8]/", "https://[::ffff:8.8.8.8]/", ("::ffff:8.8.8.8",)),
        ("https://[64:ff9b::808:808]/", "https://[64:ff9b::808:808]/", ("64:ff9b::808:808",)),
        # NFKC and IDNA map a zero-width space to nothing: the name is example.com.
        ("https://exam\u200bple.com/", "https://example.com/", (PUBLIC,)),
    ],
)
def test_a_public_endpoint_passes_normalised(url: str, normalised: str, addresses: tuple[str, ...]) -> None:
    for dev in (False, True):
        checked = check(url, dev=dev)
        assert checked.url == normalised
        assert checked.addresses == addresses
        assert checked.scheme == "https"


@pytest.mark.parametrize(
    ("url", "host", "port", "addresses"),
    [
        ("http://127.0.0.1:8000/mcp", "127.0.0.1", 8000, ("127.0.0.1",)),
        ("https://127.0.0.1/mcp", "127.0.0.1", 443, ("127.0.0.1",)),
        ("http://localhost:3000/mcp", "localhost", 3000, ("127.0.0.1", "::1")),
        ("http://LOCALHOST./mcp", "localhost", 80, ("127.0.0.1", "::1")),
        ("http://[::1]:8080/", "::1", 8080, ("::1",)),
        ("https://example.com/", "example.com", 443, (PUBLIC,)),
    ],
)
def test_development_allows_the_local_runtime(
    url: str, host: str, port: int, addresses: tuple[str, ...]
) -> None:
    checked = check(url, dev=True)
    assert (checked.host, checked.port, checked.addresses) == (host, port, addresses)


def test_ip_literals_are_never_resolved() -> None:
    dns = FakeDns()
    check("https://8.8.8.8/", dns=dns)
    check("https://[2606:4700:4700::1111]/", dns=dns)
    with pytest.raises(EndpointNotAllowed):
        check("https://10.0.0.1/", dns=dns)
    assert dns.asked == []


@pytest.mark.parametrize(("url", "reason", "words"), HOSTILE, ids=[row[0][:60] for row in HOSTILE])
def test_without_resolving_only_the_verdicts_that_came_from_dns_are_left_out(
    url: str, reason: str, words: str
) -> None:
    # resolver=None: the check before each call of a stored endpoint; the guarded transport checks
    # the addresses of the connections the call opens.
    dns = FakeDns()
    with pytest.raises(EndpointNotAllowed):
        check(url, dns=dns)
    try:
        checked = check_endpoint(url, allow_loopback=False, resolver=None)
    except EndpointNotAllowed as error:
        assert error.details == {"reason": reason}
        assert words.lower() in error.message.lower()
    else:
        assert dns.asked == [checked.host]
        assert checked.addresses == ()


def test_without_resolving_a_name_passes_with_no_address_and_a_literal_with_its_own() -> None:
    assert check_endpoint("https://nowhere.example/mcp", allow_loopback=False, resolver=None).addresses == ()
    assert check_endpoint("https://8.8.8.8/", allow_loopback=False, resolver=None).addresses == ("8.8.8.8",)
    local = check_endpoint("http://localhost:8000/mcp", allow_loopback=True, resolver=None)
    assert (local.url, local.addresses) == ("http://localhost:8000/mcp", ())


def test_every_resolved_address_is_checked_not_just_the_first() -> None:
    # mixed.example resolves to a public address first, then to 10.0.0.7
    error = _reason_of("https://mixed.example/")
    assert "a private address" in error.message


def test_the_guard_resolves_the_normalised_name() -> None:
    dns = FakeDns()
    check("https://BÜCHER.example./", dns=dns)
    assert dns.asked == ["xn--bcher-kva.example"]


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:s3cr3t-pw@example.com/mcp",
        "https://s3cr3t-pw@127.0.0.1/",
        "http://admin:s3cr3t-pw@localhost/",
        "https://loopback.example/mcp?api_key=s3cr3t-pw",
        "https://127.0.0.1/s3cr3t-pw/mcp",
        "ftp://admin:s3cr3t-pw@example.com/",
    ],
)
def test_the_error_never_repeats_credentials_path_or_query(url: str) -> None:
    error = _reason_of(url)
    assert "s3cr3t" not in error.message
    assert "s3cr3t" not in str(error.details)
    assert "s3cr3t" not in str(error)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("172.20.0.1", "private"),
        ("fd00::1", "private (unique local)"),
        ("169.254.169.254", "cloud metadata"),
        ("2002:0808:0808::", "6to4 relay"),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo relay"),
    ],
)
def test_address_classes(address: str, expected: str | None) -> None:
    assert address_class(ipaddress.ip_address(address)) == expected


@pytest.mark.parametrize("name", [name for name, answers in DNS.items() if answers])
def test_a_refusal_names_the_rule_never_the_address_a_name_resolved_to(name: str) -> None:
    try:
        check(f"https://{name}/", dns=FakeDns())
    except EndpointNotAllowed as refusal:
        shown = refusal.message + repr(refusal.details)
        assert not [address for address in DNS[name] if address in shown]
        assert refusal.details == {"reason": refusal.reason}


def test_loopback_allowed_still_refuses_link_local_and_metadata_addresses() -> None:
    for url in ("https://169.254.0.1/", "https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/"):
        with pytest.raises(EndpointNotAllowed, match=r"link-local|metadata"):
            check(url, dev=True)


def test_loopback_allowed_never_reaches_the_lambda_runtime_api(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function running in Lambda, whose Runtime API listens on 127.0.0.1:9001
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")

    for url in ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "http://localhost:9001/"):
        with pytest.raises(EndpointNotAllowed, match="Lambda Runtime API") as refused:
            check(url, dev=True)
        assert refused.value.reason == "address"
    # other loopback ports stay reachable where loopback is allowed
    assert check("http://127.0.0.1:9002/mcp", dev=True).port == 9002


def test_outside_lambda_the_runtime_api_port_is_an_ordinary_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    assert check("http://127.0.0.1:9001/mcp", dev=True).port == 9001
