"""A two-task crew through the run machinery against the same crew kicked off with CrewAI alone;
the crew step's cold start and cold import; what CrewStepFunction's image holds.

The same sequential crew of two members (researcher, writer) and two tasks, no tools, each task
one model call to the model double (the OpenAI-compatible server on loopback), measured four ways:

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

The four ways take turns run by run, so that the load of a shared machine weighs on each alike.
Run twice: with a model that answers at once (the machinery's cost laid bare) and with a model
that takes 200 ms a call (still faster than any hosted model). The crew step's first run, which
starts its environment and imports CrewAI, is timed apart and kept out of the figures.

The cold import: fresh CrewAI interpreters importing the crew executor alone, and the crew step's
handler module followed by the executor, which the handler imports at its first crew step.

The image: what the Dockerfile puts in /var/task (the packages of requirements/crewai.lock less
boto3, botocore and s3transfer, installed for Lambda's arm64 with their bytecode; the auralink
package with its configuration and SQL, compiled), computed here since no image is built without
Docker. The base image comes on top.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from auralink.agents.runs import repository as runs
from auralink.agents.teams import conversations, crew_pins
from auralink.agents.teams.service import runnable_definition
from auralink.auth import Identity
from auralink.db import tenant_transaction
from bench.cold_start import ENVIRONMENT
from infra.local.images import image_paths
from infra.local.lambdas import lambda_variables
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.fakes.openai_server import LlmServer, Slow, Text, openai_server
from tests.packaging.artifacts import unzipped_size
from tests.support.crew import CREW_STEP, crew_python

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
IMPORT_SAMPLES = int(os.environ.get("BENCH_SAMPLES", "5"))
KEY = "sk-bench-0123456789"
MODEL = "openai/gpt-5.4-mini"
TASK = "the tides"
ANSWER = "ok"
TEAM: dict[str, Any] = {
    "team_name": "bench",
    "collaboration_mode": "sequential",
    "members": [
        {
            "name": "researcher",
            "role": "Researcher",
            "goal": "Find facts about {task_description}",
            "backstory": "A careful analyst",
        },
        {"name": "writer", "role": "Writer", "goal": "Write clearly", "backstory": "An editor"},
    ],
    "tasks": [
        {
            "name": "research",
            "description": "Research {task_description}",
            "expected_output": "Facts",
            "agent": "researcher",
        },
        {
            "name": "write",
            "description": "Write the report",
            "expected_output": "A report",
            "agent": "writer",
        },
    ],
}
TASKS = len(TEAM["tasks"])
CREW_STEP_APP = ROOT / "functions" / "steps" / "crew_step" / "app.py"
# The benchmark's user calls models and starts runs far faster than a person: its per-minute chat
# calls (30 by default) and runs per hour (60) are raised. Every call and run is still checked.
QUOTAS = {"QUOTA_LLM_CHAT_PER_MINUTE": "100000", "QUOTA_RUNS_PER_HOUR": "100000"}
# The Dockerfile's filter: what Lambda's runtime provides stays out of the image's packages.
PROVIDED = re.compile(r"^(boto3|botocore|s3transfer)==")
LAMBDA_PLATFORM = "aarch64-manylinux_2_34"


def _figures(samples: list[float]) -> tuple[float, float]:
    """Median and 90th percentile, in ms."""
    return statistics.median(samples) * 1000, statistics.quantiles(samples, n=10)[-1] * 1000


class _Child:
    """A program in CrewAI's interpreter that answers each line it reads with `result <json>`;
    whatever else it prints (its logs) is passed over."""

    def __init__(self, command: list[str], environment: dict[str, str], cwd: Path = ROOT) -> None:
        # Its warnings are many (CrewAI's token estimates): kept aside, shown only if it fails.
        self._errors = tempfile.TemporaryFile("w+")  # noqa: SIM115  # closed by close()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
            env=environment,
            cwd=cwd,
        )

    def read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith("result "):
                answer: dict[str, Any] = json.loads(line.removeprefix("result "))
                return answer
        self._errors.seek(0)
        last = "".join(self._errors.readlines()[-20:])
        raise RuntimeError(f"the program in CrewAI's interpreter ended ({self._process.wait()}):\n{last}")

    def ask(self, line: str) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)
        self._errors.close()


def _filled(text: str) -> str:
    return text.replace("{task_description}", TASK)


class Kickoffs(_Child):
    """The crew kicked off by CrewAI alone: one fresh crew per call."""

    def __init__(self, python: Path, variables: dict[str, str], *, base_url: str, api_key: str, model: str):
        crew = {
            "base_url": base_url,
            "api_key": api_key,
            "model": model,
            "members": [{**member, "goal": _filled(member["goal"])} for member in TEAM["members"]],
            "tasks": [{**task, "description": _filled(task["description"])} for task in TEAM["tasks"]],
        }
        command = [str(python), "-s", str(ROOT / "bench" / "crew_kickoff.py"), json.dumps(crew)]
        super().__init__(command, {**os.environ, **variables})
        self.import_s = float(self.read()["import_s"])
        self.builds: list[float] = []

    def __call__(self) -> float:
        done = self.ask("kickoff")
        assert done["outputs"] == [ANSWER] * TASKS, done["outputs"]
        self.builds.append(float(done["build_s"]))
        return float(done["kickoff_s"])


class Steps(_Child):
    """Runs recorded as the execute route records them, stepped in-process by `service.advance`
    in CrewAI's interpreter with CrewStepFunction's variables; each step's parts are kept."""

    def __init__(self, python: Path, runtime: LocalRuntime, user: str, team_id: str) -> None:
        spec = runtime.functions.specs[CREW_STEP]
        task_root = CREW_STEP_APP.parent
        environment = {
            **os.environ,
            **runtime.functions.variables(CREW_STEP),
            **lambda_variables(spec, task_root),
            "PYTHONPATH": os.pathsep.join(map(str, (task_root, *image_paths(ROOT)))),
        }
        command = [str(python), "-s", str(ROOT / "bench" / "crew_step.py"), str(CREW_STEP_APP)]
        super().__init__(command, environment, cwd=task_root)
        self.read()  # the handler is loaded
        self.user = user
        self.team_id = team_id
        self.parts: list[dict[str, list[float]]] = []

    def _record(self) -> UUID:
        definition = runnable_definition(self.user, self.team_id)
        plan = crew_pins.pin(Identity(sub=self.user), definition)
        with tenant_transaction(self.user) as conn:
            run_id = runs.insert_run(
                conn,
                user_id=self.user,
                framework=definition.framework,
                run_input={"task_description": TASK, "additional_context": {}},
                options={},
                idempotency_key=None,
                team_id=UUID(self.team_id),
                definition=plan,
            )
            assert run_id is not None
            conversations.insert(
                conn, user_id=self.user, team_id=UUID(self.team_id), run_id=run_id, task=TASK, context={}
            )
        return run_id

    def __call__(self) -> float:
        done = self.ask(f"{self._record()} {self.user}")
        assert done["status"] == "succeeded", done
        self.parts.append(done["parts"])
        return float(done["seconds"])


