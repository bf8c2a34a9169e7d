"""The local runtime: the template's API, state machines and schedules, served from this process.

`LocalRuntime.start()` prepares Postgres (embedded, or the server a URL names), applies the
migrations and seeds, makes sure the development secrets exist, starts the AWS emulation with the
secrets and state machines in it, starts a Prefect server in the background when asked to,
computes the one environment every handler sees, and starts the scheduler and the HTTP server.
`stop()` undoes all of it in reverse order.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from psycopg.conninfo import conninfo_to_dict

from auralink import auth, aws_json, secrets
from auralink.config.loader import referenced_variables
from auralink.db.connection import reset_connection
from auralink.db.migrate import apply_migrations
from auralink.observability import logger
from auralink.settings import reset_settings
from infra.local import swagger
from infra.local.apigw import Gateway, HttpResponse, LocalApiServer, json_response, jwt_authorizer
from infra.local.aws import LocalAws, LocalValues, state_machine_definition
from infra.local.devsecrets import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    DevSecrets,
    dev_auth_environment,
    ensure_dev_secrets,
    load_into_secrets_manager,
)
from infra.local.lambdas import DEFAULT_CONCURRENCY, BuiltArtifacts, LocalFunctions
from infra.local.postgres import LocalDatabase, attach_postgres, start_local_postgres
from infra.local.prefect_server import LocalPrefectServer
from infra.local.routes import RouteTable
from infra.local.scheduler import Scheduler
from infra.template import (
    FunctionSpec,
    functions,
    is_intrinsic,
    load_template,
    resolve_conditions,
    state_machines,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

log = logging.getLogger("infra.local.runtime")

DEFAULT_PORT = 3000
DEV_CORS_ORIGINS = "http://localhost:3000,http://127.0.0.1:3000"
DEFAULT_DATABASE = "auralink"
# How long a direct invocation (a schedule, a test) waits for a free environment.
INVOKE_WAIT_S = 60
LOCAL_PARAMETERS = {"Stage": "dev", "AuthIssuer": DEV_ISSUER, "AuthAudience": DEV_AUDIENCE}
# A URL naming one of these (or no database) means: use the `auralink` database of that server.
_MAINTENANCE_DATABASES = {"postgres", "template1"}


@dataclass(frozen=True)
class DatabaseDsns:
    owner_dsn: str
    app_dsn: str


class LocalDatabaseSession:
    """The runtime's Postgres: the embedded server in ``data_dir``, or the server of ``admin_url``
    (a superuser's URL of a development server), migrated and seeded."""

    def __init__(self, data_dir: Path, admin_url: str | None) -> None:
        self._data_dir = data_dir
        self._admin_url = admin_url
        self._database: LocalDatabase | None = None

    def start(self) -> DatabaseDsns:
        started = time.perf_counter()
        if self._admin_url is None:
            self._database = start_local_postgres(self._data_dir, throwaway=False)
            where = f"embedded Postgres in {self._data_dir}"
        else:
            name = conninfo_to_dict(self._admin_url).get("dbname")
            database = name if name and name not in _MAINTENANCE_DATABASES else DEFAULT_DATABASE
            self._database = attach_postgres(self._admin_url, database=str(database))
            where = f"database {database!r} of the server at the given URL"
        applied = apply_migrations(self._database.owner_dsn, app_dsn=self._database.app_dsn)
        log.info(
            "%s ready in %.2f s (%d migrations applied)", where, time.perf_counter() - started, len(applied)
        )
        return self.dsns

    @property
    def dsns(self) -> DatabaseDsns:
        if self._database is None:
            raise RuntimeError("the database is not started")
        return DatabaseDsns(owner_dsn=self._database.owner_dsn, app_dsn=self._database.app_dsn)

    def stop(self) -> None:
        if self._database is not None:
            self._database.stop()
            self._database = None


def function_environment(
    spec: FunctionSpec, values: LocalValues, overrides: Mapping[str, str | None]
) -> dict[str, str]:
    """A function's variables: the template's, with intrinsics resolved where they name local
    resources, then ``overrides`` (None unsets), then what every process needs (PATH)."""
    environment: dict[str, str | None] = {}
    for name, raw in spec.environment.items():
        value = values.resolve(raw) if is_intrinsic(raw) else str(raw)
        if value is None and name not in overrides:
            log.debug("%s: %s has no local value and is left unset", spec.logical_id, name)
        environment[name] = value
    environment.update(overrides)
    environment["PATH"] = os.environ.get("PATH", os.defpath)
    return {name: value for name, value in environment.items() if value is not None}


def local_environment(
    specs: list[FunctionSpec],
    values: LocalValues,
    overrides: Mapping[str, str | None],
) -> dict[str, str | None]:
    """The union of every function's variables, for this process: the gateway's authorizer and the
    tests read the same settings as the functions."""
    environment: dict[str, str | None] = {}
    for spec in specs:
        for name, raw in spec.environment.items():
            environment[name] = values.resolve(raw) if is_intrinsic(raw) else str(raw)
    environment.update(overrides)
    return environment


class LocalRuntime:
    """Everything `make dev` serves, started and stopped as one."""

    def __init__(
        self,
        root: Path,
        *,
        port: int = DEFAULT_PORT,
        database_url: str | None = None,
        schedules: bool = True,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        environment_setup: Iterable[str] = (),
        artifacts: BuiltArtifacts | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        variables: Mapping[str, str] | None = None,
        prefect_dir: Path | None = None,
        prefect_api_url: str | None = None,
    ) -> None:
        """``environment_setup`` names `module:function`s each function environment calls once its
        handler is loaded; ``artifacts`` runs built functions and layers in a clean interpreter;
        ``concurrency`` is the limit of environments per function that reserves none.
        ``variables`` are given to every function, as a deployment sets what mcp-config.yaml reads
        (`DEEPWIKI_MCP_URL`, the servers' keys, ...); by default, those of this process's
        environment that mcp-config.yaml reads.
        The functions' Prefect API (`PREFECT_API_URL`): a server of the runtime's own, started in
        the background with its data in ``prefect_dir`` (what `make dev` does), or the running
        one ``prefect_api_url`` names (the tests' session server); with neither, none."""
        if prefect_dir is not None and prefect_api_url is not None:
            raise ValueError("prefect_dir and prefect_api_url are exclusive")
        self.root = root.resolve()
        self.environment_setup = tuple(environment_setup)
        self._artifacts = artifacts
        self._variables = dict(variables) if variables is not None else _configuration_variables(self.root)
        # The template as a dev stack with an issuer sees it: the API has its JWT authorizer.
        self.template = resolve_conditions(load_template(self.root / "template.yaml"), LOCAL_PARAMETERS)
        self.functions = LocalFunctions(
            self.root,
            functions(self.template),
            artifacts=artifacts,
            setup=environment_setup,
            default_concurrency=concurrency,
        )
        self._machines = state_machines(self.template)
        self._values = LocalValues(
            self.template,
            self.functions,
            [machine.logical_id for machine in self._machines],
            LOCAL_PARAMETERS,
        )
        self._database = LocalDatabaseSession(data_dir or self.root / ".data" / "postgres", database_url)
        self._aws = LocalAws(self.functions, host=host)
        self._scheduler = Scheduler(
            [schedule for spec in self.functions.specs.values() for schedule in spec.schedules], self.invoke
        )
        self._schedules_on = schedules
        self._api: LocalApiServer | None = None
        self.prefect_server = LocalPrefectServer(self.root, prefect_dir) if prefect_dir is not None else None
        self._prefect_api_url = prefect_api_url
        self._host, self._port = host, port
        self._saved_environment: dict[str, str | None] = {}
        self._stops: list[Callable[[], None]] = []
        self.state_machine_arns: dict[str, str] = {}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        started = time.perf_counter()
        try:
            self._start_parts()
        except BaseException:
            self.stop()
            raise
        log.info("local runtime ready in %.2f s", time.perf_counter() - started)

    def _start_parts(self) -> None:
        # Each stop is registered before its start: a part that fails half-way is still stopped.
        self._stops.append(self.functions.unload)
        api = LocalApiServer(self._gateway(), host=self._host, port=self._port)
        self._stops.append(api.stop)
        api.bind()  # first, so that a taken port fails fast
        self._api = api
        self._stops.append(self._aws.stop)
        self._aws.start()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-aws-setup") as pool:
            # moto imports its Step Functions interpreter on first use (about 1.3 s): let that
            # overlap the database's start.
            aws_ready = pool.submit(self._prepare_aws, ensure_dev_secrets(self.root))
            self._stops.append(self._database.stop)
            dsns = self._database.start()
            aws_ready.result()
        if self.prefect_server is not None:
            # Last but one, and not awaited: the server loads for 8 to 25 s on its own while the
            # API serves (its /health says `starting` until then).
            self._stops.append(self.prefect_server.stop)
            self.prefect_server.start()
        overrides = self._overrides(dsns.app_dsn, dsns.owner_dsn) | {
            "PUBLIC_API_URL": api.url,
            "PREFECT_API_URL": self.prefect_api_url,
            "PREFECT_API_SECRET_ID": None,
            # Pipelines' task results, for a resumed run to find: a folder here, the stack's
            # bucket in AWS (none locally: its reference is left unset, and said so here).
            "PIPELINE_RESULTS_PATH": str(self.root / ".data" / "pipeline-results"),
            "PIPELINE_RESULTS_BUCKET": None,
        }
        specs = list(self.functions.specs.values())
        self.functions.configure(
            {spec.logical_id: self._function_environment(spec, overrides) for spec in specs}
        )
        self._apply_environment(local_environment(specs, self._values, overrides))
        self._stops.append(self._restore_environment)
        if self._schedules_on:
            self._stops.append(self._scheduler.stop)
            self._scheduler.start()
        api.start()

    def _function_environment(
        self, spec: FunctionSpec, overrides: Mapping[str, str | None]
    ) -> dict[str, str]:
        if self._artifacts is None:
            return function_environment(spec, self._values, overrides)
        # Built code reads what its layers or its image hold (the configuration) where Lambda has them.
        environment = function_environment(spec, self._values, {**overrides, "MCP_CONFIG_PATH": None})
        raw = spec.environment.get("MCP_CONFIG_PATH")
        if isinstance(raw, str):
            environment["MCP_CONFIG_PATH"] = self._artifacts.local_path(raw, spec.logical_id)
        return environment

    def _prepare_aws(self, dev_secrets: DevSecrets) -> None:
        load_into_secrets_manager(dev_secrets, self._aws.secrets_manager())
        self.state_machine_arns = self._aws.create_state_machines(
            {
                machine.logical_id: (machine.type, state_machine_definition(self.root, machine, self._values))
                for machine in self._machines
            },
            {
                machine.logical_id: self._values.state_machine_name(machine.logical_id)
                for machine in self._machines
            },
        )

    def stop(self) -> None:
        """Stop what was started, newest first; every part gets its chance even if one fails."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("stopping %s failed", getattr(stop, "__qualname__", stop))

    @property
    def url(self) -> str:
        if self._api is None:
            raise RuntimeError("the local runtime is not started")
        return self._api.url

    @property
    def prefect_api_url(self) -> str | None:
        """The functions' PREFECT_API_URL: the runtime's own server's, the one it was given, or None."""
        if self.prefect_server is not None and self.prefect_server.port is not None:
            return self.prefect_server.api_url
        return self._prefect_api_url

    @property
    def aws_endpoint(self) -> str:
        return self._aws.endpoint

    def step_functions(self) -> SFNClient:
        """A Step Functions client of the AWS emulation (the state machines are in it)."""
        return self._aws.step_functions()

    @property
    def app_dsn(self) -> str:
        return self._database.dsns.app_dsn

    def invoke(self, function_logical_id: str, event: Any, *, wait_s: float = INVOKE_WAIT_S) -> Any:
        """Invoke a function of the template, as `aws lambda invoke` would (with its retries on
        throttling: it waits up to ``wait_s`` for a free environment)."""
        return self.functions.invoke(function_logical_id, event, wait_s=wait_s)

    def fire_schedule(self, function_logical_id: str) -> Any:
        """Fire the function's schedule now (also when the timer is off) and return its result."""
        return self._scheduler.fire(function_logical_id)

    def _overrides(self, app_dsn: str, owner_dsn: str) -> dict[str, str | None]:
        return {
            "POWERTOOLS_SERVICE_NAME": "auralink",
            "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
            "DATABASE_URL": app_dsn,
            "DATABASE_SECRET_ID": None,
            "DATABASE_OWNER_URL": owner_dsn,
            "DATABASE_OWNER_SECRET_ID": None,
            "AUTH_JWKS_URL": None,
            "CORS_ALLOW_ORIGINS": DEV_CORS_ORIGINS,
            "MCP_CONFIG_PATH": str(_mcp_config_path(self.root)),
            # The local runtime's own servers (the seeded DeepWiki, a user's local MCP server or
            # model) live on loopback; a deployment reaches loopback only by its parameter.
            "ALLOW_LOOPBACK_ENDPOINTS": "true",
            **_tracing_variables(),
            **self._variables,
            **dev_auth_environment(),
            **self._aws.environment(),
        }

    def _apply_environment(self, environment: Mapping[str, str | None]) -> None:
        for name in environment:
            self._saved_environment.setdefault(name, os.environ.get(name))
        _set_environment(environment)

    def _restore_environment(self) -> None:
        saved, self._saved_environment = self._saved_environment, {}
        _set_environment(saved)

    def _gateway(self) -> Gateway:
        routes = RouteTable(route for spec in self.functions.specs.values() for route in spec.routes)
        return Gateway(
            routes,
            self.functions.invoke,
            jwt_authorizer(auth.verify_token),
            pages={
                swagger.OPENAPI_PATH: self._openapi_page,
                swagger.DOCS_PATH: _docs_page,
                **{path: _asset_page(path) for path in swagger.ASSETS},
            },
            cors_origins=DEV_CORS_ORIGINS.split(","),
        )

    def _openapi_page(self) -> HttpResponse:
        document = swagger.openapi_document(self.root)
        if document is None:
            return json_response(404, {"message": "docs/openapi.json is missing: run `make openapi`"})
        return HttpResponse(200, [("Content-Type", "application/json")], document)


def _mcp_config_path(root: Path) -> Path:
    return root / "shared" / "configs" / "mcp-config.yaml"


def _configuration_variables(root: Path) -> dict[str, str]:
    """What of this process's environment mcp-config.yaml reads: a developer sets a server's URL or
    key for `make dev` in the shell, as a deployment sets it on the functions."""
    names = referenced_variables(_mcp_config_path(root))
    return {name: os.environ[name] for name in sorted(names) if os.environ.get(name)}


# Where a developer sends the functions' traces (auralink.tracing): the console, an OTLP endpoint.
_TRACING_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "AWS_XRAY_DAEMON_ADDRESS",
)


def _tracing_variables() -> dict[str, str]:
    return {name: os.environ[name] for name in _TRACING_VARIABLES if os.environ.get(name)}


def _set_environment(environment: Mapping[str, str | None]) -> None:
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _forget_cached_configuration()


def _forget_cached_configuration() -> None:
    # Settings, secrets, JWKS and AWS credentials, the connection and the logger's keys (correlation
    # id) are kept per container: drop what an earlier environment of this process left behind.
    reset_settings()
    secrets.reset_caches()
    aws_json.forget_credentials()
    auth.reset_caches()
    reset_connection()
    logger.clear_state()


def _docs_page() -> HttpResponse:
    return HttpResponse(200, [("Content-Type", "text/html; charset=utf-8")], swagger.docs_page())


def _asset_page(path: str) -> Callable[[], HttpResponse]:
    def page() -> HttpResponse:
        body, content_type = swagger.asset(path)
        return HttpResponse(200, [("Content-Type", content_type), ("Cache-Control", "max-age=3600")], body)

    return page
