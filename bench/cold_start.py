"""Cold start of the API functions against measured floors, in one run; the run step's init; and
what the MCP SDK's modules cost to import.

Each sample is a fresh interpreter (as a new Lambda container would be) running from the core
layer as `make build-CoreLayer` builds it for this machine, with its bytecode, beside a stand-in
for the boto3 that Lambda's runtime provides: what ships, not the development environment (which
holds more: psutil, OpenTelemetry's SDK and OTLP exporter). It imports a
handler module and handles one request; the variants are sampled alternately, so that the
machine's state affects them alike. Reported per variant (medians of BENCH_SAMPLES, default 15):
the init (the import), the first invoke, the two together, and the whole process's wall time
(interpreter start-up and exit included).

- ``bare``: a Powertools `APIGatewayHttpResolver` answering GET /health, nothing else.
- ``floor_db``: the same, importing psycopg at init; its route tries to connect to the database,
  as the health check does. The floor of any function that reads the database.
- ``health``: functions/platform/health/app.py through its Lambda entry point, GET /health without a
  token. The database is unreachable on purpose (the check fails fast), so that the figure is
  about imports and code; the program asserts that psycopg was loaded by the end of the invoke,
  so that a lazy import cannot hide its cost.
- ``pydantic_db``: floor_db with pydantic, one model answering: the least of what `libraries_db`
  adds, which every route that validates its input or its settings needs.
- ``libraries_db``: floor_db with the libraries every request of the product needs besides (pydantic
  and Powertools' request validation, OpenTelemetry's API with one span around the request): what
  is left over it is the product's own code, its span recorder (`auralink.tracing_recorder`)
  included. Not YAML: the YAML files the layer ships are parsed when it is built.
- ``floor_mcp``: floor_db importing the MCP SDK's client (`mcp.client.session`,
  `mcp.client.streamable_http`) at init. The floor of a function that speaks MCP.
- ``mcp_function``: functions/mcp/call_tool/app.py through its entry point, answering a bearer
  token that does not parse (401 ``token_malformed``: a token is read, no database, no secret);
  the program asserts that the MCP client and the JWT library were loaded by the end.
- ``libraries_mcp``: libraries_db with the MCP SDK's client, as floor_mcp.
- ``libraries_call``: libraries_mcp with the other libraries a tool call needs: PyJWT with
  cryptography (the caller's token; the connection's credentials are decrypted with the same
  package), jsonschema and RE2 (the arguments checked against the tool's schema), httpcore2 and
  truststore (the HTTP transport under the SDK's client, which floor_mcp's client would load at its
  first connection). The floor of the MCP function by the issue's definition: a bare handler plus
  the libraries a request truly needs.
- ``run_step``: functions/steps/run_step/app.py imported only (a step needs a run); with SnapStart
  a cold step restores a snapshot instead of paying this.

The goal: each function within 1.25x of its floor (init plus first invoke), the floor being a bare
handler plus the libraries its requests truly need: libraries_db for health, libraries_call for the
MCP function. The narrower floors (floor_db: psycopg alone; floor_mcp: psycopg and the MCP client)
are reported beside them: every route of the product validates its settings and its input with
pydantic, which alone takes floor_db to about 1.4x. The MCP SDK's own cost is then shown by module,
imported alone, and with the SDK's models deferred (what `defer_build` on its base model would give).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.packaging.artifacts import base_interpreter, build_layers, runtime_stand_in

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "15"))
# The most an API function may take over its floor (init plus first invoke).
GOAL = 1.25

ENVIRONMENT = {
    "ENVIRONMENT": "development",
    # Nothing listens on port 9: the check fails fast with "database_unavailable".
    "DATABASE_URL": "postgresql://bench@127.0.0.1:9/bench?connect_timeout=1",
    "AUTH_ISSUER": "https://issuer.invalid",
    "AUTH_AUDIENCE": "auralink-api",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "bench",
    # Traced as on Lambda: a sampled request, spans sent to an X-Ray daemon (none listens: a
    # datagram costs the same either way).
    "OTEL_TRACES_EXPORTER": "xray",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
    "_X_AMZN_TRACE_ID": "Root=1-6750a3c1-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    # As the template's Globals set them for every function.
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
    "OTEL_PROPAGATORS": "none",
}


def _event(method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None) -> dict:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **(headers or {})} if body else headers or {},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
            "requestId": "bench",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


HEALTH_EVENT = _event("GET", "/health")
CALL_TOOL_EVENT = _event(
    "POST",
    "/api/v1/mcp/connections/00000000-0000-4000-8000-000000000000/tools/echo/call",
    headers={"authorization": "Bearer not-a-token"},
    body='{"arguments": {}}',
)

# Every program starts its clock first; T1 after the init, T2 after the first invoke.
_START = "import time\nT0 = time.perf_counter()\n"
_REPORT = "print(T1 - T0, T2 - T1)\n"

_BARE_INIT = """
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
app = APIGatewayHttpResolver()
@app.get("/health")
def health():
    return {"status": "ok"}