class Invocations:
    """How long each function's invocations take, recorded as the runtime makes them."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.spent: defaultdict[str, list[float]] = defaultdict(list)
        self._changed = threading.Condition()
        self._in_flight = 0
        invoke = runtime.functions.invoke

        def timed(name_or_arn: str, event: Any, *, wait_s: float = 0) -> Any:
            with self._changed:
                self._in_flight += 1
            started = time.perf_counter()
            try:
                return invoke(name_or_arn, event, wait_s=wait_s)
            finally:
                with self._changed:
                    self.spent[runtime.functions.resolve(name_or_arn)].append(time.perf_counter() - started)
                    self._in_flight -= 1
                    self._changed.notify_all()

        runtime.functions.invoke = timed  # type: ignore[method-assign]

    @contextmanager
    def counted(self) -> Iterator[dict[str, list[float]]]:
        """The invocations made inside the block, by function, once none is under way: a run is
        seen succeeded before its step's invocation returns, and the next run must find that
        step's environment idle, not start another."""
        with self._changed:
            self.spent.clear()
        during: dict[str, list[float]] = {}
        yield during
        with self._changed:
            if not self._changed.wait_for(lambda: self._in_flight == 0, timeout=30):
                raise RuntimeError("an invocation is still under way after 30 s")
            during.update({function_id: list(times) for function_id, times in self.spent.items()})


