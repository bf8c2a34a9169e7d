"""Cold start of the health function against a bare Powertools HTTP handler, in one run; and the
init of the run step function, which loads LangGraph, the agent tools and the MCP client.

Each sample is a fresh interpreter (as a new Lambda container would be) that imports the handler
module and handles one request; both handlers are sampled alternately so that the machine's
state affects them alike. Reported: the init (import) time and the whole process wall time.
The health request is answered from an unreachable database on purpose, so that the figure is
about imports and code, not about the database.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "15"))

BARE = """
import time
t0 = time.perf_counter()
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
app = APIGatewayHttpResolver()
@app.get("/health")
def health():
    return {"status": "ok"}
t1 = time.perf_counter()
app.resolve(EVENT, None)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

HEALTH = """
import importlib.util, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("health_app", PATH)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.perf_counter()
module.app.resolve(EVENT, None)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

# The run step's init: its module imported as Lambda would, nothing invoked (a step needs a run).
STEP = """
import importlib.util, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("run_step_app", STEP_PATH)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.perf_counter()
print(t1 - t0, 0.0)
"""

EVENT = {
    "version": "2.0",
    "routeKey": "GET /health",
    "rawPath": "/health",
    "rawQueryString": "",
    "headers": {},
    "requestContext": {
        "http": {"method": "GET", "path": "/health"},
        "requestId": "bench",
        "stage": "$default",
    },
    "isBase64Encoded": False,
}

ENVIRONMENT = {
    "ENVIRONMENT": "development",
    # Nothing listens on port 9: the check fails fast with "database_unavailable".
    "DATABASE_URL": "postgresql://bench@127.0.0.1:9/bench?connect_timeout=1",
    "AUTH_ISSUER": "https://issuer.invalid",
    "AUTH_AUDIENCE": "auralink-api",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "PYTHONPATH": f"{ROOT / 'layers' / 'core'}",
}


def _sample(source: str) -> tuple[float, float, float]:
    program = (
        f"EVENT = {json.dumps(EVENT)}\nPATH = {str(ROOT / 'functions/platform/health/app.py')!r}\n"
        f"STEP_PATH = {str(ROOT / 'functions/steps/run_step/app.py')!r}\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", program.replace("false", "False") + source],
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    init, invoke = (float(part) for part in result.stdout.split()[-2:])
    return init, invoke, wall


def measure(samples: int = SAMPLES) -> dict[str, dict[str, float]]:
    runs: dict[str, list[tuple[float, float, float]]] = {"bare": [], "health": [], "run_step": []}
    for _ in range(samples):
        runs["bare"].append(_sample(BARE))
        runs["health"].append(_sample(HEALTH))
        runs["run_step"].append(_sample(STEP))
    return {
        name: {
            "init_ms": statistics.median(s[0] for s in values) * 1000,
            "first_invoke_ms": statistics.median(s[1] for s in values) * 1000,
            "process_ms": statistics.median(s[2] for s in values) * 1000,
        }
        for name, values in runs.items()
    }


def main() -> None:
    figures = measure()
    bare, health = figures["bare"], figures["health"]
    print(f"cold start, median of {SAMPLES} fresh interpreters ({sys.version.split()[0]}):")
    for name, values in figures.items():
        print(
            f"  {name:7s} init {values['init_ms']:7.1f} ms  first invoke {values['first_invoke_ms']:7.1f} ms"
            f"  process {values['process_ms']:7.1f} ms"
        )
    print(
        f"  ratio health/bare: init {health['init_ms'] / bare['init_ms']:.2f}x, "
        f"process {health['process_ms'] / bare['process_ms']:.2f}x"
    )
    print("  (run_step: its import alone; a cold step without SnapStart pays it before any work)")


if __name__ == "__main__":
    main()
