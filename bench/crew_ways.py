"""The crew that bench/crew_runs.py measures, and the ways it runs it: kicked off by CrewAI alone
(bench/crew_kickoff.py, in CrewAI's interpreter), stepped in-process (bench/crew_step.py, likewise),
and over HTTP through the local runtime; with what the runtime's functions spend on each run."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
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
from infra.local.images import image_paths
from infra.local.lambdas import lambda_variables
from infra.local.runtime import LocalRuntime
from tests.support.crew import CREW_STEP

ROOT = Path(__file__).resolve().parents[1]
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


class Child:
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


class Kickoffs(Child):
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


class Steps(Child):
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

    def __init__(
        self,
        api: httpx.Client,
        headers: dict[str, str],
        team_id: str,
        invocations: Invocations,
        *,
        poll_s: float = 0.005,
    ) -> None:
        self.api = api
        self.headers = headers
        self.team_id = team_id
        self.invocations = invocations
        self.poll_s = poll_s
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
            time.sleep(self.poll_s)
