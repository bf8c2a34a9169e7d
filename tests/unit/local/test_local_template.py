"""What the local runtime derives from `template.yaml`: routes, schedules, environment, state machines."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra.language_extensions import TemplateError, expand_language_extensions
from infra.local.aws import LocalValues, state_machine_definition
from infra.local.devsecrets import DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET_NAME
from infra.local.images import MissingImageEnvironment, image_environment
from infra.local.lambdas import LocalFunctions
from infra.local.runtime import LOCAL_PARAMETERS, local_environment
from infra.local.token import PROJECT_ROOT
from infra.template import functions, load_template, read_template, resolve_conditions, state_machines
from tests.infra.template_support import PUBLIC_ROUTES

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
    assert {route for route, spec in routes.items() if spec.public} == PUBLIC_ROUTES
    assert ("RefreshSummariesFunction", "rate(15 minutes)") in {
        (s.function_id, s.expression) for s in schedules
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


def test_state_machine_definition_points_at_the_local_step_functions(
    template: dict[str, Any], values: LocalValues
) -> None:
    (machine,) = state_machines(template)

    definition = json.loads(state_machine_definition(PROJECT_ROOT, machine, values))

    resources = {
        name: state["Resource"] for name, state in definition["States"].items() if state["Type"] == "Task"
    }
    assert resources == {
        "Step": "arn:aws:lambda:us-east-1:123456789012:function:RunStepFunction:live",
        "MarkFailed": "arn:aws:lambda:us-east-1:123456789012:function:RunStepFunction:live",
        "CrewStep": "arn:aws:lambda:us-east-1:123456789012:function:CrewStepFunction",
    }
    assert "${" not in json.dumps(definition)


def _image_function(metadata: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {
        "Globals": {"Function": {"Timeout": 10}},
        "Resources": {
            "Image": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"PackageType": "Image", "MemorySize": 2048, **properties},
                "Metadata": metadata,
            }
        },
    }


def test_an_image_functions_code_is_its_dockerfiles_folder_and_its_handler_the_images_command() -> None:
    (spec,) = functions(
        _image_function({"DockerContext": ".", "Dockerfile": "functions/steps/crew_step/Dockerfile"})
    )
    (commanded,) = functions(
        _image_function(
            {"DockerContext": "functions", "Dockerfile": "steps/x/Dockerfile", "DockerTag": "v1"},
            ImageConfig={"Command": ["main.handle"]},
        )
    )

    assert (spec.code_uri, spec.handler, spec.layers) == (
        "functions/steps/crew_step",
        "app.lambda_handler",
        (),
    )
    assert (spec.timeout, spec.memory_size) == (10, 2048)
    assert (commanded.code_uri, commanded.handler, commanded.module_path) == (
        "functions/steps/x",
        "main.handle",
        "main.py",
    )
    assert commanded.image is not None and commanded.image.docker_tag == "v1"


def test_an_image_function_without_a_dockerfile_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Image: an image function needs Metadata\.Dockerfile"):
        functions(_image_function({"DockerContext": "."}))


def test_the_template_image_functions_have_a_local_environment(template: dict[str, Any]) -> None:
    images = [spec for spec in functions(template) if spec.image is not None]

    assert [spec.logical_id for spec in images] == ["CrewStepFunction"]
    assert {image_environment(spec).virtualenv for spec in images} == {".venv-crewai"}


def test_an_image_function_with_no_local_environment_is_refused(tmp_path: Path) -> None:
    (spec,) = functions(_image_function({"Dockerfile": "Dockerfile"}))

    with pytest.raises(MissingImageEnvironment, match="Image is an image function with no local environment"):
        LocalFunctions(tmp_path, [spec])


def test_local_values_of_intrinsics(values: LocalValues) -> None:
    assert values.resolve({"Fn::GetAtt": ["RunStepFunction", "Arn"]}) == (
        "arn:aws:lambda:us-east-1:123456789012:function:RunStepFunction"
    )
    # The run state machine is named in the template (the run step names it back by its ARN).
    machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:auralink-local-runs"
    assert values.resolve({"Ref": "RunStateMachine"}) == machine_arn
    step_environment = values.resolve(
        {
            "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
            ":stateMachine:${AWS::StackName}-runs"
        }
    )
    assert step_environment == machine_arn
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


# ---------------------------------------------------------------------------------------------
# Fn::ForEach and Fn::FindInMap, expanded as AWS::LanguageExtensions expands them before SAM runs.

LOOPS: dict[str, Any] = {
    "Parameters": {
        "Queues": {"Type": "CommaDelimitedList", "Default": "low,high"},
        "Stage": {"Type": "String"},
    },
    "Mappings": {"Sizes": {"Alpha": {"Memory": 1024}}, "Lists": {"Colours": {"Values": ["red", "blue"]}}},
    "Conditions": {
        "Fn::ForEach::IsStage": [
            "Name",
            ["dev", "prod"],
            {"Is${Name}": {"Fn::Equals": [{"Ref": "Stage"}, "${Name}"]}},
        ]
    },
    "Resources": {
        "Api": {"Type": "AWS::Serverless::HttpApi"},
        "Fn::ForEach::Functions": [
            "Name",
            ["Alpha", "beta-2"],
            {
                "&{Name}Function": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {
                        "CodeUri": "functions/${Name}/",
                        "Description": {"Fn::Sub": "${Name} in ${AWS::StackName}"},
                        "MemorySize": {
                            "Fn::FindInMap": ["Sizes", {"Ref": "Name"}, "Memory", {"DefaultValue": 512}]
                        },
                        "Tags": {"Name": {"Ref": "Name"}},
                    },
                },
                "&{Name}Alarm": {
                    "Type": "AWS::CloudWatch::Alarm",
                    "Properties": {
                        "AlarmDescription": "${Name} raised errors",
                        "Dimensions": [
                            {"Name": "FunctionName", "Value": {"Ref": {"Fn::Sub": "&{Name}Function"}}}
                        ],
                    },
                },
            },
        ],
        "Topic": {"Type": "AWS::SNS::Topic"},
    },
    "Outputs": {
        "Fn::ForEach::Arns": [
            "Name",
            ["Alpha"],
            {"${Name}Arn": {"Value": {"Fn::GetAtt": ["${Name}Function", "Arn"]}}},
        ]
    },
}


def test_a_loop_makes_one_copy_of_its_body_per_item_where_the_loop_stood() -> None:
    expanded = expand_language_extensions(LOOPS)

    assert list(expanded["Resources"]) == [
        "Api",
        "AlphaFunction",
        "AlphaAlarm",
        "beta2Function",
        "beta2Alarm",
        "Topic",
    ]
    assert expanded["Resources"]["beta2Function"]["Properties"] == {
        "CodeUri": "functions/beta-2/",  # ${Name} is the item as it is, &{Name} without - . / and the like
        "Description": {"Fn::Sub": "beta-2 in ${AWS::StackName}"},  # other variables are CloudFormation's
        "MemorySize": 512,  # no Sizes.beta-2.Memory: the default
        "Tags": {"Name": "beta-2"},  # Ref to the identifier is the item
    }
    assert expanded["Resources"]["AlphaFunction"]["Properties"]["MemorySize"] == 1024
    assert expanded["Resources"]["AlphaAlarm"]["Properties"] == {
        "AlarmDescription": "Alpha raised errors",
        # A Sub with nothing left to substitute is its string, so the Ref names the resource.
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "AlphaFunction"}}],
    }
    assert expanded["Conditions"] == {
        "Isdev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
        "Isprod": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
    }
    assert expanded["Outputs"] == {"AlphaArn": {"Value": {"Fn::GetAtt": ["AlphaFunction", "Arn"]}}}
    assert expanded["Parameters"] == LOOPS["Parameters"] and expanded["Mappings"] == LOOPS["Mappings"]


def test_loops_nest_and_may_stand_inside_a_resource() -> None:
    template = {
        "Resources": {
            "Fn::ForEach::Outer": [
                "Env",
                ["Dev", "Prod"],
                {
                    "Fn::ForEach::Inner": [
                        "Kind",
                        ["Errors", "Throttles"],
                        {
                            "${Env}${Kind}Alarm": {
                                "Type": "AWS::CloudWatch::Alarm",
                                "Properties": {"Metric": "${Kind}"},
                            }
                        },
                    ]
                },
            ],
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"Fn::ForEach::Flags": ["Flag", ["A", "B"], {"Use${Flag}": True}], "Name": "b"},
            },
        }
    }

    resources = expand_language_extensions(template)["Resources"]

    assert list(resources) == [
        "DevErrorsAlarm",
        "DevThrottlesAlarm",
        "ProdErrorsAlarm",
        "ProdThrottlesAlarm",
        "Bucket",
    ]
    assert resources["ProdThrottlesAlarm"]["Properties"] == {"Metric": "Throttles"}
    assert resources["Bucket"]["Properties"] == {"UseA": True, "UseB": True, "Name": "b"}


def test_a_collection_may_be_a_list_parameter_or_a_mapping() -> None:
    def loop(collection: Any) -> dict[str, Any]:
        body = {"${Item}Queue": {"Type": "AWS::SQS::Queue"}}
        return {
            **LOOPS,
            "Conditions": {},
            "Outputs": {},
            "Resources": {"Fn::ForEach::Q": ["Item", collection, body]},
        }

    by_parameter = loop({"Ref": "Queues"})
    by_mapping = loop({"Fn::FindInMap": ["Lists", "Colours", "Values"]})

    assert list(expand_language_extensions(by_parameter)["Resources"]) == ["lowQueue", "highQueue"]
    assert list(expand_language_extensions(by_parameter, {"Queues": "a, b,c"})["Resources"]) == [
        "aQueue",
        "bQueue",
        "cQueue",
    ]
    assert list(expand_language_extensions(by_mapping)["Resources"]) == ["redQueue", "blueQueue"]


def test_find_in_map_outside_loops_resolves_only_what_the_template_alone_decides() -> None:
    template = {
        **LOOPS,
        "Resources": {
            "Fixed": {"Type": "T", "Properties": {"M": {"Fn::FindInMap": ["Sizes", "Alpha", "Memory"]}}},
            "ByStage": {
                "Type": "T",
                "Properties": {"M": {"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}},
            },
        },
        "Globals": {"Function": {"Description": "${Name}"}},
    }

    expanded = expand_language_extensions(template)

    assert expanded["Resources"]["Fixed"]["Properties"] == {"M": 1024}
    assert expanded["Resources"]["ByStage"] == template["Resources"]["ByStage"]
    assert expanded["Globals"] == template["Globals"]  # the transform works on three sections only


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        (["Name", ["A", "B"], {"Fixed": {"Type": "T"}}], "defined twice"),
        (["Name", ["A", "A"], {"${Name}X": {"Type": "T"}}], "defined twice"),
        (["Name", ["Topic"], {"${Name}": {"Type": "T"}}], "defined twice"),
        (["Stage", ["A"], {"${Stage}X": {"Type": "T"}}], "already a parameter"),
        (["Name", ["A"]], "must be \\[Identifier"),
        (["Name", {"Ref": "Stage"}, {"${Name}X": {"Type": "T"}}], "list parameter only"),
        (["Name", [{"Ref": "Stage"}], {"${Name}X": {"Type": "T"}}], "list of strings"),
        (
            [
                "Name",
                ["A"],
                {"${Name}X": {"Properties": {"P": {"Fn::FindInMap": ["Sizes", "${Name}", "M"]}}}},
            ],
            "no Sizes",
        ),
    ],
)
def test_what_the_transform_refuses_is_an_error_not_a_guess(loop: list[Any], message: str) -> None:
    template = {**LOOPS, "Resources": {"Topic": {"Type": "T"}, "Fn::ForEach::L": loop}}

    with pytest.raises(TemplateError, match=message):
        expand_language_extensions(template)


def test_loops_nest_five_deep_at_most() -> None:
    body: dict[str, Any] = {"R${I5}": {"Type": "T"}}
    for depth in range(5, 0, -1):
        body = {f"Fn::ForEach::L{depth}": [f"I{depth}", ["x"], body]}
    too_deep = {"Fn::ForEach::L0": ["I0", ["x"], body]}

    assert list(expand_language_extensions({"Resources": body})["Resources"]) == ["Rx"]
    with pytest.raises(TemplateError, match="at most 5"):
        expand_language_extensions({"Resources": too_deep})


def test_the_template_given_is_left_alone() -> None:
    before = copy.deepcopy(LOOPS)

    expand_language_extensions(LOOPS)

    assert before == LOOPS


def test_the_project_template_is_read_with_its_loops_expanded(template: dict[str, Any]) -> None:
    written = read_template(PROJECT_ROOT / "template.yaml")
    loops = [key for key in written["Resources"] if key.startswith("Fn::ForEach::")]
    loaded = load_template(PROJECT_ROOT / "template.yaml")

    assert loops, "the template's per-function resources are made by a loop"
    assert loaded == expand_language_extensions(written)
    assert not [key for key in loaded["Resources"] if key.startswith("Fn::ForEach::")]
    assert {spec.logical_id for spec in functions(template)} <= set(loaded["Resources"])
