"""docs/openapi.json is generated from the handlers: it must match what they declare today."""

import json

from infra.openapi import OUTPUT, api_handler_files, render


def test_the_committed_document_matches_the_handlers():
    assert OUTPUT.read_text() == render(), "docs/openapi.json is stale: run `make openapi`"


def test_every_http_function_of_the_template_is_documented():
    document = json.loads(OUTPUT.read_text())
    assert len(api_handler_files()) >= 2
    assert {"/health", "/api/v1/me"} <= set(document["paths"])


def test_only_health_and_the_resource_metadata_are_open():
    document = json.loads(OUTPUT.read_text())
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path.startswith("/.well-known/oauth-protected-resource/"):
                # read before a client has any token: no security requirement at all, no 401
                assert operation["security"] == [] and "401" not in operation["responses"], path
                continue
            # an empty requirement makes the token optional: only /health has one
            token_optional = {} in operation.get("security", [])
            assert operation.get("security") and token_optional == (path == "/health"), path