"""

_DB_INIT = """
import os
import psycopg
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
app = APIGatewayHttpResolver()
@app.get("/health")
def health():
    try:
        psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=1).close()
    except psycopg.Error:
        return {"status": "unavailable"}
    return {"status": "ok"}
"""

_MCP_INIT = "import mcp.client.session\nimport mcp.client.streamable_http\n"

_PYDANTIC_DB_INIT = """
import os
import psycopg
from pydantic import BaseModel
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
app = APIGatewayHttpResolver()
class Report(BaseModel):
    status: str
@app.get("/health")
def health():
    try:
        psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=1).close()
    except psycopg.Error:
        return Report(status="unavailable").model_dump()
    return Report(status="ok").model_dump()
"""

# The libraries every request of the product needs besides: pydantic and Powertools' validation
# (every input is validated), OpenTelemetry's API with one span around the request. No code of the
# product: what records the span is the product's own (`auralink.tracing_recorder`), and counted
# with it.
_LIBRARIES_INIT = """
import os
import psycopg
from pydantic import BaseModel
from opentelemetry import trace
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
app = APIGatewayHttpResolver(enable_validation=True)
class Report(BaseModel):
    status: str
@app.get("/health")
def health() -> Report:
    try:
        psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=1).close()
    except psycopg.Error:
        return Report(status="unavailable")
    return Report(status="ok")
"""
# What a tool call needs besides libraries_mcp (see the module's docstring).
_CALL_LIBRARIES = "import jwt, jsonschema, re2, httpcore2, truststore\n"
_RESOLVE_TRACED = """
T1 = time.perf_counter()
with trace.get_tracer("bench").start_as_current_span("GET /health"):
    answer = app.resolve(EVENT, None)
T2 = time.perf_counter()
assert answer["statusCode"] == 200, answer
"""

_RESOLVE = """
T1 = time.perf_counter()
answer = app.resolve(EVENT, None)
T2 = time.perf_counter()
assert answer["statusCode"] in (200, 503), answer
"""

# A function as Lambda loads it: its folder first on sys.path, its handler module imported, then
# its entry point called with a context.
_FUNCTION = """
import importlib, sys
sys.path.insert(0, FOLDER)
module = importlib.import_module("app")
T1 = time.perf_counter()

class Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench"
    log_group_name = log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 29_000

answer = module.lambda_handler(EVENT, Context())
T2 = time.perf_counter()
assert answer["statusCode"] == STATUS, answer
for name in LOADED:
    assert name in sys.modules, name + " was not loaded"
