"""Every function of the template has its code, its sample event, a handler that imports, and the
runtime, layer and environment the platform expects."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from auralink.errors import ConfigurationError
from auralink.mcp.resource import METADATA_PREFIX, RESOURCE_NAMES, McpEndpoint
from auralink.settings import get_settings, reset_settings
from infra.local.routes import RouteTable
from infra.template import function_properties, functions, load_template, resolve_conditions
from tests.infra.template_support import MODES, ROOT, TEMPLATE_PATH, function_ids, render, run_starters

_TEMPLATE_FUNCTIONS = function_ids(load_template(TEMPLATE_PATH))

# The minimal valid environment of the brief: no secret ids that would be fetched, nothing remote.
_IMPORT_ENVIRONMENT = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql://u@h/db",
    "AUTH_ISSUER": "https://issuer.test",
    "AUTH_AUDIENCE": "auralink-api",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "x",
    "POWERTOOLS_SERVICE_NAME": "auralink",
    "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
}
_SETTINGS_VARIABLES = (
    "DATABASE_SECRET_ID",
    "DATABASE_OWNER_URL",
    "DATABASE_OWNER_SECRET_ID",
    "AUTH_JWKS_URL",
    "CREDENTIALS_KEY_SECRET_ID",
    "CORS_ALLOW_ORIGINS",
    "MCP_CONFIG_PATH",
)


def test_the_template_has_the_functions_of_the_platform() -> None:
    assert set(_TEMPLATE_FUNCTIONS) >= {
        "HealthFunction",
        "MeFunction",
        "MigrateFunction",
        "RunStepFunction",
        "RefreshSummariesFunction",
    }


@pytest.mark.parametrize("function_id", _TEMPLATE_FUNCTIONS)
def test_every_function_has_a_sample_event(function_id: str) -> None:
    event_file = ROOT / "events" / f"{function_id}.json"

    assert event_file.is_file(), f"{function_id} has no events/{function_id}.json"
    json.loads(event_file.read_text(encoding="utf-8"))


def test_every_event_file_belongs_to_a_function() -> None:
    # Variants are named <LogicalId>.<variant>.json (RunStepFunction.fail.json).
    strays = [
        path.name
        for path in (ROOT / "events").glob("*.json")
        if path.name.split(".")[0] not in _TEMPLATE_FUNCTIONS
    ]

    assert strays == []


def test_http_events_match_their_routes(template: dict[str, Any]) -> None:
    for spec in functions(template):
        for route in spec.routes:
            event = json.loads((ROOT / "events" / f"{spec.logical_id}.json").read_text(encoding="utf-8"))

            method = event["requestContext"]["http"]["method"]
            match = RouteTable([route]).match(method, event["rawPath"])

            assert event["version"] == "2.0"
            assert event["routeKey"] == f"{route.method} {route.path}"
            assert event["rawPath"] == event["requestContext"]["http"]["path"]
            assert match is not None, f"{spec.logical_id}: {method} {event['rawPath']} is not {route.path}"
            assert (event.get("pathParameters") or {}) == match.path_parameters
            if not route.public:
                scheme, _, token = event["headers"]["authorization"].partition(" ")
                assert scheme == "Bearer"
                assert token.count(".") == 2


@pytest.mark.parametrize("function_id", _TEMPLATE_FUNCTIONS)
def test_every_function_has_its_code_and_handler_file(template: dict[str, Any], function_id: str) -> None:
    spec = next(spec for spec in functions(template) if spec.logical_id == function_id)
    code_dir = ROOT / spec.code_uri

    assert code_dir.is_dir(), f"{function_id}: CodeUri {spec.code_uri} does not exist"
    assert (code_dir / spec.module_path).is_file(), (
        f"{function_id}: {spec.code_uri}{spec.module_path} is missing"
    )


@pytest.fixture
def no_network_from_this_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection or name lookup made by the importing thread (other threads are left alone)."""
    importer = threading.get_ident()
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if threading.get_ident() == importer:
            raise AssertionError(f"importing a handler connected to {address!r}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == importer:
            raise AssertionError(f"importing a handler looked up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


@pytest.mark.parametrize("function_id", _TEMPLATE_FUNCTIONS)
def test_every_handler_imports_without_touching_the_network(
    template: dict[str, Any],
    function_id: str,
    monkeypatch: pytest.MonkeyPatch,
    no_network_from_this_thread: None,
) -> None:
    spec = next(spec for spec in functions(template) if spec.logical_id == function_id)
    for name in _SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in _IMPORT_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    module_name = f"_infra_handler_{function_id}"
    location = ROOT / spec.code_uri / spec.module_path
    module_spec = importlib.util.spec_from_file_location(module_name, location)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    try:
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)

        assert callable(getattr(module, spec.handler_name, None)), f"{location} has no {spec.handler_name}"
    finally:
        sys.modules.pop(module_name, None)
        reset_settings()


@pytest.mark.parametrize("function_id", _TEMPLATE_FUNCTIONS)
def test_runtime_architecture_tracing_and_layer(template: dict[str, Any], function_id: str) -> None:
    properties = function_properties(template, function_id)

    assert properties["Architectures"] == ["arm64"]
    assert properties["Tracing"] == "Active"
    assert properties["LoggingConfig"]["LogGroup"] == {"Ref": f"{function_id}LogGroup"}
    if properties.get("PackageType") == "Image":
        # SAM refuses these on an image, even from Globals: its image holds all of them.
        assert not {"Runtime", "Handler", "Layers", "CodeUri"} & set(properties)
    else:
        assert properties["Runtime"] == "python3.13"
        assert properties["Handler"] == "app.lambda_handler"
        assert properties["Layers"][0] == {"Ref": "CoreLayer"}


def test_the_crew_step_is_an_image_built_from_its_dockerfile_in_the_repository(
    template: dict[str, Any],
) -> None:
    (spec,) = [spec for spec in functions(template) if spec.image is not None]
    dockerfile = (ROOT / spec.image.docker_context / spec.image.dockerfile).read_text(encoding="utf-8")
    commands = [
        line.split(maxsplit=1) for line in dockerfile.splitlines() if line and not line.startswith("#")
    ]

    assert spec.logical_id == "CrewStepFunction"
    assert (spec.code_uri, spec.image.docker_context) == ("functions/steps/crew_step", ".")
    assert ["FROM", "public.ecr.aws/lambda/python:3.13"] in commands
    # The image's command is the handler the local runtime and the tests load.
    assert ["CMD", json.dumps([spec.handler])] in commands
    # Its environment is the crew lock's, never the core layer's.
    assert "requirements/crewai.lock" in dockerfile
    assert "layers/core/requirements.txt" not in dockerfile
    assert (spec.timeout, spec.memory_size) == (900, 2048)
    assert spec.environment["HOME"] == "/tmp"
    assert spec.environment["CREWAI_STORAGE_DIR"].startswith("/tmp/")
    for switch in ("CREWAI_DISABLE_TELEMETRY", "CREWAI_DISABLE_VERSION_CHECK"):
        assert spec.environment[switch] == "true", switch
    assert spec.environment["CREWAI_TRACING_ENABLED"] == "false"
    # The step's own spans (auralink.tracing) are exported like any function's.
    assert "OTEL_SDK_DISABLED" not in spec.environment


def test_the_makefile_builds_the_images_of_the_templates_image_functions(template: dict[str, Any]) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (declared,) = [line for line in makefile.splitlines() if line.startswith("IMAGE_FUNCTIONS")]

    assert declared.split(":=")[1].split() == [spec.logical_id for spec in functions(template) if spec.image]


@pytest.mark.parametrize(
    ("layer_id", "folder"),
    [
        ("CoreLayer", "layers/core"),
        ("LangGraphLayer", "layers/langgraph"),
        ("AutoGenLayer", "layers/autogen"),
        ("PrefectLayer", "layers/prefect"),
    ],
)
def test_layers_are_built_from_their_own_folder_by_the_makefile(
    template: dict[str, Any], layer_id: str, folder: str
) -> None:
    layer = template["Resources"][layer_id]

    # sam build hashes and copies ContentUri: the repository root would take .data, .venv and
    # node_modules with it.
    assert layer["Properties"]["ContentUri"] == folder
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    # The root Makefile, run in the root, where the core layer's configuration and SQL live.
    assert layer["Metadata"]["ContextPath"] == layer["Metadata"]["WorkingDirectory"] == "."
    assert f"build-{layer_id}:" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_timeouts(template: dict[str, Any]) -> None:
    timeouts = {
        function_id: function_properties(template, function_id)["Timeout"]
        for function_id in _TEMPLATE_FUNCTIONS
    }

    assert template["Globals"]["Function"]["Timeout"] == 10
    assert timeouts["RunStepFunction"] == 900
    assert timeouts["MigrateFunction"] == 120
    assert timeouts["HealthFunction"] == timeouts["MeFunction"] == 10


def test_run_step_uses_snapstart_through_an_alias_that_the_state_machine_calls(
    template: dict[str, Any],
) -> None:
    properties = function_properties(template, "RunStepFunction")
    machine = template["Resources"]["RunStateMachine"]["Properties"]

    assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert properties["AutoPublishAlias"] == "live"
    # Without these a library change (the layer) would leave the alias on the old snapshot.
    assert properties["AutoPublishAliasAllProperties"] is True
    assert template["Resources"]["CoreLayer"]["Properties"]["PublishLambdaVersion"] is True
    assert machine["DefinitionSubstitutions"]["RunStepFunctionArn"] == {"Ref": "RunStepFunction.Alias"}


def test_schedule_refreshes_summaries_every_15_minutes(template: dict[str, Any]) -> None:
    spec = next(spec for spec in functions(template) if spec.logical_id == "RefreshSummariesFunction")

    assert [schedule.expression for schedule in spec.schedules] == ["rate(15 minutes)"]
    assert all(schedule.enabled for schedule in spec.schedules)


@pytest.mark.parametrize("function_id", _TEMPLATE_FUNCTIONS)
def test_the_deployed_environment_passes_the_settings_model(
    template: dict[str, Any], mode: str, function_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved = resolve_conditions(template, MODES[mode])
    variables = function_properties(resolved, function_id)["Environment"]["Variables"]
    environment = {name: str(render(value, resolved, MODES[mode])) for name, value in variables.items()}
    for name in (*_SETTINGS_VARIABLES, *_IMPORT_ENVIRONMENT, "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    try:
        settings = get_settings()

        assert settings.database_secret_id == MODES[mode]["DatabaseSecretArn"]
        assert settings.credentials_key_secret_id is not None
        # Where the core layer puts the configuration, or the image (its /var/task).
        assert str(settings.mcp_config_path) == (
            "/var/task/auralink/config/mcp-config.yaml"
            if "PackageType" in function_properties(template, function_id)
            else "/opt/python/auralink/config/mcp-config.yaml"
        )
        if mode == "prod-with-issuer":
            assert settings.is_production
            assert settings.auth_algorithms == ["RS256"]
            assert settings.auth_jwks_url == f"{MODES[mode]['AuthIssuer']}/.well-known/jwks.json"
            assert settings.cors_allow_origins == ["https://app.auralink.example"]
        else:
            assert not settings.is_production
            assert settings.auth_algorithms == ["HS256"]
            assert settings.auth_jwt_secret_id is not None
        assert (settings.database_owner_secret_id is not None) == (function_id == "MigrateFunction")
        assert (settings.run_state_machine_arn is not None) == (function_id in run_starters(template))
        # The run step persists pipelines' task results in the stack's bucket, not in its /tmp.
        assert (settings.pipeline_results_bucket is not None) == (function_id == "RunStepFunction")
    finally:
        reset_settings()


def test_production_without_an_issuer_is_refused_by_the_settings_as_well(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The template's Rules refuse this deployment; the settings refuse it again at cold start.
    parameters = {
        **MODES["dev-without-issuer"],
        "Stage": "prod",
        "CorsAllowOrigins": "https://app.auralink.example",
    }
    resolved = resolve_conditions(template, parameters)
    variables = function_properties(resolved, "MeFunction")["Environment"]["Variables"]
    for name in (*_SETTINGS_VARIABLES, *_IMPORT_ENVIRONMENT, "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, str(render(value, resolved, parameters)))
    reset_settings()
    try:
        with pytest.raises(ConfigurationError, match="HS256"):
            get_settings()
    finally:
        reset_settings()


def test_the_prefect_api_comes_from_its_secret_to_the_run_step_the_health_check_and_the_run_logs(
    template: dict[str, Any],
) -> None:
    from_secret = {"Fn::If": ["HasPrefectApi", {"Ref": "PrefectApiSecretArn"}, {"Ref": "AWS::NoValue"}]}
    readers = {
        function_id
        for function_id in _TEMPLATE_FUNCTIONS
        if "PREFECT_API_SECRET_ID" in function_properties(template, function_id)["Environment"]["Variables"]
    }
    step = function_properties(template, "RunStepFunction")["Environment"]["Variables"]

    assert readers == {"RunStepFunction", "HealthFunction", "RunsListRunLogsFunction"}
    for function_id in readers:
        variables = function_properties(template, function_id)["Environment"]["Variables"]
        assert variables["PREFECT_API_SECRET_ID"] == from_secret
    # Neither the URL nor the key travels as a plain variable; Prefect's home is writable; its
    # analytics are off.
    assert "PREFECT_API_URL" not in str(template) and "PREFECT_API_KEY" not in str(template)
    assert step["PREFECT_HOME"].startswith("/tmp/")
    assert step["DO_NOT_TRACK"] == "1"


def test_the_mcp_endpoints_of_the_template_are_the_protected_resources(template: dict[str, Any]) -> None:
    # A new MCP route without metadata would answer 401s pointing nowhere; metadata for a route
    # that is gone would name a resource nobody serves.
    mcp_routes = {
        route.path
        for spec in functions(template)
        for route in spec.routes
        if route.method == "ANY" and route.path.startswith("/mcp/")
    }
    metadata_routes = {
        route.path
        for spec in functions(template)
        for route in spec.routes
        if route.path.startswith(METADATA_PREFIX)
    }

    assert mcp_routes == set(RESOURCE_NAMES)
    assert {f"/mcp/{name}" for name in get_args(McpEndpoint)} == mcp_routes
    assert metadata_routes == {f"{METADATA_PREFIX}/mcp/{{server}}"}
