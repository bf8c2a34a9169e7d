"""A two-task crew through the run machinery against the same crew kicked off with CrewAI alone;
the crew step's cold start and cold import.

The same sequential crew of two members (researcher, writer) and two tasks, no tools, each task
one model call to the model double (the OpenAI-compatible server on loopback), measured four ways
(and the whole path once more, polled ten times less often):

- direct, CrewAI alone: `Crew(...).kickoff()` in CrewAI's interpreter (bench/crew_kickoff.py),
  its model client pointed at the double; only the kickoff is timed, a fresh crew's construction
  apart;
- direct through the gateway: the same kickoff, the model client pointed at the local runtime's
  OpenAI-compatible endpoint with the user's JWT as its key (the user's default provider is the
  double), so that what it adds to the first is the LLM gateway's;
- step machinery: `runs.service.advance` in CrewAI's interpreter (bench/crew_step.py), as
  CrewStepFunction calls it, on a run recorded as the execute route records it: one crew built and
  kicked off per task, each message written as it comes, the outputs saved after each task, the
  models called through the endpoint with the run's token; timed by part;
- whole path: `POST /teams/{id}/execute` over HTTP to the local runtime, the real state machine
  (moto) calling CrewStepFunction in CrewAI's interpreter, and `GET /runs/{id}` polled every 5 ms
  until the run succeeds; the time spent in each function's invocations is added up per run.

The ways take turns run by run, so that the load of a shared machine weighs on each alike.
Run twice: with a model that answers at once (the machinery's cost laid bare) and with a model
that takes 200 ms a call (still faster than any hosted model). The crew step's first run, which
starts its environment and imports CrewAI, is timed apart and kept out of the figures.

The cold import: fresh CrewAI interpreters importing the crew executor alone, and the crew step's
handler module followed by the executor, which the handler imports at its first crew step.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.cold_start import ENVIRONMENT
from bench.crew_ways import (
    ANSWER,
    CREW_STEP_APP,
    KEY,
    MODEL,
    ROOT,
    TASKS,
    TEAM,
    Child,
    ColdStarts,
    Invocations,
    Kickoffs,
    Steps,
    WholePath,
)
from infra.local.images import image_paths
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.fakes.openai_server import LlmServer, Slow, Text, openai_server
from tests.support.crew import CREW_STEP, crew_python

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
IMPORT_SAMPLES = int(os.environ.get("BENCH_SAMPLES", "5"))

# The benchmark's user calls models and starts runs far faster than a person: its per-minute chat
# calls (30 by default) and runs per hour (60) are raised. Every call and run is still checked.
QUOTAS = {"QUOTA_LLM_CHAT_PER_MINUTE": "100000", "QUOTA_RUNS_PER_HOUR": "100000"}


def _figures(samples: list[float]) -> tuple[float, float]:
    """Median and 90th percentile, in ms."""
    return statistics.median(samples) * 1000, statistics.quantiles(samples, n=10)[-1] * 1000


def _interleaved(
    ways: dict[str, Callable[[], float]], model: LlmServer, delay_s: float
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(RUNS):
        for name, way in ways.items():
            reply = Text(ANSWER) if delay_s == 0 else Slow(delay_s, Text(ANSWER))
            model.script.then(*[reply] * TASKS)
            samples[name].append(way())
    return samples


def _mean_parts(runs_parts: list[dict[str, list[float]]]) -> list[tuple[str, float, float]]:
    """(part, mean ms per run, mean count per run), the largest first."""
    seconds: defaultdict[str, float] = defaultdict(float)
    counts: defaultdict[str, float] = defaultdict(float)
    for parts in runs_parts:
        for part, (spent, count) in parts.items():
            seconds[part] += spent
            counts[part] += count
    n = len(runs_parts)
    return sorted(
        ((part, seconds[part] / n * 1000, counts[part] / n) for part in seconds), key=lambda p: -p[1]
    )


def _report(
    delay_s: float,
    samples: dict[str, list[float]],
    direct: Kickoffs,
    steps: Steps,
    whole: WholePath,
    polled_less: WholePath,
) -> None:
    alone, alone_p90 = _figures(samples["alone"])
    through, through_p90 = _figures(samples["gateway"])
    step, step_p90 = _figures(samples["steps"])
    path, path_p90 = _figures(samples["whole"])
    print(f"2-task crew, model answering in {delay_s * 1000:.0f} ms, {RUNS} runs of each (median / p90):")
    print(f"  direct, CrewAI alone (kickoff):       {alone:7.1f} / {alone_p90:7.1f} ms")
    print(
        f"  direct through the gateway (kickoff): {through:7.1f} / {through_p90:7.1f} ms  "
        f"({through / alone:.2f}x)"
    )
    print(
        f"  step machinery (advance, in-process): {step:7.1f} / {step_p90:7.1f} ms  "
        f"({step / alone:.2f}x direct, {step / through:.2f}x through the gateway)"
    )
    print(
        f"  whole path (HTTP, state machine):     {path:7.1f} / {path_p90:7.1f} ms  "
        f"({path / alone:.2f}x direct, {path / through:.2f}x through the gateway)"
    )
    less, less_p90 = _figures(samples["whole, polled every 50 ms"])
    step_ms = [run[CREW_STEP][0] * 1000 for run in whole.spent]
    step_less_ms = [run[CREW_STEP][0] * 1000 for run in polled_less.spent]
    print(
        f"  whole path, polled every 50 ms:       {less:7.1f} / {less_p90:7.1f} ms  "
        f"({less / alone:.2f}x direct); its step {statistics.median(step_less_ms):.1f} ms"
        f" against {statistics.median(step_ms):.1f} ms (medians)"
    )
    means = ", ".join(f"{name} {statistics.mean(values) * 1000:.1f}" for name, values in samples.items())
    print(f"  means, to set beside the parts below: {means} ms")
    print(
        f"  a fresh crew's construction (direct, not timed above): median {_figures(direct.builds)[0]:.1f} ms"
    )
    print("  the step machinery by part (mean per run):")
    for part, ms, count in _mean_parts(steps.parts):
        print(f"    {part:72s} {ms:7.1f} ms  ({count:.1f})")
    print("  the whole path by function (mean per run):")
    invoked = [{name: [sum(times), len(times)] for name, times in run.items()} for run in whole.spent]
    for function_id, ms, count in _mean_parts(invoked):
        print(f"    {function_id:32s} {ms:7.1f} ms  ({count:.1f} invocations)")


def _runs() -> None:
    python = crew_python()
    children: list[Child] = []
    with tempfile.TemporaryDirectory() as data, openai_server(api_key=KEY) as model:
        runtime = LocalRuntime(ROOT, port=0, schedules=False, data_dir=Path(data), variables=QUOTAS)
        cold_starts = ColdStarts()
        logging.getLogger("infra.local.lambdas").addHandler(cold_starts)
        logging.getLogger("infra.local.lambdas").setLevel(logging.INFO)
        invocations = Invocations(runtime)  # before the start: the API's gateway holds `invoke`
        runtime.start()
        try:
            user = f"bench-{uuid.uuid4().hex[:8]}"
            token = mint_dev_token(user)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=runtime.url, timeout=60) as api:
                api.put(
                    "/api/v1/llm/preferences",
                    headers=headers,
                    json={
                        "default_model": MODEL,
                        "providers": {"openai": {"api_key": KEY, "base_url": model.base_url + "/v1"}},
                    },
                ).raise_for_status()
                created = api.post("/api/v1/teams", headers=headers, json=TEAM)
                created.raise_for_status()
                team_id = created.json()["team_id"]
                # The crew step's own settings (HOME, CrewAI's storage, telemetry off) for the direct crews.
                variables = {
                    name: value
                    for name, value in runtime.functions.variables(CREW_STEP).items()
                    if name == "HOME" or name.startswith(("CREWAI_", "OTEL_"))
                }
                alone = Kickoffs(python, variables, base_url=model.base_url + "/v1", api_key=KEY, model=MODEL)
                children.append(alone)
                # The step names the registry's id after CrewAI's `openai/` prefix: the endpoint sees it.
                gateway = Kickoffs(
                    python,
                    variables,
                    base_url=runtime.url + "/api/v1/llm/openai/v1",
                    api_key=token,
                    model=f"openai/{MODEL}",
                )
                children.append(gateway)
                steps = Steps(python, runtime, user, team_id)
                children.append(steps)
                whole = WholePath(api, headers, team_id, invocations)
                # Polling takes the cores that the step needs on a small machine: the same path
                # polled ten times less often shows how much.
                polled_less = WholePath(api, headers, team_id, invocations, poll_s=0.05)
                print(f"CrewAI's import in a fresh CrewAI interpreter: {alone.import_s * 1000:.0f} ms")
                # Every other function on the path serves once before the crew step's first run,
                # which starts its environment and imports CrewAI: that run is timed apart.
                model.script.then(*[Text(ANSWER)] * TASKS * 4)
                alone()
                gateway()
                steps()
                first = whole()
                print(
                    f"the crew step's first run (a cold start): {first * 1000:.0f} ms; its invocation"
                    f" {whole.spent[-1][CREW_STEP][0] * 1000:.0f} ms, of which the environment's init"
                    f" {cold_starts.init_ms.get(CREW_STEP, 0):.0f} ms, then CrewAI's import and a first"
                    " kickoff"
                )
                ways: dict[str, Callable[[], float]] = {
                    "alone": alone,
                    "gateway": gateway,
                    "steps": steps,
                    "whole": whole,
                    "whole, polled every 50 ms": polled_less,
                }
                for delay_s in (0.0, 0.2):
                    for way in ways.values():
                        model.script.then(*[Text(ANSWER)] * TASKS)
                        way()
                    alone.builds.clear()
                    steps.parts.clear()
                    whole.spent.clear()
                    polled_less.spent.clear()
                    samples = _interleaved(ways, model, delay_s)
                    _report(delay_s, samples, alone, steps, whole, polled_less)
        finally:
            for child in children:
                child.close()
            runtime.stop()


# ------------------------------------------------------------------------------ the cold import

EXECUTOR = """
import time
t0 = time.perf_counter()
import auralink.agents.crewai.executor
print(time.perf_counter() - t0, 0.0)
"""

# The handler module loaded as Lambda loads it, then what its first crew step imports.
STEP_THEN_EXECUTOR = """
import importlib.util, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("crew_step_app", STEP_PATH)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.perf_counter()
import auralink.agents.crewai.executor
print(t1 - t0, time.perf_counter() - t1)
"""


def _import_sample(python: Path, source: str, home: str) -> tuple[float, float]:
    program = f"STEP_PATH = {str(CREW_STEP_APP)!r}\n{source}"
    # As the template sets the crew step: CrewAI writes under HOME and its storage folder at import.
    crew = {
        "HOME": home,
        "CREWAI_STORAGE_DIR": f"{home}/crewai",
        "CREWAI_DISABLE_TELEMETRY": "true",
        "OTEL_SDK_DISABLED": "true",
        # The package where the image puts it, after the function's own folder.
        "PYTHONPATH": os.pathsep.join(map(str, (CREW_STEP_APP.parent, *image_paths(ROOT)))),
    }
    result = subprocess.run(
        [str(python), "-s", "-c", program],
        env={**os.environ, **ENVIRONMENT, **crew},
        capture_output=True,
        text=True,
        check=True,
    )
    first, second = (float(part) for part in result.stdout.split()[-2:])
    return first, second


def _cold_import() -> None:
    python = crew_python()
    with tempfile.TemporaryDirectory() as home:
        # A first import of each writes whatever bytecode is missing: the samples then load .pyc files.
        _import_sample(python, EXECUTOR, home)
        _import_sample(python, STEP_THEN_EXECUTOR, home)
        alone, step, after_step = [], [], []
        for _ in range(IMPORT_SAMPLES):
            alone.append(_import_sample(python, EXECUTOR, home)[0])
            handler, crew = _import_sample(python, STEP_THEN_EXECUTOR, home)
            step.append(handler)
            after_step.append(crew)
    version = subprocess.run([str(python), "-V"], capture_output=True, text=True, check=True).stdout.split()[
        -1
    ]
    print(f"cold import with bytecode, median of {IMPORT_SAMPLES} fresh CrewAI interpreters ({version}):")
    print(f"  auralink.agents.crewai.executor alone:           {_figures(alone)[0]:7.1f} ms")
    print(f"  functions/steps/crew_step/app.py (no CrewAI):    {_figures(step)[0]:7.1f} ms")
    print(f"  the executor, imported after the handler:        {_figures(after_step)[0]:7.1f} ms")


def main() -> None:
    _cold_import()
    _runs()


if __name__ == "__main__":
    main()