"""

_IMPORT_ONLY = """
import importlib, sys
sys.path.insert(0, FOLDER)
importlib.import_module("app")
T1 = T2 = time.perf_counter()
"""


def _program(body: str, **values: object) -> str:
    header = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    return _START + header + body + _REPORT


VARIANTS = {
    "bare": _program(_BARE_INIT + _RESOLVE, EVENT=HEALTH_EVENT),
    "floor_db": _program(_DB_INIT + _RESOLVE, EVENT=HEALTH_EVENT),
    "pydantic_db": _program(_PYDANTIC_DB_INIT + _RESOLVE, EVENT=HEALTH_EVENT),
    "health": _program(
        _FUNCTION,
        EVENT=HEALTH_EVENT,
        FOLDER=str(ROOT / "functions/platform/health"),
        STATUS=503,
        LOADED=("psycopg",),
    ),
    "libraries_db": _program(_LIBRARIES_INIT + _RESOLVE_TRACED, EVENT=HEALTH_EVENT),
    "floor_mcp": _program(_MCP_INIT + _DB_INIT + _RESOLVE, EVENT=HEALTH_EVENT),
    "libraries_mcp": _program(_MCP_INIT + _LIBRARIES_INIT + _RESOLVE_TRACED, EVENT=HEALTH_EVENT),
    "libraries_call": _program(
        _MCP_INIT + _CALL_LIBRARIES + _LIBRARIES_INIT + _RESOLVE_TRACED, EVENT=HEALTH_EVENT
    ),
    "mcp_function": _program(
        _FUNCTION,
        EVENT=CALL_TOOL_EVENT,
        FOLDER=str(ROOT / "functions/mcp/call_tool"),
        STATUS=401,
        LOADED=("mcp.client.session", "jwt"),
    ),
    "run_step": _program(_IMPORT_ONLY, FOLDER=str(ROOT / "functions/steps/run_step")),
}

# The MCP SDK by module, each imported alone (the init is the import; there is no invoke). Any
# `mcp.*` module runs the package's __init__, which imports the client, the server (Starlette,
# uvicorn, sse-starlette) and every protocol revision's types; the last two rows show what the
# client alone would cost if the packages `mcp` and `mcp.client` did not import everything: their
# __init__ is skipped (an empty package module stands in for each), the client modules are not.
MCP_MODULES = ("mcp", "mcp.client.session", "mcp.client.streamable_http", "mcp.types", "mcp_types")
_WITHOUT_PACKAGE_INITS = """
import importlib.util, sys, types
for name in ("mcp", "mcp.client"):
    package = types.ModuleType(name)
    package.__path__ = list(importlib.util.find_spec(name).submodule_search_locations)
    sys.modules[name] = package
"""
# As if the SDK's models were declared with pydantic's `defer_build` (built at first use): every
# model class the `mcp` and `mcp_types` packages define gets it (the row's clock counts pydantic's
# import, which the SDK's would do first anyway).
_SDK_MODELS_DEFERRED = """
from pydantic._internal._model_construction import ModelMetaclass
_new = ModelMetaclass.__new__
def _deferred(mcs, name, bases, namespace, **kwargs):
    if namespace.get("__module__", "").split(".")[0] in ("mcp", "mcp_types"):
        namespace["model_config"] = {**namespace.get("model_config", {}), "defer_build": True}
    return _new(mcs, name, bases, namespace, **kwargs)
