"""Read `template.yaml`: a YAML loader for CloudFormation's short tags and a typed view of what runs.

`read_template` turns `!Ref X`, `!GetAtt A.B`, `!Sub ...` and the other short forms into the long
JSON forms (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, ...); `load_template` also expands the
`Fn::ForEach` loops (`infra.language_extensions`), so the result is the template as CloudFormation
sees it once AWS::LanguageExtensions has run. The helpers below derive the serverless functions,
their HTTP routes and schedules, and the state machines from it; tests and the local runtime use
them instead of repeating the template. `resolve_conditions` gives the template as SAM receives it
for a set of parameters, once AWS::LanguageExtensions has also resolved its `Fn::If`s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from infra.language_extensions import expand_language_extensions

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_STATE_MACHINE = "AWS::Serverless::StateMachine"

# Short tag -> long form. Fn::GetAtt's scalar form "A.B" becomes ["A", "B"].
_INTRINSICS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "ImportValue": "Fn::ImportValue",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "GetAZs": "Fn::GetAZs",
    "Transform": "Fn::Transform",
    "ToJsonString": "Fn::ToJsonString",
    "Length": "Fn::Length",
}


class CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that also understands CloudFormation's short intrinsic tags."""


def _construct_intrinsic(long_name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {long_name: value}

    return construct


for _short, _long in _INTRINSICS.items():
    CloudFormationLoader.add_constructor(f"!{_short}", _construct_intrinsic(_long))


def read_template(path: Path | str) -> dict[str, Any]:
    """The template at ``path`` as written, with short tags in their long forms."""
    text = Path(path).read_text(encoding="utf-8")
    # A SafeLoader subclass: only plain data and the intrinsic tags above are constructed.
    document = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a template must be a mapping")
    return document


def load_template(path: Path | str) -> dict[str, Any]:
    """The template at ``path`` as AWS::LanguageExtensions hands it on: loops expanded, literal
    `Fn::FindInMap`s resolved (list parameters that a loop iterates take their defaults)."""
    return expand_language_extensions(read_template(path))


def is_intrinsic(value: Any) -> bool:
    """Whether ``value`` is an intrinsic function (or a Ref) that only CloudFormation can resolve."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in {"Ref", "Condition", *(n for n in _INTRINSICS.values() if "::" in n)}
    )


@dataclass(frozen=True)
class HttpRoute:
    """One `HttpApi` event: ``method`` is upper case ("ANY" matches every method)."""

    function_id: str
    event_name: str
    method: str
    path: str
    public: bool
    payload_format_version: str = "2.0"


@dataclass(frozen=True)
class ScheduleSpec:
    """One `Schedule`/`ScheduleV2` event; ``input`` is the JSON the rule sends instead of the event."""

    function_id: str
    event_name: str
    expression: str
    input: str | None
    enabled: bool


@dataclass(frozen=True)
class ImageSpec:
    """How `sam build` builds an image function (its `Metadata`): a Dockerfile, with a folder of
    the repository as the build's context."""

    docker_context: str
    dockerfile: str  # relative to the context
    docker_tag: str | None = None

    @property
    def folder(self) -> str:
        """The Dockerfile's folder, relative to the template: the function's own code."""
        return str((PurePosixPath(self.docker_context) / self.dockerfile).parent)


@dataclass(frozen=True)
class FunctionSpec:
    """A function of the template. An image function (``image`` set) has no CodeUri: its code is the
    Dockerfile's folder, and its handler is the image's command (`ImageConfig.Command`, else
    ``app.lambda_handler``, which the Dockerfile's CMD names)."""

    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]
    auto_publish_alias: str | None
    routes: tuple[HttpRoute, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    reserved_concurrency: int | None = None
    layers: tuple[str, ...] = ()  # logical ids of the template's layers, in order
    image: ImageSpec | None = None

    @property
    def module_path(self) -> str:
        """The handler's module as a path relative to ``code_uri`` (``app.lambda_handler`` -> ``app.py``)."""
        module, _, _ = self.handler.rpartition(".")
        return module.replace(".", "/") + ".py"

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    type: str
    definition: dict[str, Any] | None
    definition_uri: str | None
    substitutions: dict[str, Any] = field(default_factory=dict)


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    resources = template.get("Resources") or {}
    return {name: res for name, res in resources.items() if res.get("Type") == resource_type}


def _function_globals(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((template.get("Globals") or {}).get("Function")) or {})


def _variables(properties: Mapping[str, Any]) -> dict[str, Any]:
    environment = properties.get("Environment") or {}
    return dict(environment.get("Variables") or {}) if isinstance(environment, dict) else {}


def function_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties with `Globals.Function` applied as SAM does (maps merge, lists add up
    with the global entries first, the rest overrides)."""
    defaults = _function_globals(template)
    own = dict(((template.get("Resources") or {})[logical_id].get("Properties")) or {})
    merged = {**defaults, **own}
    for key, value in own.items():
        if isinstance(value, list) and isinstance(defaults.get(key), list):
            merged[key] = [*defaults[key], *value]
    variables = {**_variables(defaults), **_variables(own)}
    if variables:
        merged["Environment"] = {"Variables": variables}
    return merged


def _opts_out_of_authorizer(auth: Any) -> bool:
    # The template gives /health `Auth: !If [HasIssuer, {Authorizer: NONE}, !Ref AWS::NoValue]`
    # (SAM accepts NONE only where the API has an authorizer): a route that opts out in any
    # configuration is a public route.
    if not isinstance(auth, dict):
        return False
    if "Fn::If" in auth:
        return any(_opts_out_of_authorizer(branch) for branch in auth["Fn::If"][1:])
    return auth.get("Authorizer") == "NONE"


def _route(function_id: str, event_name: str, props: Mapping[str, Any]) -> HttpRoute:
    public = _opts_out_of_authorizer(props.get("Auth"))
    return HttpRoute(
        function_id=function_id,
        event_name=event_name,
        method=str(props.get("Method", "ANY")).upper().replace("X-AMAZON-APIGATEWAY-ANY-METHOD", "ANY"),
        path=str(props.get("Path", "$default")),
        public=public,
        payload_format_version=str(props.get("PayloadFormatVersion", "2.0")),
    )


def _schedule(function_id: str, event_name: str, props: Mapping[str, Any]) -> ScheduleSpec:
    state = props.get("State")
    enabled = props.get("Enabled", True) is not False and state != "DISABLED"
    raw_input = props.get("Input")
    return ScheduleSpec(
        function_id=function_id,
        event_name=event_name,
        expression=str(props.get("Schedule") or props.get("ScheduleExpression") or ""),
        input=raw_input if isinstance(raw_input, str) else None,
        enabled=bool(enabled),
    )


def _events(function_id: str, properties: Mapping[str, Any]) -> tuple[list[HttpRoute], list[ScheduleSpec]]:
    routes: list[HttpRoute] = []
    schedules: list[ScheduleSpec] = []
    for event_name, event in (properties.get("Events") or {}).items():
        props = event.get("Properties") or {}
        if event.get("Type") == "HttpApi":
            routes.append(_route(function_id, event_name, props))
        elif event.get("Type") in {"Schedule", "ScheduleV2"}:
            schedules.append(_schedule(function_id, event_name, props))
    return routes, schedules


def functions(template: Mapping[str, Any]) -> list[FunctionSpec]:
    """The template's serverless functions, with `Globals.Function` applied."""
    specs = []
    for logical_id, resource in resources_of_type(template, SERVERLESS_FUNCTION).items():
        properties = function_properties(template, logical_id)
        routes, schedules = _events(logical_id, properties)
        image = _image(logical_id, properties, resource.get("Metadata") or {})
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                code_uri=str(properties.get("CodeUri", ".")) if image is None else image.folder,
                handler=_handler(properties),
                timeout=int(properties.get("Timeout", 3)),
                memory_size=int(properties.get("MemorySize", 128)),
                environment=_variables(properties),
                auto_publish_alias=_plain_str(properties.get("AutoPublishAlias")),
                routes=tuple(routes),
                schedules=tuple(schedules),
                reserved_concurrency=_plain_int(properties.get("ReservedConcurrentExecutions")),
                layers=tuple(_layer_refs(properties.get("Layers"))),
                image=image,
            )
        )
    return specs


