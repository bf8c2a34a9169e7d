"""Generates the OpenAPI document of the whole HTTP API into `docs/openapi.json`.

Each API function has its own resolver; Powertools' OpenAPI merge combines them. The handler
files come from `template.yaml` (functions with HttpApi events), so the document covers exactly
what is deployed. `python -m infra.openapi --write` rewrites the file; `--check` fails on drift.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from pydantic import BaseModel

from auralink import __version__
from auralink.http import ErrorResponse
from auralink.llm.openai_compatible.wire import PATH_PREFIX as OPENAI_PATH_PREFIX
from auralink.llm.openai_compatible.wire import OpenAIErrorResponse
from infra.template import SERVERLESS_FUNCTION, function_properties, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "openapi.json"

# Importing a handler validates the settings at cold start: give it a well-formed environment
# that touches nothing (no connection is opened at import time).
_IMPORT_ENVIRONMENT = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql://openapi@localhost/openapi",
    "AUTH_ISSUER": "https://issuer.invalid",
    "AUTH_AUDIENCE": "auralink-api",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "openapi",
    "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
}


def api_handler_files(root: Path = ROOT) -> list[Path]:
    template = load_template(root / "template.yaml")
    files = []
    for logical_id in sorted(resources_of_type(template, SERVERLESS_FUNCTION)):
        properties = function_properties(template, logical_id)
        events = properties.get("Events", {}).values()
        if any(event.get("Type") == "HttpApi" for event in events):
            module = str(properties["Handler"]).rsplit(".", 1)[0]
            path = root / str(properties["CodeUri"]) / f"{module}.py"
            # The hosted MCP servers speak MCP (JSON-RPC), not REST: docs/hosted-mcp-servers.md.
            if "make_resolver(" in path.read_text(encoding="utf-8"):
                files.append(path)
    return files


def generate(root: Path = ROOT) -> dict[str, Any]:
    for key, value in _IMPORT_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    merge = OpenAPIMerge(
        title="AuraLink AI Core API",
        version=__version__,
        description="Connects AI agents to the tools of the Model Context Protocol world and runs them.",
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
        on_conflict="error",
    )
    for path in api_handler_files(root):
        merge.add_file(path, resolver_name="app")
    with warnings.catch_warnings():
        # A handler that fails to import must fail the generation, not vanish from the document.
        warnings.simplefilter("error")
        merge.get_openapi_schema()
    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    _require_auth_on_private_routes(document)
    _document_errors(document)
    return document


def _require_auth_on_private_routes(schema: dict[str, Any]) -> None:
    for path, operations in schema.get("paths", {}).items():
        security: list[dict[str, list[str]]]
        if path == "/health":
            # Open; a token there is optional (it adds the details), hence the empty entry.
            security = [{}, {"bearerAuth": []}]
        elif path.startswith("/.well-known/"):
            # Open, and read before a client has any token (the MCP endpoints' resource metadata).
            security = []
        else:
            security = [{"bearerAuth": []}]
        for operation in operations.values():
            operation.setdefault("security", security)


# The error body of each family of routes, by path: OpenAI's error object on the OpenAI-compatible
# routes (their resolvers' `error_format`), the product's own everywhere else.
_ERROR_BODIES: tuple[tuple[str, type[BaseModel]], ...] = (
    (OPENAI_PATH_PREFIX + "/", OpenAIErrorResponse),
    ("/", ErrorResponse),
)


def _error_body(path: str) -> type[BaseModel]:
    return next(body for prefix, body in _ERROR_BODIES if path.startswith(prefix))


def _error(description: str, body: type[BaseModel]) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{body.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _document_errors(schema: dict[str, Any]) -> None:
    # Powertools documents its own validation body; ours are the error shapes of `auralink.http`.
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    for _, body in _ERROR_BODIES:
        schemas[body.__name__] = body.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas[body.__name__].pop("$defs", {}))
    for path, operations in schema.get("paths", {}).items():
        body = _error_body(path)
        for operation in operations.values():
            responses = {str(code): answer for code, answer in operation.get("responses", {}).items()}
            operation["responses"] = responses
            responses.pop("422", None)
            if operation.get("requestBody") or operation.get("parameters"):
                responses["422"] = _error("The request failed validation (field paths in `details`)", body)
            if operation.get("requestBody"):
                responses["400"] = _error("The body is not UTF-8 text holding JSON (`invalid_json`)", body)
                responses["413"] = _error(
                    "The body is larger than `MAX_BODY_BYTES` (`payload_too_large`)", body
                )
                responses["415"] = _error(
                    "The body is not `application/json` (`unsupported_media_type`)", body
                )
            responses["500"] = _error("A fault of the service; quote `request_id`", body)
            if operation.get("security"):
                responses["401"] = _error("Missing or invalid bearer token (`token_*` codes)", body)


def render(root: Path = ROOT) -> str:
    return json.dumps(generate(root), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite docs/openapi.json")
    group.add_argument("--check", action="store_true", help="fail if docs/openapi.json is stale")
    args = parser.parse_args(argv)
    document = render()
    if args.write:
        OUTPUT.write_text(document, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
        return 0
    if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != document:
        print("docs/openapi.json is stale: run `make openapi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
