"""The failures of an OAuth sign-in to an MCP server, with their stable codes (docs/mcp.md).

The authorization server's failures are 502/504 (`UpstreamError`, `UpstreamTimeout`); a bad
redirect to the callback is a 400; a connection that needs the user to sign in again is a 409.
None of the messages carries a token, a code, a secret or a state.
"""

from __future__ import annotations

from auralink.errors import Conflict, UpstreamError, UpstreamTimeout
from auralink.ssrf import EndpointNotAllowed

AUTHORIZATION_REQUIRED = "mcp_oauth_authorization_required"
DISCOVERY_FAILED = "mcp_oauth_discovery_failed"
ENDPOINT_NOT_ALLOWED = "mcp_oauth_endpoint_not_allowed"
REGISTRATION_FAILED = "mcp_oauth_registration_failed"
UNREACHABLE = "mcp_oauth_unreachable"
TIMEOUT = "mcp_oauth_timeout"
TOKEN_ENDPOINT_FAILED = "mcp_oauth_token_endpoint_failed"  # noqa: S105  # an error code
TOKEN_RESPONSE_INVALID = "mcp_oauth_token_response_invalid"  # noqa: S105  # an error code
DENIED = "mcp_oauth_denied"
STATE_INVALID = "mcp_oauth_state_invalid"
STATE_USED = "mcp_oauth_state_used"
STATE_EXPIRED = "mcp_oauth_state_expired"
CALLBACK_INVALID = "mcp_oauth_callback_invalid"
NOT_OAUTH = "mcp_oauth_not_applicable"


class GrantRefused(UpstreamError):
    """The authorization server refused a code or a refresh token (invalid_grant and the like):
    only the user signing in again can fix that."""

    code = "mcp_oauth_grant_refused"


GRANT_REFUSED = GrantRefused.code


def authorization_required(name: str) -> Conflict:
    return Conflict(
        f"The connection {name!r} needs you to sign in to its server: "
        "POST /api/v1/mcp/connections/{id}/authorize gives the address to open",
        code=AUTHORIZATION_REQUIRED,
    )


def discovery_failed(message: str) -> UpstreamError:
    return UpstreamError(message, code=DISCOVERY_FAILED)


def endpoint_not_allowed(refusal: EndpointNotAllowed) -> UpstreamError:
    # The rule that refused, never the address a name resolved to.
    return UpstreamError(
        f"The authorization server's metadata names an address that is not allowed: {refusal.message}",
        code=ENDPOINT_NOT_ALLOWED,
        details={"reason": refusal.reason},
    )


def registration_failed(message: str) -> UpstreamError:
    return UpstreamError(message, code=REGISTRATION_FAILED)


def unreachable() -> UpstreamError:
    return UpstreamError("The authorization server cannot be reached", code=UNREACHABLE)


def timeout(what: str = "the authorization server") -> UpstreamTimeout:
    return UpstreamTimeout(f"No answer in time from {what}", code=TIMEOUT)


def token_endpoint_failed(message: str) -> UpstreamError:
    return UpstreamError(message, code=TOKEN_ENDPOINT_FAILED)


def token_response_invalid(message: str) -> UpstreamError:
    return UpstreamError(message, code=TOKEN_RESPONSE_INVALID)


def grant_refused(error: str) -> GrantRefused:
    return GrantRefused(f"The authorization server refused the grant ({error[:40]})")