ModelMetaclass.__new__ = _deferred
"""
MCP_VARIANTS = {
    **{
        f"import {module}": _program(f"import {module}\nT1 = T2 = time.perf_counter()\n")
        for module in MCP_MODULES
    },
    "client session, no package __init__s": _program(
        _WITHOUT_PACKAGE_INITS + "import mcp.client.session\nT1 = T2 = time.perf_counter()\n"
    ),
    "session + streamable_http, no __init__s": _program(
        _WITHOUT_PACKAGE_INITS
        + "import mcp.client.session, mcp.client.streamable_http\nT1 = T2 = time.perf_counter()\n"
    ),
    "session + streamable_http, models deferred": _program(
        _SDK_MODELS_DEFERRED
        + "import mcp.client.session, mcp.client.streamable_http\nT1 = T2 = time.perf_counter()\n"
    ),
}

Sample = tuple[float, float, float]


# The layers each variant's function carries, as the template gives them: the core layer, and the
# framework layers for the run step.
RUN_STEP_LAYERS = ("CoreLayer", "LangGraphLayer", "AutoGenLayer", "PrefectLayer")


@dataclass(frozen=True)
class Runner:
    """The interpreter and the paths (built layers, the runtime's boto3) that samples run with."""

    python: Path
    layers: dict[str, Path]
    runtime: Path

    def path(self, variant: str) -> str:
        layer_ids = RUN_STEP_LAYERS if variant == "run_step" else ("CoreLayer",)
        return os.pathsep.join([*(str(self.layers[layer_id]) for layer_id in layer_ids), str(self.runtime)])


def _sample(runner: Runner, name: str, program: str) -> Sample:
    started = time.perf_counter()
    result = subprocess.run(
        # -S: the base interpreter's site-packages is not Lambda's, and a `.pth` file in it runs
        # before the clock starts (on this machine one imports certifi, pathlib and
        # importlib.resources, 25-30 ms that every sample would otherwise be spared).
        [str(runner.python), "-S", "-c", program],
        env={**os.environ, **ENVIRONMENT, "PYTHONPATH": runner.path(name)},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"sample failed:\n{result.stderr[-2000:]}")
    # Metrics are flushed to stdout as EMF documents first: the figures are the last line.
    init, invoke = (float(part) for part in result.stdout.strip().splitlines()[-1].split())
    return init, invoke, wall


def measure(runner: Runner, variants: dict[str, str], samples: int = SAMPLES) -> dict[str, dict[str, float]]:
    for name, program in variants.items():  # warms the file cache; not recorded
        _sample(runner, name, program)
    runs: dict[str, list[Sample]] = {name: [] for name in variants}
    for _ in range(samples):
        for name, program in variants.items():
            runs[name].append(_sample(runner, name, program))
    return {
        name: {
            "init_ms": statistics.median(s[0] for s in values) * 1000,
            "first_invoke_ms": statistics.median(s[1] for s in values) * 1000,
            "init_invoke_ms": statistics.median(s[0] + s[1] for s in values) * 1000,
            "process_ms": statistics.median(s[2] for s in values) * 1000,
        }
        for name, values in runs.items()
    }


def _ratio(figures: dict[str, dict[str, float]], name: str, floor: str) -> str:
    ratio = figures[name]["init_invoke_ms"] / figures[floor]["init_invoke_ms"]
    verdict = "within" if ratio <= GOAL else "over"
    return f"  {name}/{floor}: {ratio:.2f}x on init + first invoke ({verdict} the {GOAL}x goal)"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        layers = build_layers(RUN_STEP_LAYERS, Path(folder) / "layers")
        runner = Runner(base_interpreter(), layers, runtime_stand_in(Path(folder) / "runtime"))
        report(runner)


def report(runner: Runner) -> None:
    figures = measure(runner, VARIANTS)
    print(f"cold start, median of {SAMPLES} fresh interpreters ({sys.version.split()[0]}):")
    print(f"  {'variant':12s} {'init':>9s} {'1st invoke':>11s} {'init+invoke':>12s} {'process':>9s}")
    for name, values in figures.items():
        print(
            f"  {name:12s} {values['init_ms']:6.1f} ms {values['first_invoke_ms']:8.1f} ms"
            f" {values['init_invoke_ms']:9.1f} ms {values['process_ms']:6.1f} ms"
        )
    print(_ratio(figures, "health", "libraries_db"))
    print(_ratio(figures, "mcp_function", "libraries_call"))
    for name, floor in (
        ("health", "floor_db"),
        ("mcp_function", "floor_mcp"),
        ("mcp_function", "libraries_mcp"),
    ):
        ratio = figures[name]["init_invoke_ms"] / figures[floor]["init_invoke_ms"]
        print(f"  {name}/{floor}: {ratio:.2f}x (against a narrower floor)")
    for name, floor in (
        ("pydantic_db", "floor_db"),
        ("libraries_db", "floor_db"),
        ("libraries_call", "floor_mcp"),
    ):
        ratio = figures[name]["init_invoke_ms"] / figures[floor]["init_invoke_ms"]
        print(f"  {name}/{floor}: {ratio:.2f}x (libraries alone, no code of the product)")
    print("  (run_step: its import alone; a cold step without SnapStart pays it before any work)")
    modules = measure(runner, MCP_VARIANTS)
    print(f"the MCP SDK's import by module, alone, median of {SAMPLES}:")
    for name, values in modules.items():
        print(f"  {name:40s} {values['init_ms']:6.1f} ms  process {values['process_ms']:6.1f} ms")


if __name__ == "__main__":
    main()
