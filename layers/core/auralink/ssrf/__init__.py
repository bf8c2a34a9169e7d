"""The SSRF guard: which URLs the service may call on a user's behalf.

A user can point a connection at any URL, and the service then sends requests there from inside
its own network. In production only ``https`` to public addresses is allowed, checked after DNS
resolution: every address a name resolves to must be public, so a name cannot smuggle in a
loopback, private, link-local or metadata address. Where loopback is allowed
(``allow_loopback=True``: the ALLOW_LOOPBACK_ENDPOINTS setting, on for the local runtime and the
tests, off by default in AWS) servers on this machine are reachable too, through ``http`` or
``https`` to ``127.0.0.1``, ``::1`` or ``localhost``, and nothing else that is not public: never
link-local or metadata addresses, and never the Lambda Runtime API (the port named by
``AWS_LAMBDA_RUNTIME_API``, 9001), through which a request could answer or steal an invocation.

A refusal names the rule that refused (``details["reason"]`` and the address class in the
message), never the address a name resolved to: that would map a private network's DNS for
anyone who asks.

Two checks, because DNS answers can change between them (DNS rebinding):

- `check_endpoint` (here) parses and normalises the URL and checks the host and its addresses.
  It is cheap (an IP literal costs microseconds, a name one resolution), so callers run it when a
  connection is created. Connect to ``CheckedEndpoint.url``, not to the raw input: it is the
  spelling that was checked. Before each later call of a stored endpoint it runs again without
  resolving (``resolver=None``): the rules of the URL and the host, whose spelling nothing changes;
  the addresses are the transport's to check, at each connection the call opens.
- `auralink.ssrf.transport.guarded_transport` builds the HTTP transport for outbound calls:
  every TCP connection it opens resolves the host itself, checks every address again with
  `screen_host` and connects to a checked address, so nothing between the check and the
  connection can change where the request goes. It lives apart because it imports the HTTP
  stack, which functions that only validate URLs do not need.

Our clients never follow redirects: they use ``follow_redirects=False``, and the MCP SDK follows
only redirects that stay on the endpoint's origin (same scheme, host and port), whose
connections the guarded transport checks like any other.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from auralink.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the host resolves to, as strings.
Resolver = Callable[[str, int], Sequence[str]]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Special-use names (RFC 6761, 6762, 8375; ICANN's private-use .internal) and the names cloud
# providers give their metadata services. Single-label names are refused separately.
_BLOCKED_SUFFIXES = ("localhost", "local", "localdomain", "internal", "home.arpa")
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack
        "169.254.170.2",  # ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIXTO4 = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_RFC1918 = tuple(ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
# Labels that inet_aton reads as numbers: decimal, octal (leading 0) and hex (0x).
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_CHARS = re.compile(r"^[a-z0-9_-]+$")
_MAX_URL_LENGTH = 2048


class EndpointNotAllowed(ValidationFailed):
    """The URL may not be called: ``details["reason"]`` says which rule refused it."""

    code = "endpoint_not_allowed"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(f"endpoint not allowed: {message}", details={"reason": reason})
        self.reason = reason


@dataclass(frozen=True)
class CheckedEndpoint:
    url: str  # normalised: lower-case ASCII host, no userinfo, no fragment
    host: str  # without brackets for IPv6
    port: int
    scheme: str
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, each once, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_endpoint(url: str, *, allow_loopback: bool, resolver: Resolver | None = resolve) -> CheckedEndpoint:
    """The URL, normalised, if the service may call it; `EndpointNotAllowed` says why not.

    With ``resolver=None`` a name is judged by the rules of names alone and not resolved (its
    ``addresses`` are then empty): for an endpoint checked with its addresses before, whose calls
    go through the guarded transport."""
    scheme, netloc, rest = _split(url)
    host, port = _host_and_port(netloc, scheme)
    loopback_host = allow_loopback and host in LOOPBACK_HOSTS
    if scheme != "https" and not (scheme == "http" and loopback_host):
        where = "only for 127.0.0.1, ::1 and localhost" if allow_loopback else "not allowed"
        raise EndpointNotAllowed(f"scheme {scheme} is {where}; use https", reason="scheme")
    addresses = screen_host(host, port, allow_loopback=allow_loopback, resolver=resolver)
    shown_host = f"[{host}]" if ":" in host else host
    shown_port = "" if port == _DEFAULT_PORTS[scheme] else f":{port}"
    return CheckedEndpoint(
        url=f"{scheme}://{shown_host}{shown_port}{rest}",
        host=host,
        port=port,
        scheme=scheme,
        addresses=addresses,
    )


def screen_host(
    host: str, port: int, *, allow_loopback: bool, resolver: Resolver | None = resolve
) -> tuple[str, ...]:
    """The addresses of a host (name or IP literal), each checked; raises `EndpointNotAllowed`.
    With ``resolver=None`` a name is checked by its rules and none of its addresses is returned."""
    host = normalise_host(host)
    literal = _ip_literal(host)
    loopback_host = allow_loopback and host in LOOPBACK_HOSTS
    if literal is None:
        _check_name(host, loopback_host=loopback_host)
        if resolver is None:
            return ()
        addresses = _resolved(host, port, resolver)
    else:
        addresses = [literal]
    for address in addresses:
        problem = address_class(address)
        if problem == "loopback" and loopback_host and port == _lambda_runtime_port():
            raise EndpointNotAllowed(f"port {port} of {host} is the Lambda Runtime API", reason="address")
        if problem is None or (problem == "loopback" and loopback_host):
            continue
        described = f"{'an' if problem[0] in 'aeiouAEIOU' else 'a'} {problem} address"
        where = f"is {described}" if literal is not None else f"resolves to {described}"
        raise EndpointNotAllowed(f"{host} {where}", reason="address")
    return tuple(str(address) for address in addresses)


def _lambda_runtime_port() -> int | None:
    """The port of the Lambda Runtime API (``127.0.0.1:9001``), where the function runs in Lambda.

    A fact of the execution environment that Lambda sets, not a setting of the service."""
    _, _, port = os.environ.get("AWS_LAMBDA_RUNTIME_API", "").rpartition(":")
    return int(port) if port.isdigit() else None


def address_class(address: IPAddress) -> str | None:
    """Why the address is not public (a short class name), or None when it is."""
    if address in _METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_class(address)
    return _ipv6_class(address)


def _ipv4_class(address: ipaddress.IPv4Address) -> str | None:
    checks: tuple[tuple[bool, str], ...] = (
        (address in _THIS_NETWORK, "this-network (0.0.0.0/8)"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (any(address in net for net in _RFC1918), "private"),
        (address in _CGNAT, "shared (CGNAT)"),
        (address.is_multicast, "multicast"),
        (address == ipaddress.IPv4Address("255.255.255.255"), "broadcast"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-global"),
    )
    return next((name for matched, name in checks if matched), None)


def _ipv6_class(address: ipaddress.IPv6Address) -> str | None:
    if address.scope_id:
        return "scoped (zone id)"
    if address.is_unspecified:
        return "unspecified"
    if address == _IPV6_LOOPBACK:
        return "loopback"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        kind, ipv4 = embedded
        inner = address_class(ipv4)
        # IPv4-compatible addresses are deprecated and 6to4/Teredo are relays: never a real endpoint.
        if inner is not None or kind in {"IPv4-compatible", "6to4", "Teredo"}:
            return f"{kind} {inner or 'relay'}"
        return None
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_multicast, "multicast"),
        (address.is_link_local, "link-local"),
        (address.is_site_local, "site-local"),
        (address in _UNIQUE_LOCAL, "private (unique local)"),
        (not address.is_global, "non-global"),
    )
    return next((name for matched, name in checks if matched), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, with the mechanism's name."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE:
        return "IPv4-compatible", low32
    if address in _NAT64:
        return "NAT64", low32
    if address in _SIXTO4 and address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address in _TEREDO and address.teredo is not None:
        server, client = address.teredo
        return "Teredo", client if address_class(client) else server
    return None


def _split(url: str) -> tuple[str, str, str]:
    """Scheme (lower case), authority and the rest (path and query) of an absolute URL."""
    if len(url) > _MAX_URL_LENGTH:
        raise EndpointNotAllowed("the URL is too long", reason="malformed")
    # Whitespace, control characters and backslashes are read differently by different URL
    # parsers (a classic way to make the checked host differ from the called one).
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F or char == "\\" for char in url):
        raise EndpointNotAllowed(
            "the URL contains whitespace, control characters or a backslash", reason="malformed"
        )
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^#]*)", url)
    if match is None:
        raise EndpointNotAllowed("not an absolute http(s) URL", reason="malformed")
    scheme, netloc, rest = match.group(1).lower(), match.group(2), match.group(3)
    if scheme not in _DEFAULT_PORTS:
        raise EndpointNotAllowed(f"scheme {scheme} is not allowed; use https", reason="scheme")
    if "@" in netloc:
        # Never echo the userinfo: it is a credential.
        raise EndpointNotAllowed(
            "credentials in the URL are not allowed; give them as the connection's credentials",
            reason="userinfo",
        )
    return scheme, netloc, rest


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        host_part, bracket, after = netloc[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise EndpointNotAllowed("malformed IPv6 literal", reason="malformed")
        port_part = after[1:] if after else None
        host = _ipv6_literal(host_part)
    else:
        host_part, colon, port_part_raw = netloc.partition(":")
        port_part = port_part_raw if colon else None
        host = _normalise_name(host_part)
    return host, _port(port_part, scheme)


def normalise_host(text: str) -> str:
    """A host as DNS sees it: an IPv6 literal in canonical form, or an IDNA name in lower case."""
    if ":" in text:
        return _ipv6_literal(text.removeprefix("[").removesuffix("]"))
    return _normalise_name(text)


def _port(text: str | None, scheme: str) -> int:
    if text is None or text == "":
        return _DEFAULT_PORTS[scheme]
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise EndpointNotAllowed("the port must be a number from 1 to 65535", reason="malformed")
    return int(text)


def _ipv6_literal(text: str) -> str:
    if "%" in text:
        raise EndpointNotAllowed("IPv6 zone ids are not allowed", reason="address")
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise EndpointNotAllowed("malformed IPv6 literal", reason="malformed") from None


def _normalise_name(text: str) -> str:
    """The host as DNS will see it: IDNA-encoded, lower case, no trailing dot."""
    if not text:
        raise EndpointNotAllowed("the URL has no host", reason="malformed")
    if "%" in text:
        raise EndpointNotAllowed("percent-encoded host names are not allowed", reason="malformed")
    if not text.isascii():
        # NFKC and IDNA's mapping turn look-alikes (fullwidth letters, circled digits, ideographic
        # full stops) into what a resolver would see, so they are judged by that.
        try:
            text = unicodedata.normalize("NFKC", text).encode("idna").decode("ascii")
        except UnicodeError:
            raise EndpointNotAllowed(
                "the host is not a valid internationalised name", reason="malformed"
            ) from None
    host = text.lower()
    host = host.removesuffix(".")
    labels = host.split(".")
    if len(host) > 253 or any(
        not label or len(label) > 63 or not _HOST_CHARS.match(label) for label in labels
    ):
        raise EndpointNotAllowed("the host is not a valid name", reason="malformed")
    for label in labels:
        if label.startswith("xn--"):
            _check_punycode(label)
    return host


def _check_punycode(label: str) -> None:
    # A label must be the canonical encoding of what it decodes to, so that one spelling means one name.
    try:
        canonical = label.encode("ascii").decode("idna").encode("idna").decode("ascii")
    except UnicodeError:
        raise EndpointNotAllowed("the host has an invalid punycode label", reason="malformed") from None
    if canonical != label:
        raise EndpointNotAllowed("the host has a non-canonical punycode label", reason="malformed")


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally; refuses numbers spelt any way but the canonical one."""
    if ":" in host:
        return ipaddress.IPv6Address(host)
    labels = host.split(".")
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    # Anything ending in a number is an IPv4 address to browsers and to inet_aton (127.1,
    # 2130706433, 0x7f.1, 0177.0.0.1): only the dotted-decimal form is accepted.
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise EndpointNotAllowed(
            "numeric hosts must be written as four decimal numbers (a.b.c.d)", reason="address"
        ) from None
    return address


def _check_name(host: str, *, loopback_host: bool) -> None:
    if loopback_host:
        return
    if "." not in host:
        # Single labels (localhost, metadata, instance-data, intranet names) resolve through the
        # local search domain, never to a public service.
        raise EndpointNotAllowed(f"{host} is not a fully qualified public name", reason="name")
    if any(host == suffix or host.endswith("." + suffix) for suffix in _BLOCKED_SUFFIXES):
        raise EndpointNotAllowed(f"{host} is a local or internal name", reason="name")


def _resolved(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        found = list(resolver(host, port))
    except (OSError, UnicodeError):
        raise EndpointNotAllowed(f"{host} does not resolve", reason="unresolvable") from None
    if not found:
        raise EndpointNotAllowed(f"{host} does not resolve", reason="unresolvable")
    addresses: list[IPAddress] = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError:
            raise EndpointNotAllowed(f"{host} resolves to an unreadable address", reason="address") from None
    return addresses
