"""The upstream of a call on a custom connection: its endpoint checked again, without DNS."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from auralink.mcp.models import Credentials
from auralink.mcp.targets import CUSTOM, upstream_for
from auralink.ssrf import EndpointNotAllowed


class CountingDns:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        self.asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", int(port or 0)))]


@pytest.fixture
def dns(service_environment: pytest.MonkeyPatch) -> CountingDns:
    counting = CountingDns()
    service_environment.setattr(socket, "getaddrinfo", counting)
    return counting


def _upstream(endpoint: str) -> Any:
    return upstream_for(
        CUSTOM, user_id="user-1", credentials=Credentials(), endpoint=endpoint, api_base_url=None
    )


def test_a_custom_endpoint_is_not_resolved_at_each_call(dns: CountingDns) -> None:
    # The guarded transport checks the addresses of each connection the call opens.
    upstream = _upstream("https://mcp.example.com/mcp")

    assert dns.asked == []
    assert upstream.target.url == "https://mcp.example.com/mcp"
    assert upstream.target.ssrf_guard


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://mcp.example.com/mcp", "scheme"),
        ("https://10.0.0.7/mcp", "address"),
        ("https://169.254.169.254/latest/", "address"),
        ("https://metadata.internal/", "name"),
        ("https://intranet/mcp", "name"),
    ],
)
def test_what_needs_no_dns_is_still_refused_at_each_call(
    dns: CountingDns, endpoint: str, reason: str
) -> None:
    with pytest.raises(EndpointNotAllowed) as refused:
        _upstream(endpoint)

    assert refused.value.details == {"reason": reason}
    assert dns.asked == []