def _image(logical_id: str, properties: Mapping[str, Any], metadata: Mapping[str, Any]) -> ImageSpec | None:
    if properties.get("PackageType", "Zip") != "Image":
        return None
    if not isinstance(metadata.get("Dockerfile"), str):
        raise ValueError(f"{logical_id}: an image function needs Metadata.Dockerfile for `sam build`")
    return ImageSpec(
        docker_context=str(metadata.get("DockerContext", ".")),
        dockerfile=metadata["Dockerfile"],
        docker_tag=_plain_str(metadata.get("DockerTag")),
    )


def _handler(properties: Mapping[str, Any]) -> str:
    command = (properties.get("ImageConfig") or {}).get("Command") or [properties.get("Handler")]
    return str(command[0] or "app.lambda_handler")


def _plain_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _layer_refs(layers: Any) -> list[str]:
    # Layers of the template itself are `!Ref <LayerVersion>`; ARNs of others' layers are skipped.
    return [layer["Ref"] for layer in layers or [] if isinstance(layer, dict) and "Ref" in layer]


def _plain_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def state_machines(template: Mapping[str, Any]) -> list[StateMachineSpec]:
    """The template's state machines; ``DefinitionSubstitutions`` stay as written."""
    specs = []
    for logical_id, resource in resources_of_type(template, SERVERLESS_STATE_MACHINE).items():
        properties = resource.get("Properties") or {}
        definition = properties.get("Definition")
        specs.append(
            StateMachineSpec(
                logical_id=logical_id,
                type=str(properties.get("Type", "STANDARD")),
                definition=definition if isinstance(definition, dict) else None,
                definition_uri=_plain_str(properties.get("DefinitionUri")),
                substitutions=dict(properties.get("DefinitionSubstitutions") or {}),
            )
        )
    return specs


