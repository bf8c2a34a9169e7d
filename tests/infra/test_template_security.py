"""Least privilege and authentication, read from the template in both configurations."""

from __future__ import annotations

from typing import Any

from infra.template import function_properties, functions, resolve_conditions
from tests.infra.template_support import (
    DEV_PARAMETERS,
    MODES,
    PROD_PARAMETERS,
    PUBLIC_PATHS,
    PUBLIC_ROUTES,
    function_ids,
    run_starters,
)

# The secrets the handlers read (the code's contract), as rules: every function but READS_NO_SECRET
# reads the database secret; every function with a route verifies users' tokens (JwtSecret,
# without an issuer), the health check included (a token shows the details); only the migration
# reads the owner's secret.
# Reading the keys below is what sets a function apart, so those are named.
HEALTH_CHECK = "HealthFunction"
MIGRATION = "MigrateFunction"
# Reads no secret at all: the MCP endpoints' protected resource metadata, served from the settings
# to clients that have not signed in yet, and the gateway's own OAuth client metadata (no
# database, no token).
READS_NO_SECRET = {"McpResourceMetadataFunction", "McpOAuthClientMetadataFunction"}
# Routes that read no token: the end of a user's sign-in to an MCP server, bound by its state.
READS_NO_TOKEN = {"McpOAuthCallbackFunction"}
# Decrypt stored credentials (MCP connections, users' LLM keys).
DECRYPT_CREDENTIALS = {
    "RunStepFunction",
    "McpConnectFunction",
    "McpAuthorizeConnectionFunction",
    "McpOAuthCallbackFunction",
    "McpTestConnectionFunction",
    "McpListToolsFunction",
    "McpCallToolFunction",
    "AgentsCallToolFunction",
    "McpDeepWikiReadFunction",
    "McpDeepWikiAskFunction",
    "McpMemoryFunction",
    "McpThinkingFunction",
    "McpSupabaseQueryFunction",
    "McpGatewayServerFunction",
    "McpProbeFunction",
    "LlmPutPreferencesFunction",
    "LlmChatFunction",
    "LlmOpenAIChatFunction",
}
# Sign or verify the service tokens with which the gateway calls the MCP servers AuraLink hosts,
# and the run-scoped tokens (signed with the same secret, told apart by their issuer) with which
# a run's agents call the API.
SERVICE_TOKENS = {
    "RunStepFunction",
    "CrewStepFunction",
    "AgentsCallToolFunction",
    "LlmOpenAIChatFunction",
    "LlmOpenAIModelsFunction",
    "McpConnectFunction",
    "McpTestConnectionFunction",
    "McpListToolsFunction",
    "McpCallToolFunction",
    "McpMemoryFunction",
    "McpThinkingFunction",
    "McpGatewayServerFunction",
    "McpMemoryServerFunction",
    "McpSequentialThinkingFunction",
    "McpProbeFunction",
}


# Reach the Prefect API of pipelines, when the stack has one: the run step runs them, the health
# check says whether it answers.
# The run step runs pipelines on it, the health check probes it, the run logs are read from it.
PREFECT_API = {"RunStepFunction", HEALTH_CHECK, "RunsListRunLogsFunction"}


def secrets_read(template: dict[str, Any], function_id: str) -> set[str]:
    spec = next(spec for spec in functions(template) if spec.logical_id == function_id)
    if function_id in READS_NO_SECRET:
        return set()
    secrets = {"DatabaseSecretArn"}
    if spec.routes and function_id not in READS_NO_TOKEN:
        secrets.add("JwtSecret")
    if function_id == MIGRATION:
        secrets.add("DatabaseOwnerSecretArn")
    if function_id in DECRYPT_CREDENTIALS:
        secrets.add("CredentialsKeySecret")
    if function_id in SERVICE_TOKENS:
        secrets.add("ServiceTokenSecret")
    return secrets


# Actions that take no resource ARN: only these may be granted on "*".
ACTIONS_WITHOUT_RESOURCES = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
SECRET_POLICY_TEMPLATE = "AWSSecretsManagerGetSecretValuePolicy"


