"""The crew of bench/crew_runs.py run with CrewAI alone: `Crew(...).kickoff()`, nothing saved.

Run by that benchmark in CrewAI's own interpreter (`.venv-crewai`; the main environment has no
CrewAI): `python bench/crew_kickoff.py '<json>'` with the crew's texts already filled, the model's
base URL, key and name. It prints `result <json>` with CrewAI's import time, then builds and kicks
off a fresh crew for every line it reads and prints `result <json>`: how long the construction and
the kickoff took, and each task's output.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

started = time.perf_counter()
from crewai import LLM, Agent, Crew, Process, Task  # noqa: E402  # its import is measured

IMPORT_S = time.perf_counter() - started


def build(spec: dict[str, Any]) -> Crew:
    # As the crew step builds a member (auralink.agents.crewai.crew): one model client, no retries
    # in the client or the agent, the same bound on iterations.
    llm = LLM(
        model=spec["model"], base_url=spec["base_url"], api_key=spec["api_key"], timeout=60, max_retries=0
    )
    agents = {
        member["name"]: Agent(
            role=member["role"],
            goal=member["goal"],
            backstory=member["backstory"],
            llm=llm,
            allow_delegation=False,
            max_iter=15,
            max_retry_limit=0,
            verbose=False,
        )
        for member in spec["members"]
    }
    tasks = [
        Task(
            name=task["name"],
            description=task["description"],
            expected_output=task["expected_output"],
            agent=agents[task["agent"]],
        )
        for task in spec["tasks"]
    ]
    return Crew(
        agents=list(agents.values()), tasks=tasks, process=Process.sequential, memory=False, verbose=False
    )


def main() -> None:
    spec = json.loads(sys.argv[1])
    print("result " + json.dumps({"import_s": IMPORT_S}), flush=True)
    for _ in sys.stdin:
        began = time.perf_counter()
        crew = build(spec)
        built = time.perf_counter()
        result = crew.kickoff()
        done = time.perf_counter()
        answer = {
            "build_s": built - began,
            "kickoff_s": done - built,
            "outputs": [output.raw for output in result.tasks_output],
        }
        print("result " + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
