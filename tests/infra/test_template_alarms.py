"""Alarms, the alarm topic, the dashboard, log retention and the stack's outputs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from auralink.observability import MetricName
from infra.template import function_properties, read_template, resources_of_type
from tests.infra.template_support import TEMPLATE_PATH, function_ids, render

ALARM = "AWS::CloudWatch::Alarm"
FUNCTION_LOOP = "Fn::ForEach::FunctionLogsAndAlarms"


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [body["Properties"] for body in resources_of_type(template, ALARM).values()]


def _alarm_on(template: dict[str, Any], namespace: str, metric: str, dimension: str, target: Any) -> bool:
    return any(
        alarm["Namespace"] == namespace
        and alarm["MetricName"] == metric
        and {"Name": dimension, "Value": target} in alarm["Dimensions"]
        for alarm in _alarms(template)
    )


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_errors_and_throttles_alarms(template: dict[str, Any], metric: str) -> None:
    missing = [
        function_id
        for function_id in function_ids(template)
        if not _alarm_on(template, "AWS/Lambda", metric, "FunctionName", {"Ref": function_id})
    ]

    assert missing == [], f"add {missing} to the list of {FUNCTION_LOOP} in template.yaml"


def test_the_api_and_the_run_state_machine_have_alarms(template: dict[str, Any]) -> None:
    assert _alarm_on(template, "AWS/ApiGateway", "5xx", "ApiId", {"Ref": "HttpApi"})
    assert _alarm_on(
        template, "AWS/States", "ExecutionsFailed", "StateMachineArn", {"Ref": "RunStateMachine"}
    )
    assert _alarm_on(
        template, "AWS/States", "ExecutionsTimedOut", "StateMachineArn", {"Ref": "RunStateMachine"}
    )


def test_every_alarm_notifies_the_topic(template: dict[str, Any]) -> None:
    for alarm in _alarms(template):
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"

    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}


def test_the_dashboard_shows_the_product_metrics(template: dict[str, Any]) -> None:
    body_template = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    body = json.loads(render(body_template, template, {}))
    expressions = " ".join(
        str(metric) for widget in body["widgets"] for metric in widget["properties"].get("metrics", [])
    )

    for name in (
        MetricName.MCP_OPERATIONS,
        MetricName.MCP_OPERATION_DURATION,
        MetricName.MCP_ERRORS,
    ):
        assert re.search(rf'Namespace="AuraLink" MetricName="{name}"', expressions), name
    # Runs are counted per framework (a dimension of a handful of values).
    for name in (MetricName.AGENT_EXECUTIONS, MetricName.TEAM_CONVERSATIONS):
        assert re.search(rf'{{AuraLink,framework}} MetricName="{name}"', expressions), name
    assert all(widget["properties"]["region"] == "us-east-1" for widget in body["widgets"])


def test_the_loop_makes_the_log_group_and_alarms_of_the_functions_and_of_nothing_else(
    template: dict[str, Any],
) -> None:
    written = read_template(TEMPLATE_PATH)["Resources"][FUNCTION_LOOP]
    function_logs = {
        name.removesuffix("LogGroup")
        for name, group in resources_of_type(template, "AWS::Logs::LogGroup").items()
        if group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/")
    }

    assert sorted(written[1]) == function_ids(template)
    assert function_logs == set(function_ids(template))


def test_every_log_group_has_a_retention(template: dict[str, Any]) -> None:
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")

    assert all(
        group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for group in log_groups.values()
    )
    for function_id in function_ids(template):
        assert f"{function_id}LogGroup" in log_groups
        assert function_properties(template, function_id)["LoggingConfig"]["LogGroup"] == {
            "Ref": f"{function_id}LogGroup"
        }
    assert template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]
    }


def test_access_logs_never_record_the_authorization_header(template: dict[str, Any]) -> None:
    log_format = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]

    assert "authorization" not in log_format.lower().replace("$context.authorizer.error", "")
    assert json.loads(log_format)["requestId"] == "$context.requestId"


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]

    assert set(outputs) >= {"ApiUrl", "RunStateMachineArn", "MigrateFunctionName", "CredentialsKeySecretArn"}
    assert outputs["MigrateFunctionName"]["Value"] == {"Ref": "MigrateFunction"}
    assert outputs["RunStateMachineArn"]["Value"] == {"Ref": "RunStateMachine"}
    assert render(outputs["ApiUrl"]["Value"], template, {}).startswith(
        "https://auralink-test-HttpApi.execute-api."
    )
