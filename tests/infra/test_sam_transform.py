"""The template through the real SAM transform, as CloudFormation processes it on deploy.

cfn-lint checks the template against SAM's schema; only the transform itself finds what SAM refuses
(an intrinsic function where it must read a value, NONE on a route of an API without an authorizer)
and shows what it generates: the routes' security, the roles, the versions behind the alias.
`resolve_conditions` plays AWS::LanguageExtensions, which runs before SAM on deploy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.template import functions, resolve_conditions
from tests.infra.template_support import DEV_PARAMETERS, MODES, PUBLIC_PATHS

pytest.importorskip("samtranslator", reason="aws-sam-translator is not installed")

from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

ARTIFACTS = "auralink-artifacts"
IMAGE_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/auralink-dev"
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}
STEP_FUNCTIONS_LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


class _NoManagedPolicies:
    """The template names no managed policy, so the transform has nothing to look up."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module", autouse=True)
def _region() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield


def sam_transform(
    template: dict[str, Any], parameters: dict[str, str], layer_artifact: str = "CoreLayer"
) -> dict[str, Any]:
    sam_input = resolve_conditions(template, parameters)
    sam_input["Transform"] = "AWS::Serverless-2016-10-31"
    for name, resource in sam_input["Resources"].items():
        properties = resource.get("Properties", {})
        # `sam package` replaces local paths with the uploaded artifacts.
        if "CodeUri" in properties:
            properties["CodeUri"] = f"s3://{ARTIFACTS}/{name}.zip"
        # and an image function's Dockerfile with the image it built and pushed.
        if properties.get("PackageType") == "Image":
            properties["ImageUri"] = f"{IMAGE_REPOSITORY}:{name.lower()}-python3.13-crewai"
        if "ContentUri" in properties:
            properties["ContentUri"] = f"s3://{ARTIFACTS}/{layer_artifact}.zip"
        if "DefinitionUri" in properties:
            properties["DefinitionUri"] = {"Bucket": ARTIFACTS, "Key": "run.asl.json"}
    try:
        return transform(sam_input, dict(parameters), _NoManagedPolicies())
    except InvalidDocumentException as exc:
        raise AssertionError(
            "SAM refuses the template: " + "; ".join(c.message for c in exc.causes)
        ) from None