# ---------------------------------------------------------------------------------------------
# Conditions, resolved as the AWS::LanguageExtensions transform resolves them before SAM runs.

_NO_VALUE = object()


class _Conditions:
    """Evaluates the template's conditions for one set of parameter values."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self._declared: Mapping[str, Any] = template.get("Parameters") or {}
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._parameters = parameters
        self._results: dict[str, bool] = {}

    def holds(self, name: str) -> bool:
        if name not in self._results:
            if name not in self._conditions:
                raise ValueError(f"unknown condition {name!r}")
            self._results[name] = bool(self._evaluate(self._conditions[name]))
        return self._results[name]

    def _parameter(self, name: str) -> Any:
        declared = self._declared.get(name)
        if declared is None:
            raise ValueError(f"conditions can only refer to parameters, not {name!r}")
        value = self._parameters.get(name, declared.get("Default"))
        if value is None:
            raise ValueError(f"parameter {name!r} has no value and no default")
        if str(declared.get("Type", "String")).startswith("CommaDelimitedList"):
            return [item.strip() for item in str(value).split(",")]
        return str(value)

    def _evaluate(self, expression: Any) -> Any:
        if not isinstance(expression, dict):
            return expression
        (function, argument), *_ = expression.items()
        if function == "Ref":
            return self._parameter(argument)
        if function == "Condition":
            return self.holds(argument)
        if function not in _CONDITION_FUNCTIONS or not isinstance(argument, list):
            raise ValueError(f"cannot evaluate {function} in a condition")
        return _CONDITION_FUNCTIONS[function]([self._evaluate(item) for item in argument])


_CONDITION_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "Fn::Equals": lambda values: str(values[0]) == str(values[1]),
    "Fn::Not": lambda values: not values[0],
    "Fn::And": all,
    "Fn::Or": any,
    "Fn::Join": lambda values: str(values[0]).join(str(item) for item in values[1]),
}


def _resolve(node: Any, conditions: _Conditions) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            return _resolve(when_true if conditions.holds(condition) else when_false, conditions)
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        resolved = {key: _resolve(value, conditions) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}
    if isinstance(node, list):
        items = [_resolve(item, conditions) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    return node


def resolve_conditions(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The template as `AWS::LanguageExtensions` hands it to SAM for these parameter values.

    Every `Fn::If` becomes the branch its condition picks and `AWS::NoValue` disappears, so that
    properties SAM must read (an API's `Auth`, a route's `Auth`) are plain. Other intrinsic functions,
    and the `Condition` of a resource, are left for CloudFormation. Parameters that ``parameters``
    does not name take their defaults.
    """
    conditions = _Conditions(template, parameters or {})
    resolved: dict[str, Any] = _resolve(dict(template), conditions)
    return resolved