def _policy_items(resource: dict[str, Any]) -> list[Any]:
    policies = resource.get("Properties", {}).get("Policies", [])
    return policies if isinstance(policies, list) else [policies]


def _statements(item: Any) -> list[dict[str, Any]]:
    if isinstance(item, dict) and "Statement" in item:
        statements = item["Statement"]
        return statements if isinstance(statements, list) else [statements]
    return []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _secrets_granted(policies: list[Any]) -> set[str]:
    granted = set()
    for item in policies:
        if isinstance(item, dict) and SECRET_POLICY_TEMPLATE in item:
            granted.add(item[SECRET_POLICY_TEMPLATE]["SecretArn"]["Ref"])
    return granted


def _policy_bearing_resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: body for name, body in template["Resources"].items() if "Policies" in body.get("Properties", {})
    }


def test_the_named_readers_of_keys_are_functions_of_the_template(template: dict[str, Any]) -> None:
    assert DECRYPT_CREDENTIALS | SERVICE_TOKENS | {HEALTH_CHECK, MIGRATION} <= set(function_ids(template))


def test_each_function_may_read_exactly_the_secrets_it_reads(resolved: dict[str, Any], mode: str) -> None:
    for function_id in function_ids(resolved):
        expected = secrets_read(resolved, function_id)
        if mode == "prod-with-issuer":
            # With an issuer there is no JwtSecret: tokens are checked against the issuer's keys.
            expected.discard("JwtSecret")
        if MODES[mode].get("PrefectApiSecretArn") and function_id in PREFECT_API:
            expected.add("PrefectApiSecretArn")

        granted = _secrets_granted(function_properties(resolved, function_id).get("Policies", []))

        assert granted == expected, function_id


def test_only_the_migration_function_can_read_the_owner_secret(resolved: dict[str, Any]) -> None:
    readers = {
        name
        for name, resource in _policy_bearing_resources(resolved).items()
        if "DatabaseOwnerSecretArn" in _secrets_granted(_policy_items(resource))
        or "DatabaseOwnerSecretArn" in str(resource["Properties"]["Policies"])
    }

    assert readers == {"MigrateFunction"}
    assert "DatabaseOwnerSecretArn" not in str(resolved["Globals"])


def test_policies_are_templates_or_statements_never_managed_policy_names(resolved: dict[str, Any]) -> None:
    for name, resource in _policy_bearing_resources(resolved).items():
        for item in _policy_items(resource):
            assert isinstance(item, dict), f"{name} attaches the managed policy {item!r}"


def test_no_statement_grants_a_wildcard_resource_except_where_aws_requires_it(
    resolved: dict[str, Any],
) -> None:
    for name, resource in _policy_bearing_resources(resolved).items():
        for item in _policy_items(resource):
            for statement in _statements(item):
                if "*" in _as_list(statement["Resource"]):
                    assert set(_as_list(statement["Action"])) <= ACTIONS_WITHOUT_RESOURCES, (name, statement)
                assert not any("*" in str(action) for action in _as_list(statement["Action"])), (
                    name,
                    statement,
                )


def test_the_state_machine_may_only_invoke_the_step_functions(template: dict[str, Any]) -> None:
    policies = _policy_items(template["Resources"]["RunStateMachine"])
    lambda_statements = [
        statement
        for item in policies
        for statement in _statements(item)
        if any(str(action).startswith("lambda:") for action in _as_list(statement["Action"]))
    ]

    assert lambda_statements == [
        {
            "Sid": "InvokeRunStep",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"Ref": "RunStepFunction.Alias"},
        },
        {
            "Sid": "InvokeCrewStep",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["CrewStepFunction", "Arn"]},
        },
    ]
    assert all(_statements(item) for item in policies), "the state machine gets no policy templates"


