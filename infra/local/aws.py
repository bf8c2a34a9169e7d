"""The AWS side of the local runtime: moto's server in this process, for Secrets Manager and Step Functions.

moto's server application (the one `moto.server.ThreadedMotoServer` runs) is served on a free
loopback port with one WSGI layer in front of it: Lambda's `Invoke` call
(`POST /2015-03-31/functions/{name}/invocations`) is answered by the template's handlers, loaded in
this process, instead of by moto's Lambda. Everything else reaches moto unchanged.

Step Functions runs the real ASL files because moto's `stepfunctions.execute_state_machine` setting
is turned on (through moto's `/moto-api/config` endpoint, its documented switch for server mode).
moto's ASL interpreter calls Lambda with a boto3 client at `http://localhost:$MOTO_PORT`, so Task
states reach the layer above and run our handlers. One thing inside moto is changed: a
definition's parse is kept (`keep_parsed_definitions`), so that an execution does not parse its
state machine again.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import boto3
import httpx
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from werkzeug.serving import BaseWSGIServer, make_server

from infra.local.lambdas import (
    ACCOUNT_ID,
    REGION,
    FunctionError,
    LocalFunctions,
    TooManyRequests,
    UnknownFunction,
    function_arn,
)
from infra.template import StateMachineSpec

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_stepfunctions.client import SFNClient

log = logging.getLogger("infra.local.aws")

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# How long an invocation through the Lambda API waits for a free environment before a 429.
THROTTLE_WAIT_S = 120
_MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def state_machine_arn(logical_id: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{logical_id}"


class _Unresolvable(Exception):
    pass


class LocalValues:
    """Evaluates the intrinsics of a template (whose conditions are already resolved) locally:
    parameters take the given values or their defaults, functions and state machines resolve to
    their local names and ARNs, and anything that only a deployment knows resolves to None."""

    def __init__(
        self,
        template: Mapping[str, Any],
        functions: LocalFunctions,
        state_machine_ids: Iterable[str],
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self._template = template
        self._functions = functions
        self._state_machines = set(state_machine_ids)
        self._parameters = dict(parameters or {})
        self._pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "auralink-local",
        }

    def resolve(self, value: Any) -> str | None:
        """The local text of ``value``, or None when it names nothing that exists locally."""
        try:
            resolved = self._value(value)
        except (_Unresolvable, LookupError, TypeError, ValueError):
            return None
        return ",".join(map(str, resolved)) if isinstance(resolved, list) else str(resolved)

    def _value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._value(item) for item in value]
        if not isinstance(value, dict):
            return value
        (function, argument), = value.items()  # fmt: skip
        evaluate: Callable[[], Any] | None = {
            "Ref": lambda: self._ref(str(argument)),
            "Fn::GetAtt": lambda: self._resource(str(argument[0]), str(argument[1])),
            "Fn::FindInMap": lambda: self._find_in_map(argument),
            "Fn::Join": lambda: str(argument[0]).join(str(item) for item in self._value(argument[1])),
            "Fn::Select": lambda: self._value(argument[1])[int(self._value(argument[0]))],
            "Fn::Split": lambda: str(self._value(argument[1])).split(str(argument[0])),
            "Fn::Sub": lambda: self._sub(argument),
        }.get(function)
        if evaluate is None:
            raise _Unresolvable(function)
        return evaluate()

    def _find_in_map(self, argument: list[Any]) -> Any:
        mapping, first, second = (str(self._value(item)) for item in argument)
        return self._template["Mappings"][mapping][first][second]

    def _ref(self, name: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        declaration = (self._template.get("Parameters") or {}).get(name)
        if declaration is not None:
            value = self._parameters.get(name, declaration.get("Default"))
            if value is None:
                raise _Unresolvable(name)
            if str(declaration.get("Type", "String")).startswith("CommaDelimitedList"):
                return [item.strip() for item in str(value).split(",")]
            return str(value)
        target, _, attribute = name.partition(".")
        return self._resource(target, attribute or "Ref")

    def _resource(self, logical_id: str, attribute: str) -> str:
        if logical_id in self._functions.specs:
            alias = self._functions.specs[logical_id].auto_publish_alias
            values = {
                "Ref": logical_id,
                "Arn": function_arn(logical_id),
                "Alias": function_arn(logical_id, alias),
            }
        elif logical_id in self._state_machines:
            name = self.state_machine_name(logical_id)
            arn = state_machine_arn(name)
            values = {"Ref": arn, "Arn": arn, "Name": name}
        else:
            raise _Unresolvable(logical_id)
        return values[attribute]

    def state_machine_name(self, logical_id: str) -> str:
        """The machine's name: the template's ``Name`` when it gives one (a function may name the
        machine's ARN by it), else its logical id."""
        properties = self._template["Resources"][logical_id].get("Properties") or {}
        return logical_id if properties.get("Name") is None else str(self._value(properties["Name"]))

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def substitute(match: re.Match[str]) -> str:
            name = match[1]
            value = self._value(variables[name]) if name in variables else self._ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return _SUB_VARIABLE.sub(substitute, str(text)).replace("${!", "${")


def state_machine_definition(root: Path, spec: StateMachineSpec, values: LocalValues) -> str:
    """The definition with its `${Name}` substitutions replaced by local values."""
    if spec.definition is not None:
        text = json.dumps(spec.definition)
    elif spec.definition_uri is not None:
        text = (root / spec.definition_uri).read_text(encoding="utf-8")
    else:
        raise ValueError(f"{spec.logical_id}: neither Definition nor DefinitionUri is set")
    for name, raw in spec.substitutions.items():
        value = values.resolve(raw)
        if value is None:
            log.warning("%s: substitution ${%s} names nothing local; left as it is", spec.logical_id, name)
            continue
        text = text.replace("${" + name + "}", value)
    return text


class LambdaInvocations:
    """WSGI layer that answers Lambda `Invoke` calls with the in-process handlers."""

    def __init__(self, app: WSGIApplication, functions: LocalFunctions) -> None:
        self._app = app
        self._functions = functions

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        match = _INVOKE_PATH.match(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") != "POST" or match is None:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        status, headers, payload = self.invoke(
            unquote(match["name"]), body, environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        )
        start_response(status, [*headers.items(), ("Content-Length", str(len(payload)))])
        return [payload]

    def invoke(self, name: str, body: bytes, invocation_type: str) -> tuple[str, dict[str, str], bytes]:
        try:
            function_id = self._functions.resolve(name)
            event = json.loads(body) if body else {}
        except UnknownFunction as exc:
            return _aws_error("404 Not Found", "ResourceNotFoundException", str(exc))
        except ValueError:
            return _aws_error("400 Bad Request", "InvalidRequestContentException", "payload is not JSON")
        if invocation_type == "DryRun":
            return "204 No Content", {}, b""
        if invocation_type == "Event":
            threading.Thread(target=self._invoke_quietly, args=(function_id, event), daemon=True).start()
            return "202 Accepted", {}, b""
        return self._invoke_now(function_id, event)

    def _invoke_now(self, function_id: str, event: Any) -> tuple[str, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        try:
            # Step Functions retries a throttled task (the ASL's Retry on
            # Lambda.TooManyRequestsException), but moto names a throttled call "Exception" and
            # would fail the run: the caller waits for a free environment instead.
            result = self._functions.invoke(function_id, event, wait_s=THROTTLE_WAIT_S)
        except TooManyRequests as exc:
            return _aws_error("429 Too Many Requests", "TooManyRequestsException", str(exc))
        except FunctionError as exc:
            log.warning("%s failed: %s", function_id, exc)
            headers["X-Amz-Function-Error"] = "Unhandled"
            return "200 OK", headers, json.dumps(exc.payload).encode("utf-8")
        return "200 OK", headers, json.dumps(result).encode("utf-8")

    def _invoke_quietly(self, function_id: str, event: Any) -> None:
        # Lambda queues an asynchronous invocation until an environment is free.
        try:
            self._functions.invoke(function_id, event, wait_s=THROTTLE_WAIT_S)
        except (FunctionError, TooManyRequests) as exc:
            log.warning("%s failed (asynchronous invocation): %s", function_id, exc)


def _aws_error(status: str, error_type: str, message: str) -> tuple[str, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "X-Amzn-ErrorType": error_type}
    return status, headers, json.dumps({"Type": "User", "message": message}).encode("utf-8")


_UNSHARED_STATES = ('"Parallel"', '"Map"')


def keep_parsed_definitions() -> None:
    """moto parses a state machine's definition with ANTLR for every execution it starts (about
    19 ms of this process's CPU for the run state machine, before its first state): the parse is
    kept by definition text. The program it gives is not changed by an evaluation (each execution
    keeps its state in its own environment), except Parallel and Map states, which count their
    workers on the program itself: definitions with them are parsed each time, as before."""
    parser = AmazonStateLanguageParser
    if getattr(parser.parse, "keeps_parses", False):
        return
    parse = parser.parse
    kept = functools.lru_cache(maxsize=32)(parse)

    def parse_once(definition: str) -> tuple[Any, Any]:
        if any(state in definition for state in _UNSHARED_STATES):
            return parse(definition)
        return kept(definition)

    parse_once.keeps_parses = True  # type: ignore[attr-defined]
    parser.parse = staticmethod(parse_once)  # type: ignore[method-assign]


class LocalAws:
    """moto's server on a free loopback port, with Lambda invocations dispatched to ``functions``."""

    def __init__(self, functions: LocalFunctions, *, host: str = "127.0.0.1") -> None:
        self._functions = functions
        self._host = host
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._previous_config: dict[str, Any] = {}

    def start(self) -> None:
        keep_parsed_definitions()
        app = LambdaInvocations(DomainDispatcherApplication(create_backend_app), self._functions)
        self._server = make_server(self._host, 0, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="local-aws", daemon=True
        )
        self._thread.start()
        self._previous_config = self._configure(_MOTO_CONFIG)
        log.info("AWS emulation (moto) on %s", self.endpoint)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the AWS emulation is not started")
        return int(self._server.server_port)

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """What boto3 (ours, the handlers' and moto's ASL interpreter's) needs to reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "MOTO_PORT": str(self.port),
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **DUMMY_CREDENTIALS,
        }

    def secrets_manager(self) -> SecretsManagerClient:
        return boto3.client("secretsmanager", **self._client_arguments())

    def step_functions(self) -> SFNClient:
        return boto3.client("stepfunctions", **self._client_arguments())

    def create_state_machines(
        self, definitions: Mapping[str, tuple[str, str]], names: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Create (or update) each state machine from ``{logical id: (type, definition)}``, named
        as ``names`` says (else by its logical id); returns ARNs by logical id."""
        client = self.step_functions()
        arns = {}
        for logical_id, (machine_type, definition) in definitions.items():
            role = f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}Role"
            arn = client.create_state_machine(
                name=(names or {}).get(logical_id, logical_id),
                definition=definition,
                roleArn=role,
                type=machine_type,  # type: ignore[arg-type]
            )["stateMachineArn"]
            # moto answers a repeated create with the existing machine: make it run this definition.
            client.update_state_machine(stateMachineArn=arn, definition=definition)
            arns[logical_id] = arn
        return arns

    def stop(self) -> None:
        if self._server is None:
            return
        self._stop_running_executions()
        self._configure(self._previous_config)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def _stop_running_executions(self) -> None:
        client = self.step_functions()
        for machine in client.list_state_machines()["stateMachines"]:
            running = client.list_executions(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )
            for execution in running["executions"]:
                client.stop_execution(executionArn=execution["executionArn"], cause="local runtime stopped")

    def _configure(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Apply moto settings; returns the settings they replaced."""
        url = f"{self.endpoint}/moto-api/config"
        before: dict[str, Any] = httpx.get(url, timeout=10).json()
        if config:
            httpx.post(url, json=dict(config), timeout=10).raise_for_status()
        return {key: before[key] for key in config if key in before}

    def _client_arguments(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint,
            "region_name": REGION,
            "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "config": Config(retries={"max_attempts": 1}),
        }
