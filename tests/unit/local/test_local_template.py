"""What the local runtime derives from `template.yaml`: routes, schedules, environment, state machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.aws import LocalValues, state_machine_definition
from infra.local.devsecrets import DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET_NAME
from infra.local.lambdas import LocalFunctions
from infra.local.runtime import LOCAL_PARAMETERS, local_environment
from infra.local.token import PROJECT_ROOT
from infra.template import functions, load_template, resolve_conditions, state_machines

OVERRIDES: dict[str, str | None] = {
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": DEV_JWT_SECRET_NAME,
    "AUTH_JWKS_URL": None,
    "DATABASE_SECRET_ID": None,
    "DATABASE_URL": "postgresql://app@localhost/auralink",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return resolve_conditions(load_template(PROJECT_ROOT / "template.yaml"), LOCAL_PARAMETERS)


@pytest.fixture(scope="module")
def local_functions(template: dict[str, Any]) -> LocalFunctions:
    return LocalFunctions(PROJECT_ROOT, functions(template))


@pytest.fixture(scope="module")
def values(template: dict[str, Any], local_functions: LocalFunctions) -> LocalValues:
    machines = [machine.logical_id for machine in state_machines(template)]
    return LocalValues(template, local_functions, machines, LOCAL_PARAMETERS)


def test_short_tags_load_in_their_long_form(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "A: !Ref Thing\nB: !GetAtt Fn.Arn\nC: !Sub '${AWS::Region}-x'\nD: !If [Cond, 1, !Ref AWS::NoValue]\n"
        "E: !Join [',', [a, b]]\nF: !Select [0, !Split [',', 'x,y']]\n"
    )

    assert load_template(path) == {
        "A": {"Ref": "Thing"},
        "B": {"Fn::GetAtt": ["Fn", "Arn"]},
        "C": {"Fn::Sub": "${AWS::Region}-x"},
        "D": {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]},
        "E": {"Fn::Join": [",", ["a", "b"]]},
        "F": {"Fn::Select": [0, {"Fn::Split": [",", "x,y"]}]},
    }


def test_routes_and_schedules_come_from_the_template(local_functions: LocalFunctions) -> None:
    routes = {
        (route.method, route.path): route for spec in local_functions.specs.values() for route in spec.routes
    }
    schedules = [schedule for spec in local_functions.specs.values() for schedule in spec.schedules]

    assert routes[("GET", "/health")].public is True
    assert routes[("GET", "/api/v1/me")].public is False
    # /health, and the hosted MCP servers, which verify the gateway's service tokens themselves.
    assert {path for (_, path), route in routes.items() if route.public} == {
        "/health",
        "/mcp/memory",
        "/mcp/sequential-thinking",
    }
    assert {(s.function_id, s.expression) for s in schedules} == {
        ("RefreshSummariesFunction", "rate(15 minutes)"),
        ("McpProbeFunction", "rate(5 minutes)"),
        ("RunSweeperFunction", "rate(1 minute)"),
    }
    assert local_functions.specs["RunStepFunction"].timeout == 900


def test_local_environment_resolves_what_it_can_and_overrides_the_rest(
    local_functions: LocalFunctions, values: LocalValues
) -> None:
    environment = local_environment(list(local_functions.specs.values()), values, OVERRIDES)

    assert environment["ENVIRONMENT"] == "development"  # Fn::FindInMap on Stage=dev
    assert environment["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert environment["AUTH_ISSUER"] == DEV_ISSUER  # Ref to the AuthIssuer parameter
    assert environment["AUTH_AUDIENCE"] == DEV_AUDIENCE
    assert environment["CORS_ALLOW_ORIGINS"] == "http://localhost:3000,http://127.0.0.1:3000"  # Fn::Join
    assert environment["AUTH_ALGORITHMS"] == "HS256"
    assert environment["AUTH_JWKS_URL"] is None
    assert environment["DATABASE_SECRET_ID"] is None  # a parameter without a default: no local value
    assert environment["CREDENTIALS_KEY_SECRET_ID"] is None  # Ref to a secret resource: no local value
    assert environment["DATABASE_URL"] == OVERRIDES["DATABASE_URL"]


def test_state_machine_definition_points_at_the_local_alias(
    template: dict[str, Any], values: LocalValues
) -> None:
    (machine,) = state_machines(template)

    definition = json.loads(state_machine_definition(PROJECT_ROOT, machine, values))

    resources = {state["Resource"] for state in definition["States"].values() if state["Type"] == "Task"}
    assert resources == {"arn:aws:lambda:us-east-1:123456789012:function:RunStepFunction:live"}
    assert "${" not in json.dumps(definition)


def test_local_values_of_intrinsics(values: LocalValues) -> None:
    assert values.resolve({"Fn::GetAtt": ["RunStepFunction", "Arn"]}) == (
        "arn:aws:lambda:us-east-1:123456789012:function:RunStepFunction"
    )
    assert values.resolve({"Ref": "RunStateMachine"}) == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:RunStateMachine"
    )
    assert values.resolve({"Ref": "MeFunction"}) == "MeFunction"
    assert (
        values.resolve({"Fn::Sub": "${AWS::StackName}/${Stage}/${!Literal}"})
        == "auralink-local/dev/${Literal}"
    )
    assert values.resolve({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Stage"}}]}) == "dev-x"
    assert values.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert values.resolve({"Ref": "CredentialsKeySecret"}) is None
    assert values.resolve({"Fn::ImportValue": "elsewhere"}) is None
    assert values.resolve({"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}) is None