class ColdStarts(logging.Handler):
    """The init times that the runtime logs when a function's environment starts."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.init_ms: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = re.match(r"cold start (\w+) .*: init (\d+) ms", record.getMessage())
        if match:
            self.init_ms[match[1]] = float(match[2])


class WholePath:
    """The crew's run over HTTP, from the execute request until the run is seen succeeded."""

    def __init__(self, api: httpx.Client, headers: dict[str, str], team_id: str, invocations: Invocations):
        self.api = api
        self.headers = headers
        self.team_id = team_id
        self.invocations = invocations
        self.spent: list[dict[str, list[float]]] = []

    def __call__(self) -> float:
        with self.invocations.counted() as during:
            elapsed = self._run()
        self.spent.append(during)
        return elapsed

    def _run(self) -> float:
        started = time.perf_counter()
        answer = self.api.post(
            f"/api/v1/teams/{self.team_id}/execute", headers=self.headers, json={"task_description": TASK}
        )
        answer.raise_for_status()
        run_id = answer.json()["run_id"]
        while True:
            run = self.api.get(f"/api/v1/runs/{run_id}", headers=self.headers).json()
            if run["status"] == "succeeded":
                elapsed = time.perf_counter() - started
                assert [task["output"] for task in run["output"]["tasks_output"]] == [ANSWER] * TASKS, run
                return elapsed
            if run["status"] not in ("running", "queued"):
                raise RuntimeError(f"run {run_id} ended {run['status']}: {run.get('error')}")
            time.sleep(0.005)


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
    delay_s: float, samples: dict[str, list[float]], direct: Kickoffs, steps: Steps, whole: WholePath
):
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
    children: list[_Child] = []
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
                }
                for delay_s in (0.0, 0.2):
                    for way in ways.values():
                        model.script.then(*[Text(ANSWER)] * TASKS)
                        way()
                    alone.builds.clear()
                    steps.parts.clear()
                    whole.spent.clear()
                    samples = _interleaved(ways, model, delay_s)
                    _report(delay_s, samples, alone, steps, whole)
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


# ------------------------------------------------------------------------------ the image


def _image_packages(python: Path, into: Path, scratch: Path) -> None:
    """The lock's packages as the Dockerfile installs them, for Lambda's arm64."""
    requirements = scratch / "requirements.txt"
    lock = (ROOT / "requirements" / "crewai.lock").read_text(encoding="utf-8")
    requirements.write_text(
        "".join(line for line in lock.splitlines(keepends=True) if not PROVIDED.match(line))
    )
    uv = ROOT / ".venv" / "bin" / "uv"
    subprocess.run(
        [
            str(uv),
            "pip",
            "install",
            "--no-config",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--python",
            str(python),
            "--python-platform",
            LAMBDA_PLATFORM,
            "--compile-bytecode",
            "--target",
            str(into),
            "-r",
            str(requirements),
        ],
        check=True,
    )


def _image_package(python: Path, into: Path) -> None:
    """The auralink package as the Dockerfile copies it: configuration and SQL beside it, compiled."""
    package = into / "auralink"
    shutil.copytree(
        ROOT / "layers" / "core" / "auralink", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    for configuration in (ROOT / "shared" / "configs").glob("*.yaml"):
        shutil.copy(configuration, package / "config")
    for folder in ("migrations", "seeds"):
        shutil.copytree(ROOT / "infra" / "db" / folder, package / "db" / "sql" / folder)
    subprocess.run([str(python), "-m", "compileall", "-q", str(package)], check=True)


def _image_size() -> None:
    python = crew_python()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        _image_packages(python, scratch / "task", scratch)
        target = scratch / "task"
        packages = unzipped_size(target)
        parts = sorted(((unzipped_size(p), p.name) for p in target.iterdir() if p.is_dir()), reverse=True)
        installed = len(list(target.glob("*.dist-info")))
        _image_package(python, scratch / "ours")
        ours = unzipped_size(scratch / "ours")
    print(f"CrewStepFunction's /var/task, computed for {LAMBDA_PLATFORM} (the base image comes on top):")
    print(
        f"  {installed} packages of the lock (less boto3, botocore, s3transfer), with bytecode:"
        f" {packages / 1e6:.1f} MB"
    )
    print("  largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in parts[:8]))
    print(f"  the auralink package with its configuration and SQL, bytecode: {ours / 1e6:.2f} MB")


def main() -> None:
    _cold_import()
    _image_size()
    _runs()


if __name__ == "__main__":
    main()
