"""The template's two configurations and a little of CloudFormation, shared by the infra tests.

A stack is deployed either with an OIDC issuer (the API has a JWT authorizer, functions verify
RS256 tokens) or, in dev only, without one (no gateway authorizer, functions verify HS256 tokens
signed with the stack's JwtSecret). `resolve_conditions` gives the template as SAM sees it in each.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from infra.template import SERVERLESS_FUNCTION, function_properties, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

DB_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:auralink/db-app-AbCdEf"
DB_OWNER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:auralink/db-owner-AbCdEf"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1"
PREFECT_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:auralink/prefect-AbCdEf"

# dev with the template's defaults: no issuer, no VPC, no alarm address, no Prefect API; prod with
# all of them.
DEV_PARAMETERS = {"DatabaseSecretArn": DB_SECRET, "DatabaseOwnerSecretArn": DB_OWNER_SECRET}
PROD_PARAMETERS = {
    **DEV_PARAMETERS,
    "Stage": "prod",
    "AuthIssuer": ISSUER,
    "CorsAllowOrigins": "https://app.auralink.example",
    "VpcSubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b",
    "VpcSecurityGroupIds": "sg-0123456789abcdef0",
    "AlarmEmail": "oncall@auralink.example",
    "PrefectApiSecretArn": PREFECT_SECRET,
}
MODES = {"dev-without-issuer": DEV_PARAMETERS, "prod-with-issuer": PROD_PARAMETERS}

_PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "auralink-test",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


def function_ids(template: dict[str, Any]) -> list[str]:
    return sorted(resources_of_type(template, SERVERLESS_FUNCTION))


def render(value: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """A value as CloudFormation would deploy it, with made-up ARNs for the stack's own resources.

    Enough of CloudFormation for the environment variables of the functions: Ref, Fn::Sub,
    Fn::FindInMap and Fn::Join.
    """
    if not isinstance(value, dict):
        return value
    (function, argument), *_ = value.items()
    if function == "Ref":
        return _ref(argument, template, parameters)
    if function == "Fn::Sub":
        return re.sub(
            r"\$\{([^}]+)\}", lambda match: str(_ref(match[1], template, parameters)), str(argument)
        )
    if function == "Fn::FindInMap":
        mapping, first, second = (render(item, template, parameters) for item in argument)
        return template["Mappings"][mapping][first][second]
    if function == "Fn::Join":
        separator, items = argument
        return separator.join(str(item) for item in render(items, template, parameters))
    raise AssertionError(f"render does not know {function}")


def _ref(name: str, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    if name in _PSEUDO_PARAMETERS:
        return _PSEUDO_PARAMETERS[name]
    declared = template.get("Parameters", {}).get(name)
    if declared is not None:
        value = str(parameters.get(name, declared.get("Default", "")))
        return value.split(",") if declared["Type"] == "CommaDelimitedList" else value
    resource = template["Resources"][name]
    if resource["Type"] == "AWS::SecretsManager::Secret":
        return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"
    if resource["Type"] == "AWS::Serverless::StateMachine":
        return f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}-AbCdEf1234"
    if resource["Type"] == "AWS::S3::Bucket":
        return f"auralink-test-{name.lower()}-1a2b3c4d5e6f"
    return f"auralink-test-{name}"


def run_starters(template: dict[str, Any]) -> set[str]:
    """The functions configured to start executions of the run state machine."""
    return {
        function_id
        for function_id in function_ids(template)
        if "RUN_STATE_MACHINE_ARN" in function_properties(template, function_id)["Environment"]["Variables"]
    }


# The security contract, not read from the template on purpose: the routes that skip API Gateway's
# JWT authorizer. The health check; the MCP endpoints, which verify every token themselves (the
# gateway calls the hosted servers with its own service tokens, and each endpoint's 401 points MCP
# clients to its protected resource metadata, which the authorizer's 401 cannot); that metadata,
# read before a client signs in; and the surfaces a run's framework calls with its run-scoped
# token (their handlers verify either kind of token).
PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("ANY", "/mcp/gateway"),
    ("ANY", "/mcp/memory"),
    ("ANY", "/mcp/sequential-thinking"),
    ("GET", "/.well-known/oauth-protected-resource/mcp/{server}"),
    # The end of a user's sign-in to an MCP server: its state binds it, not a token.
    ("GET", "/api/v1/mcp/oauth/callback"),
    # The gateway's OAuth client metadata, fetched by authorization servers.
    ("GET", "/api/v1/mcp/oauth/client-metadata.json"),
    ("POST", "/api/v1/agents/tools/call"),
    ("POST", "/api/v1/llm/openai/v1/chat/completions"),
    ("GET", "/api/v1/llm/openai/v1/models"),
}
PUBLIC_PATHS = {path for _, path in PUBLIC_ROUTES}
