"""The caps on what MCP servers send, as `mcp-config.yaml` sets them (defaults, overrides, bounds)."""

from pathlib import Path

import pytest

from auralink.config import parse_config
from auralink.config.loader import load_config
from auralink.errors import ConfigurationError

REPO_CONFIG = Path(__file__).resolve().parents[3] / "shared" / "configs" / "mcp-config.yaml"
SERVER = "servers:\n  s:\n    display_name: S\n    endpoint: https://x.example\n"


def test_the_shipped_caps_and_their_variables():
    caps = load_config(REPO_CONFIG, environment="production", environ={}).defaults.response_caps
    assert (caps.max_response_bytes, caps.max_tools, caps.max_tool_schema_bytes) == (8388608, 500, 1048576)

    tuned = load_config(
        REPO_CONFIG,
        environment="production",
        environ={"MCP_MAX_RESPONSE_BYTES": "65536", "MCP_MAX_TOOLS": "20"},
    ).defaults.response_caps
    assert (tuned.max_response_bytes, tuned.max_tools) == (65536, 20)


def test_a_server_may_have_caps_of_its_own():
    text = f"version: 1\n{SERVER}    limits:\n      response_caps: {{max_tools: 9}}\n"
    assert (
        parse_config(text, environment="production", environ={}).servers["s"].limits.response_caps.max_tools
        == 9
    )


@pytest.mark.parametrize(
    ("caps", "key"),
    [
        ("max_response_bytes: 10", "max_response_bytes"),
        ("max_tools: 0", "max_tools"),
        ("max_tool_schema_bytes: -1", "max_tool_schema_bytes"),
        ("max_bytes: 1", "max_bytes"),
    ],
)
def test_caps_out_of_bounds_are_refused_naming_the_key(caps, key):
    text = f"version: 1\ndefaults:\n  response_caps: {{{caps}}}\n{SERVER}"
    with pytest.raises(ConfigurationError) as caught:
        parse_config(text, environment="production", environ={})
    assert caught.value.message.startswith(f"mcp-config: defaults.response_caps.{key}")
