"""`resolve_conditions`: the template as AWS::LanguageExtensions hands it to SAM."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.template import functions, resolve_conditions

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Issuer": {"Type": "String", "Default": ""},
        "Subnets": {"Type": "CommaDelimitedList", "Default": ""},
        "Secret": {"Type": "String"},
    },
    "Conditions": {
        "HasIssuer": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Issuer"}, ""]}]},
        "HasVpc": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Subnets"}]}, ""]}]},
        "Both": {"Fn::And": [{"Condition": "HasIssuer"}, {"Condition": "HasVpc"}]},
        "Either": {"Fn::Or": [{"Condition": "HasIssuer"}, {"Condition": "HasVpc"}]},
        "UsesAMap": {"Fn::Equals": [{"Fn::FindInMap": ["M", "a", "b"]}, "x"]},
        "UsesTheSecret": {"Fn::Equals": [{"Ref": "Secret"}, "x"]},
    },
    "Resources": {
        "Api": {
            "Type": "AWS::Serverless::HttpApi",
            "Properties": {
                "Auth": {"Fn::If": ["HasIssuer", {"DefaultAuthorizer": "Jwt"}, {"Ref": "AWS::NoValue"}]},
                "Name": {"Fn::If": ["Both", "both", {"Fn::If": ["Either", "either", "neither"]}]},
                "Items": ["kept", {"Fn::If": ["HasVpc", "vpc", {"Ref": "AWS::NoValue"}]}],
                "Arn": {"Ref": "Secret"},
            },
        }
    },
}


def _api(parameters: dict[str, str]) -> dict[str, Any]:
    properties: dict[str, Any] = resolve_conditions(TEMPLATE, parameters)["Resources"]["Api"]["Properties"]
    return properties


def test_branches_follow_the_parameters_and_no_value_disappears() -> None:
    assert _api({}) == {"Name": "neither", "Items": ["kept"], "Arn": {"Ref": "Secret"}}
    assert _api({"Issuer": "https://issuer.example"}) == {
        "Auth": {"DefaultAuthorizer": "Jwt"},
        "Name": "either",
        "Items": ["kept"],
        "Arn": {"Ref": "Secret"},
    }
    assert _api({"Issuer": "https://issuer.example", "Subnets": "subnet-1,subnet-2"})["Name"] == "both"
    assert _api({"Subnets": "subnet-1"})["Items"] == ["kept", "vpc"]


def test_the_template_itself_is_left_alone() -> None:
    before = copy.deepcopy(TEMPLATE)

    resolve_conditions(TEMPLATE, {"Issuer": "https://issuer.example"})

    assert before == TEMPLATE


@pytest.mark.parametrize(
    ("condition", "message"),
    [("Missing", "unknown condition"), ("UsesAMap", "Fn::FindInMap"), ("UsesTheSecret", "no value")],
)
def test_conditions_it_cannot_decide_are_errors_not_guesses(condition: str, message: str) -> None:
    resource = {"Type": "T", "Properties": {"P": {"Fn::If": [condition, 1, 2]}}}
    template = {**TEMPLATE, "Resources": {"X": resource}}

    with pytest.raises(ValueError, match=message):
        resolve_conditions(template, {})


def test_a_route_that_opts_out_of_the_authorizer_in_one_configuration_is_public() -> None:
    def function(auth: Any) -> dict[str, Any]:
        event = {"Type": "HttpApi", "Properties": {"Path": "/p", "Method": "get"}}
        if auth is not None:
            event["Properties"]["Auth"] = auth
        return {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"E": event}}}

    open_with_an_issuer = {"Fn::If": ["HasIssuer", {"Authorizer": "NONE"}, {"Ref": "AWS::NoValue"}]}
    template = {
        "Resources": {
            "Conditional": function(open_with_an_issuer),
            "Plain": function({"Authorizer": "NONE"}),
            "Protected": function(None),
            "Scoped": function({"Authorizer": "Jwt", "AuthorizationScopes": ["read"]}),
        }
    }

    public = {spec.logical_id: spec.routes[0].public for spec in functions(template)}

    assert public == {"Conditional": True, "Plain": True, "Protected": False, "Scoped": False}