def test_only_the_run_starters_may_start_executions_and_only_of_the_run_state_machine(
    resolved: dict[str, Any],
) -> None:
    starters = {}
    for name, resource in _policy_bearing_resources(resolved).items():
        for item in _policy_items(resource):
            for statement in _statements(item):
                if any(str(action).startswith("states:") for action in _as_list(statement["Action"])):
                    starters[name] = (statement["Action"], statement["Resource"])

    # Granted exactly to the functions configured with the state machine's ARN, and only on it.
    # The run step, which the state machine calls (pipelines start child runs), names it by the
    # ARN its name makes: a reference would be a cycle.
    by_name = {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
        ":stateMachine:${AWS::StackName}-runs"
    }
    machine = resolved["Resources"]["RunStateMachine"]["Properties"]
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-runs"}
    assert starters == {
        name: ("states:StartExecution", by_name if name == "RunStepFunction" else {"Ref": "RunStateMachine"})
        for name in run_starters(resolved)
    }
    step_environment = resolved["Resources"]["RunStepFunction"]["Properties"]["Environment"]["Variables"]
    assert step_environment["RUN_STATE_MACHINE_ARN"] == by_name
    assert "RunStepFunction" in starters


def test_with_an_issuer_only_the_public_routes_opt_out_of_the_jwt_authorizer(
    template: dict[str, Any],
) -> None:
    resolved = resolve_conditions(template, PROD_PARAMETERS)
    auth = resolved["Resources"]["HttpApi"]["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    route_auth = {
        (route.method, route.path): route.public for spec in functions(resolved) for route in spec.routes
    }

    assert auth["DefaultAuthorizer"] == "JwtAuthorizer"
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert authorizer["JwtConfiguration"] == {
        "issuer": {"Ref": "AuthIssuer"},
        "audience": [{"Ref": "AuthAudience"}],
    }
    assert {route for route, public in route_auth.items() if public} == PUBLIC_ROUTES
    assert route_auth[("GET", "/api/v1/me")] is False
    assert _route_authorizers(resolved) == dict.fromkeys(PUBLIC_PATHS, "NONE")


def test_without_an_issuer_no_route_has_gateway_auth_and_functions_verify_hs256(
    template: dict[str, Any],
) -> None:
    resolved = resolve_conditions(template, DEV_PARAMETERS)
    variables = resolved["Globals"]["Function"]["Environment"]["Variables"]

    assert "Auth" not in resolved["Resources"]["HttpApi"]["Properties"]
    assert _route_authorizers(resolved) == {}
    assert variables["AUTH_ALGORITHMS"] == "HS256"
    assert variables["AUTH_JWT_SECRET_ID"] == {"Ref": "JwtSecret"}
    assert "AUTH_JWKS_URL" not in variables


def _route_authorizers(template: dict[str, Any]) -> dict[str, str]:
    authorizers = {}
    for function_id in function_ids(template):
        for event in function_properties(template, function_id).get("Events", {}).values():
            auth = event.get("Properties", {}).get("Auth")
            if event["Type"] == "HttpApi" and auth is not None:
                authorizers[event["Properties"]["Path"]] = auth["Authorizer"]
    return authorizers


def test_the_route_helper_sees_only_the_public_routes_as_public(template: dict[str, Any]) -> None:
    # The unresolved template, as the local runtime reads it: their Auth is an Fn::If there.
    public = {
        (route.method, route.path) for spec in functions(template) for route in spec.routes if route.public
    }

    assert public == PUBLIC_ROUTES


def test_production_rules_require_an_issuer_and_explicit_cors_origins(template: dict[str, Any]) -> None:
    rule = template["Rules"]["ProductionSafety"]
    assertions = [assertion["Assert"] for assertion in rule["Assertions"]]

    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "AuthIssuer"}, ""]}]} in assertions
    assert {"Fn::Not": [{"Fn::Contains": [{"Ref": "CorsAllowOrigins"}, "*"]}]} in assertions


def test_http_api_cors_comes_from_the_parameter(template: dict[str, Any]) -> None:
    cors = template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]

    assert cors["AllowOrigins"] == {"Ref": "CorsAllowOrigins"}
    assert "authorization" in cors["AllowHeaders"]
    assert cors.get("AllowCredentials") is not True
    # An MCP client in a browser speaks MCP's headers and reads the 401's challenge.
    assert {"mcp-protocol-version", "mcp-session-id"} <= set(cors["AllowHeaders"])
    assert {"www-authenticate", "mcp-session-id"} <= set(cors["ExposeHeaders"])