@pytest.fixture(scope="module")
def deployed(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {mode: sam_transform(template, parameters) for mode, parameters in MODES.items()}


def _of_type(cloudformation: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in cloudformation["Resources"].items() if body["Type"] == resource_type}


def _paths(cloudformation: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation["Resources"]["HttpApi"]["Properties"]["Body"]["paths"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_with_an_issuer_every_route_but_health_needs_a_jwt(deployed: dict[str, dict[str, Any]]) -> None:
    cloudformation = deployed["prod-with-issuer"]
    body = cloudformation["Resources"]["HttpApi"]["Properties"]["Body"]
    scheme = body["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]

    assert scheme["type"] == "jwt"
    assert scheme["identitySource"] == "$request.header.Authorization"
    assert scheme["jwtConfiguration"] == {
        "issuer": {"Ref": "AuthIssuer"},
        "audience": [{"Ref": "AuthAudience"}],
    }
    for path, methods in _paths(cloudformation).items():
        expected = [{"NONE": []}] if path in PUBLIC_PATHS else [{"JwtAuthorizer": []}]
        assert all(method["security"] == expected for method in methods.values()), path


def test_without_an_issuer_the_gateway_checks_no_token(deployed: dict[str, dict[str, Any]]) -> None:
    cloudformation = deployed["dev-without-issuer"]
    body = cloudformation["Resources"]["HttpApi"]["Properties"]["Body"]

    assert "components" not in body
    assert all(
        "security" not in method for methods in _paths(cloudformation).values() for method in methods.values()
    )
    assert PUBLIC_PATHS | {"/api/v1/me", "/api/v1/mcp/connect"} <= set(_paths(cloudformation))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_generated_roles_are_least_privilege(deployed: dict[str, dict[str, Any]], mode: str) -> None:
    owner_readers = set()
    for name, role in _of_type(deployed[mode], "AWS::IAM::Role").items():
        properties = role["Properties"]
        assert set(properties.get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED_POLICIES, name
        for policy in properties.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = set(_as_list(statement["Action"]))
                if "*" in _as_list(statement["Resource"]):
                    assert actions <= STEP_FUNCTIONS_LOG_DELIVERY, (name, statement)
                if "DatabaseOwnerSecretArn" in str(statement["Resource"]):
                    owner_readers.add(name)

    assert owner_readers == {"MigrateFunctionRole"}


def test_functions_join_the_vpc_only_when_subnets_are_given(deployed: dict[str, dict[str, Any]]) -> None:
    for mode, in_vpc in (("prod-with-issuer", True), ("dev-without-issuer", False)):
        functions = _of_type(deployed[mode], "AWS::Lambda::Function")
        roles = _of_type(deployed[mode], "AWS::IAM::Role")

        assert all(("VpcConfig" in body["Properties"]) is in_vpc for body in functions.values()), mode
        assert all(
            any("VPCAccess" in arn for arn in roles[f"{name}Role"]["Properties"]["ManagedPolicyArns"])
            is in_vpc
            for name in functions
        ), mode


def test_the_state_machine_invokes_the_published_alias(deployed: dict[str, dict[str, Any]]) -> None:
    cloudformation = deployed["prod-with-issuer"]
    machine = cloudformation["Resources"]["RunStateMachine"]["Properties"]
    role = cloudformation["Resources"]["RunStateMachineRole"]["Properties"]
    invoke = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
    ]
    alias = cloudformation["Resources"]["RunStepFunctionAliaslive"]
    crew_step = {"Fn::GetAtt": ["CrewStepFunction", "Arn"]}

    assert alias["Type"] == "AWS::Lambda::Alias"
    assert machine["DefinitionSubstitutions"] == {
        "RunStepFunctionArn": {"Ref": "RunStepFunctionAliaslive"},
        "CrewStepFunctionArn": crew_step,
    }
    assert [statement["Resource"] for statement in invoke] == [{"Ref": "RunStepFunctionAliaslive"}, crew_step]
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert cloudformation["Resources"]["RunStepFunction"]["Properties"]["SnapStart"] == {
        "ApplyOn": "PublishedVersions"
    }


def test_the_crew_step_is_an_arm64_image_without_runtime_handler_or_layers(
    deployed: dict[str, dict[str, Any]],
) -> None:
    for cloudformation in deployed.values():
        crew_step = cloudformation["Resources"]["CrewStepFunction"]["Properties"]

        assert crew_step["PackageType"] == "Image"
        assert crew_step["Code"] == {"ImageUri": f"{IMAGE_REPOSITORY}:crewstepfunction-python3.13-crewai"}
        assert crew_step["Architectures"] == ["arm64"]
        assert not {"Runtime", "Handler", "Layers", "SnapStart"} & set(crew_step)


def _versions(cloudformation: dict[str, Any]) -> set[str]:
    return {name for name in _of_type(cloudformation, "AWS::Lambda::Version") if name.startswith("RunStep")}


def test_a_new_core_layer_publishes_a_new_run_step_version(template: dict[str, Any]) -> None:
    before = sam_transform(template, DEV_PARAMETERS, layer_artifact="CoreLayer-1")
    again = sam_transform(template, DEV_PARAMETERS, layer_artifact="CoreLayer-1")
    after = sam_transform(template, DEV_PARAMETERS, layer_artifact="CoreLayer-2")

    assert _versions(before) == _versions(again)
    assert len(_versions(before)) == 1
    assert _versions(after).isdisjoint(_versions(before))


def test_every_schedule_becomes_an_eventbridge_rule(
    template: dict[str, Any], deployed: dict[str, dict[str, Any]]
) -> None:
    rules = _of_type(deployed["dev-without-issuer"], "AWS::Events::Rule")
    schedules = {
        (spec.logical_id, schedule.expression) for spec in functions(template) for schedule in spec.schedules
    }

    targets = {
        (rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0], rule["Properties"]["ScheduleExpression"])
        for rule in rules.values()
    }
    assert ("RefreshSummariesFunction", "rate(15 minutes)") in schedules
    assert targets == schedules


def test_the_deployment_rules_survive_the_transform(deployed: dict[str, dict[str, Any]]) -> None:
    assert set(deployed["prod-with-issuer"]["Rules"]) == {"ProductionSafety", "VpcComplete"}
