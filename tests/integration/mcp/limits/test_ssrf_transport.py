"""The guarded transport against real servers on loopback: what it lets through, what it refuses and when."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from auralink.ssrf import EndpointNotAllowed, check_endpoint, resolve
from auralink.ssrf.transport import guarded_transport, refusal_of
from tests.fakes.mcp_servers import LoopbackServer, canned_app, tools_app

PUBLIC = "93.184.216.34"


@pytest.fixture(scope="module")
def stateless() -> Iterator[LoopbackServer]:
    with LoopbackServer(tools_app(stateless=True), name="ssrf-stateless") as server:
        yield server


@pytest.fixture(scope="module")
def handshake() -> Iterator[LoopbackServer]:
    with LoopbackServer(tools_app(stateless=False), name="ssrf-handshake") as server:
        yield server


@pytest.fixture(scope="module")
def canned() -> Iterator[LoopbackServer]:
    with LoopbackServer(canned_app(), name="ssrf-canned") as server:
        yield server


class Rebinding:
    """A name whose first answer is public and every later one is loopback (DNS rebinding)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.answers = 0

    def __call__(self, host: str, port: int) -> Sequence[str]:
        if host != self.name:
            return resolve(host, port)
        self.answers += 1
        return [PUBLIC] if self.answers == 1 else ["127.0.0.1"]


def tool_names(
    url: str, *, allow_loopback: bool, mode: str = "auto", resolver: object = resolve
) -> list[str]:
    async def main() -> list[str]:
        transport = guarded_transport(allow_loopback=allow_loopback, resolver=resolver)  # type: ignore[arg-type]
        with anyio.fail_after(10):
            async with (
                httpx2.AsyncClient(transport=transport, follow_redirects=False, timeout=5) as http,
                Client(streamable_http_client(url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
            ):
                return [tool.name for tool in (await client.list_tools()).tools]

    return anyio.run(main)


def failure_of(url: str, **options: object) -> BaseException:
    with pytest.raises(BaseException) as raised:  # the SDK wraps errors in groups
        tool_names(url, **options)  # type: ignore[arg-type]
    return raised.value


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def refusal_in(error: BaseException) -> EndpointNotAllowed:
    found = [refusal for leaf in leaves(error) if (refusal := refusal_of(leaf)) is not None]
    assert found, f"no SSRF refusal in {error!r}"
    return found[0]


def get(
    url: str, *, allow_loopback: bool, follow_redirects: bool = False, **options: object
) -> httpx2.Response:
    async def main() -> httpx2.Response:
        transport = guarded_transport(allow_loopback=allow_loopback, **options)
        async with httpx2.AsyncClient(
            transport=transport, follow_redirects=follow_redirects, timeout=5
        ) as http:
            return await http.get(url)

    return anyio.run(main)


@pytest.mark.parametrize("server", ["stateless", "handshake"])
def test_development_reaches_an_mcp_server_on_loopback(server: str, request: pytest.FixtureRequest) -> None:
    loopback: LoopbackServer = request.getfixturevalue(server)
    assert "echo" in tool_names(loopback.url, allow_loopback=True)


def test_localhost_falls_back_across_its_addresses(stateless: LoopbackServer) -> None:
    # localhost resolves to ::1 and 127.0.0.1; the server listens on 127.0.0.1 only.
    url = f"http://localhost:{stateless.port}/mcp"
    assert "echo" in tool_names(url, allow_loopback=True, resolver=lambda host, port: ["::1", "127.0.0.1"])


def test_production_refuses_loopback_before_any_byte_is_sent(stateless: LoopbackServer) -> None:
    before = len(stateless.log.requests)

    refusal = refusal_in(failure_of(stateless.url, allow_loopback=False))

    assert refusal.reason == "address"
    assert "loopback" in refusal.message
    assert len(stateless.log.requests) == before


def test_a_refused_connection_surfaces_as_a_connect_error_whose_cause_is_the_refusal(
    stateless: LoopbackServer,
) -> None:
    error = failure_of(stateless.url, allow_loopback=False)
    connect_errors = [leaf for leaf in leaves(error) if isinstance(leaf, httpx2.ConnectError)]
    assert connect_errors
    assert "refused by the SSRF guard" in str(connect_errors[0])
    assert isinstance(refusal_of(connect_errors[0]), EndpointNotAllowed)


def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused_at_connect_time(
    stateless: LoopbackServer,
) -> None:
    dns = Rebinding("rebind.example")
    url = f"https://rebind.example:{stateless.port}/mcp"
    checked = check_endpoint(url, allow_loopback=False, resolver=dns)
    assert checked.addresses == (PUBLIC,)
    before = len(stateless.log.requests)

    refusal = refusal_in(failure_of(checked.url, allow_loopback=False, resolver=dns))

    assert "rebind.example resolves to a loopback address" in refusal.message
    assert "127.0.0.1" not in refusal.message  # the rule, never the address
    assert dns.answers >= 2
    assert len(stateless.log.requests) == before


def test_development_refuses_other_names_that_resolve_to_loopback(stateless: LoopbackServer) -> None:
    url = f"http://tunnel.example:{stateless.port}/mcp"
    refusal = refusal_in(failure_of(url, allow_loopback=True, resolver=lambda host, port: ["127.0.0.1"]))
    assert "loopback" in refusal.message


def test_redirects_are_not_followed_and_a_followed_one_is_still_screened(canned: LoopbackServer) -> None:
    target = f"http://10.0.0.1:{canned.port}/status/200"
    url = canned.url_for(f"/redirect?to={target}")

    answer = get(url, allow_loopback=True)
    assert answer.status_code == 307
    assert answer.headers["location"] == target

    with pytest.raises(httpx2.ConnectError) as raised:
        get(url, allow_loopback=True, follow_redirects=True)
    refusal = refusal_of(raised.value)
    assert refusal is not None
    assert "private" in refusal.message


def test_an_unresolvable_name_is_a_plain_connect_error_not_a_refusal() -> None:
    def nowhere(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(httpx2.ConnectError) as raised:
        get("https://nowhere.example/", allow_loopback=False, resolver=nowhere)
    assert refusal_of(raised.value) is None
    assert "does not resolve" in str(raised.value)


def test_a_stuck_resolver_fails_within_the_connect_timeout() -> None:
    def stuck(host: str, port: int) -> Sequence[str]:
        time.sleep(2)
        return [PUBLIC]

    async def main() -> None:
        transport = guarded_transport(allow_loopback=False, resolver=stuck)
        async with httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(5, connect=0.2)) as http:
            await http.get("https://slow-dns.example/")

    started = time.monotonic()
    with pytest.raises(httpx2.ConnectTimeout):
        anyio.run(main)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("option", ["proxy", "uds"])
def test_options_that_would_bypass_the_guard_are_refused(option: str) -> None:
    with pytest.raises(ValueError, match="connects directly"):
        guarded_transport(allow_loopback=False, **{option: "http://127.0.0.1:3128"})