def test_the_credentials_key_outlives_the_stack(template: dict[str, Any]) -> None:
    secret = template["Resources"]["CredentialsKeySecret"]
    generated = secret["Properties"]["GenerateSecretString"]

    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    assert generated == {
        "SecretStringTemplate": '{"active_key_id":"k1"}',
        "GenerateStringKey": "k1",
        "PasswordLength": 64,
        "ExcludePunctuation": True,
    }


def test_the_jwt_secret_exists_only_without_an_issuer(template: dict[str, Any]) -> None:
    secret = template["Resources"]["JwtSecret"]

    assert secret["Condition"] == "NoIssuer"
    assert template["Conditions"]["NoIssuer"] == {"Fn::Equals": [{"Ref": "AuthIssuer"}, ""]}


def test_loopback_endpoints_are_off_unless_the_parameter_turns_them_on(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["AllowLoopbackEndpoints"]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    rule = template["Rules"]["ProductionSafety"]

    assert parameter["Default"] == "false" and set(parameter["AllowedValues"]) == {"true", "false"}
    # the stage never implies it: the variable is the parameter, nothing else
    assert variables["ALLOW_LOOPBACK_ENDPOINTS"] == {"Ref": "AllowLoopbackEndpoints"}
    assert {"Fn::Equals": [{"Ref": "AllowLoopbackEndpoints"}, "false"]} in [
        assertion["Assert"] for assertion in rule["Assertions"]
    ]


RESULTS_BUCKET = "PipelineResultsBucket"


def test_the_pipeline_results_bucket_is_private_encrypted_reached_over_tls_and_expires(
    template: dict[str, Any],
) -> None:
    bucket = template["Resources"][RESULTS_BUCKET]["Properties"]
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    retention = template["Parameters"]["PipelineResultsRetentionDays"]
    policy = template["Resources"]["PipelineResultsBucketPolicy"]["Properties"]

    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == {"Ref": "PipelineResultsRetentionDays"}
    assert "Prefix" not in rule and "Filter" not in rule  # every object expires
    assert retention["Type"] == "Number" and retention["Default"] == 30 and retention["MinValue"] >= 1
    assert policy["Bucket"] == {"Ref": RESULTS_BUCKET}
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                {"Fn::GetAtt": [RESULTS_BUCKET, "Arn"]},
                {"Fn::Sub": "${PipelineResultsBucket.Arn}/*"},
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_only_the_run_step_reaches_the_pipeline_results_and_only_under_its_prefix(
    resolved: dict[str, Any],
) -> None:
    reachers = {}
    for name, resource in _policy_bearing_resources(resolved).items():
        for item in _policy_items(resource):
            for statement in _statements(item):
                if any(str(action).startswith("s3:") for action in _as_list(statement["Action"])):
                    reachers.setdefault(name, []).append(
                        (statement["Action"], statement["Resource"], statement.get("Condition"))
                    )
    step = function_properties(resolved, "RunStepFunction")["Environment"]["Variables"]
    prefix = step["PIPELINE_RESULTS_PREFIX"]

    assert step["PIPELINE_RESULTS_BUCKET"] == {"Ref": RESULTS_BUCKET}
    # Objects under the prefix the step writes to, and the bucket's listing so that a result not
    # written yet is a 404; nothing else (no delete, no other bucket).
    assert reachers == {
        "RunStepFunction": [
            (["s3:GetObject", "s3:PutObject"], {"Fn::Sub": f"${{{RESULTS_BUCKET}.Arn}}/{prefix}/*"}, None),
            ("s3:ListBucket", {"Fn::GetAtt": [RESULTS_BUCKET, "Arn"]}, None),
        ]
    }
    for function_id in function_ids(resolved):
        variables = function_properties(resolved, function_id).get("Environment", {}).get("Variables", {})
        assert ("PIPELINE_RESULTS_BUCKET" in variables) == (function_id == "RunStepFunction"), function_id
