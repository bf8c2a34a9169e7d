"""The template's functions, invoked as Lambda invokes them: one invocation at a time per environment.

Each function has a pool of execution environments (`infra.local.environments`). An invocation
takes an idle environment (warm), or starts a new one (a cold start, logged with its init time) while
the function has fewer than its concurrency limit: the template's `ReservedConcurrentExecutions`,
else `DEFAULT_CONCURRENCY`. Past the limit a synchronous invocation is throttled (`TooManyRequests`,
which API Gateway answers with 429); callers that Lambda would retry for (Step Functions tasks,
asynchronous invocations, schedules) wait for an environment instead. Environments idle for
`idle_timeout_s` are shut down, as Lambda reclaims them.

Changing a function's configuration (`update_environment`) applies to the environments started
afterwards; those already running finish their invocation and retire, as after
`aws lambda update-function-configuration`.

An image function (CrewStepFunction) runs in the interpreter of its own environment
(`infra.local.images`), built artifacts or not: there is no image to run without Docker.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.environments import (
    Environment,
    EnvironmentSpec,
    FunctionError,
    InterpreterLauncher,
    Launcher,
    shared_fork_launcher,
)
from infra.local.images import image_environment, image_paths
from infra.template import FunctionSpec

log = logging.getLogger("infra.local.lambdas")

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PYTHON_RUNTIME = "python3.13"
DEFAULT_CONCURRENCY = 10
IDLE_TIMEOUT_S = 600
_ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"

__all__ = ["FunctionError", "LocalFunctions", "TooManyRequests", "UnknownFunction"]


class UnknownFunction(LookupError):
    """No function of the template has this name or ARN."""


class TooManyRequests(Exception):
    """Every environment the function may have is busy (Lambda's TooManyRequestsException)."""


@dataclass(frozen=True)
class BuiltArtifacts:
    """Functions and layers as a build lays them out, run in a clean interpreter instead of this
    project's virtualenv: each environment sees its code folder, its layers' `python` folders and
    the libraries Lambda's runtime provides, and nothing else. An image function with a folder in
    ``image_roots`` (its task root as its Dockerfile lays it out: `infra.local.dockerfile`) runs
    from it, in its environment's interpreter."""

    interpreter: Path
    function_roots: Mapping[str, Path]  # function id -> its built code folder
    layer_roots: Mapping[str, Path]  # layer logical id -> the folder holding its `python/`
    runtime_paths: tuple[Path, ...] = ()  # what Lambda's runtime brings (boto3, botocore)
    image_roots: Mapping[str, Path] = field(default_factory=dict)  # function id -> its /var/task

    def paths(self, spec: FunctionSpec) -> tuple[Path, ...]:
        return (*(self.layer_roots[layer] / "python" for layer in spec.layers), *self.runtime_paths)

    def local_path(self, value: str, function_id: str) -> str:
        """A path under `/opt` (where Lambda mounts the layers, merged) as a built layer holds it,
        one under `/var/task` as the function's built image root holds it; any other value as it is."""
        if value.startswith("/var/task/") and function_id in self.image_roots:
            return str(self.image_roots[function_id] / value.removeprefix("/var/task/"))
        if not value.startswith("/opt/"):
            return value
        relative = value.removeprefix("/opt/")
        for root in self.layer_roots.values():
            if (root / relative).exists():
                return str(root / relative)
        return value


def function_arn(function_id: str, qualifier: str | None = None) -> str:
    """The local ARN of a function: its logical id is its name."""
    return _ARN_PREFIX + function_id + (f":{qualifier}" if qualifier else "")


def function_name_from(name_or_arn: str) -> str:
    """The function name in a name, a partial ARN (`123:function:Name`) or a full ARN, with or without
    a qualifier (version or alias)."""
    parts = name_or_arn.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def lambda_variables(spec: FunctionSpec, task_root: Path) -> dict[str, str]:
    """The variables Lambda itself sets in every environment of the function."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{PYTHON_RUNTIME}",
        # What `sam local` sets: libraries that behave differently on Lambda (Powertools' tracer)
        # know this is not the real service.
        "AWS_SAM_LOCAL": "true",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
    }


class _Pool:
    """The environments of one function."""

    def __init__(self, spec: FunctionSpec, launcher: Launcher, limit: int) -> None:
        self.spec = spec
        self.limit = limit
        self._launcher = launcher
        self._changed = threading.Condition()
        self._idle: list[Environment] = []
        self._count = 0  # environments alive or starting
        self._numbers = itertools.count(1)
        self._environment_spec: EnvironmentSpec | None = None

    def configure(self, environment_spec: EnvironmentSpec) -> None:
        """Environments started from now on are made from ``environment_spec``; idle ones retire."""
        with self._changed:
            self._environment_spec = environment_spec
            retired, self._idle = self._idle, []
            self._count -= len(retired)
            self._changed.notify_all()
        for environment in retired:
            environment.close()

    @property
    def size(self) -> int:
        with self._changed:
            return self._count

    def acquire(self, *, wait_s: float) -> Environment:
        deadline = time.monotonic() + wait_s
        with self._changed:
            while True:
                if self._environment_spec is None:
                    raise RuntimeError(f"{self.spec.logical_id} has no environment configured yet")
                if self._idle:
                    return self._idle.pop()  # the most recently used: warmest
                if self._count < self.limit:
                    self._count += 1
                    environment_spec, number = self._environment_spec, next(self._numbers)
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TooManyRequests(
                        f"{self.spec.logical_id} is at its concurrency limit of {self.limit}"
                    )
                self._changed.wait(left)
        return self._start(environment_spec, number)

    def _start(self, environment_spec: EnvironmentSpec, number: int) -> Environment:
        started = time.perf_counter()
        try:
            environment = Environment(environment_spec, self._launcher, number)
            init_ms = environment.initialise()
        except BaseException:
            self._forget_one()
            raise
        log.info(
            "cold start %s (environment %d, %d of %d running): init %.0f ms, ready in %.0f ms",
            self.spec.logical_id, number, self.size, self.limit, init_ms,
            (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        return environment

    def release(self, environment: Environment) -> None:
        with self._changed:
            current = environment.alive and environment.spec is self._environment_spec
            if current:
                self._idle.append(environment)
                self._changed.notify()
                return
        self._forget_one()
        environment.close()

    def reap(self, idle_before: float) -> None:
        """Shut down the environments idle since before ``idle_before`` (monotonic time)."""
        with self._changed:
            stale = [environment for environment in self._idle if environment.last_used < idle_before]
            self._idle = [environment for environment in self._idle if environment not in stale]
            self._count -= len(stale)
            self._changed.notify_all()
        for environment in stale:
            log.info("%s environment %d shut down after being idle", self.spec.logical_id, environment.number)
            environment.close()

    def close(self) -> None:
        with self._changed:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._environment_spec = None
        for environment in idle:
            environment.close()

    def _forget_one(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify()


class LocalFunctions:
    """The functions of one template, by logical id, with their code under ``root`` (CodeUri), or
    the built ``artifacts`` when given. ``setup`` names `module:function`s that every environment
    of a zip function calls once its handler is loaded; an image function's environment, which
    holds none of this project's modules but the auralink package, calls none."""

    def __init__(
        self,
        root: Path,
        specs: Iterable[FunctionSpec],
        *,
        artifacts: BuiltArtifacts | None = None,
        setup: Iterable[str] = (),
        default_concurrency: int = DEFAULT_CONCURRENCY,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.root = root
        self.specs = {spec.logical_id: spec for spec in specs}
        self._artifacts = artifacts
        zip_launcher: Launcher = (
            shared_fork_launcher() if artifacts is None else InterpreterLauncher(artifacts.interpreter)
        )
        self._setup = tuple(setup)
        self._variables: dict[str, dict[str, str]] = {}
        self._pools = {
            function_id: _Pool(
                spec,
                zip_launcher if spec.image is None else self._image_launcher(spec),
                spec.reserved_concurrency or default_concurrency,
            )
            for function_id, spec in self.specs.items()
        }
        self._idle_timeout_s = idle_timeout_s
        self._stop_reaper = threading.Event()
        self._reaper: threading.Thread | None = None

    def resolve(self, name_or_arn: str) -> str:
        """The logical id behind a function name or ARN."""
        name = function_name_from(name_or_arn)
        if name not in self.specs:
            raise UnknownFunction(f"no function named {name!r} in the template")
        return name

    def task_root(self, function_id: str) -> Path:
        spec = self.specs[function_id]
        if self._artifacts is not None and spec.image is None:
            return self._artifacts.function_roots[function_id]
        if self._artifacts is not None and function_id in self._artifacts.image_roots:
            return self._artifacts.image_roots[function_id]
        return (self.root / spec.code_uri).resolve()

    def configure(self, variables: Mapping[str, Mapping[str, str]]) -> None:
        """Give each function its environment variables (the template's, resolved locally); the
        variables Lambda sets itself are added here."""
        for function_id in self.specs:
            self._variables[function_id] = dict(variables.get(function_id, {}))
            self._apply(function_id)
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="local-lambda-reaper", daemon=True)
            self._reaper.start()

    def update_environment(self, function_id: str, changes: Mapping[str, str | None]) -> None:
        """Change some of a function's variables (None removes one), as a configuration update does."""
        variables = self._variables[self.resolve(function_id)]
        for name, value in changes.items():
            if value is None:
                variables.pop(name, None)
            else:
                variables[name] = value
        self._apply(function_id)

    def variables(self, function_id: str) -> dict[str, str]:
        """The function's own variables, as configured (without those Lambda adds)."""
        return dict(self._variables[self.resolve(function_id)])

    def environment_count(self, function_id: str) -> int:
        """How many environments the function has now, busy or idle."""
        return self._pools[self.resolve(function_id)].size

    def invoke(self, name_or_arn: str, event: Any, *, wait_s: float = 0) -> Any:
        """Run the function on ``event`` in one of its environments and return the result.

        Raises `FunctionError` when the function fails (an exception, a timeout, memory), and
        `TooManyRequests` when no environment frees up within ``wait_s`` seconds.
        """
        function_id = self.resolve(name_or_arn)
        pool = self._pools[function_id]
        environment = pool.acquire(wait_s=wait_s)
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            return environment.invoke(
                event,
                request_id=request_id,
                function_arn=function_arn(function_id, self.specs[function_id].auto_publish_alias),
            )
        finally:
            # Lambda's REPORT line: the invocation in its environment, without the way in (HTTP,
            # the state machine) and the wait for an environment.
            duration_ms = (time.perf_counter() - started) * 1000
            pool.release(environment)
            log.debug(
                "REPORT %s RequestId: %s Duration: %.2f ms", function_id, request_id, duration_ms,
                extra={"function_id": function_id, "duration_ms": duration_ms},
            )  # fmt: skip

    def unload(self) -> None:
        """Shut every environment down: the next invocation is a cold start again."""
        self._stop_reaper.set()
        for pool in self._pools.values():
            pool.close()

    def _apply(self, function_id: str) -> None:
        spec = self.specs[function_id]
        task_root = self.task_root(function_id)
        self._pools[function_id].configure(
            EnvironmentSpec(
                function_id=function_id,
                task_root=task_root,
                handler=spec.handler,
                environment={**self._variables[function_id], **lambda_variables(spec, task_root)},
                timeout_s=spec.timeout,
                memory_mb=spec.memory_size,
                setup=self._setup if spec.image is None else (),
                paths=self._paths(spec),
            )
        )

    def _paths(self, spec: FunctionSpec) -> tuple[Path, ...]:
        if spec.image is not None:
            if self._artifacts is not None and spec.logical_id in self._artifacts.image_roots:
                return ()  # the built image root holds the package, as /var/task does
            return image_paths(self.root.resolve())
        return () if self._artifacts is None else self._artifacts.paths(spec)

    def _image_launcher(self, spec: FunctionSpec) -> Launcher:
        environment = image_environment(spec)
        return InterpreterLauncher(
            environment.interpreter(self.root.resolve()),
            site_packages=True,
            missing=f"Create its environment with `make {environment.make_target}`.",
        )

    def _reap(self) -> None:
        while not self._stop_reaper.wait(min(30.0, self._idle_timeout_s)):
            idle_before = time.monotonic() - self._idle_timeout_s
            for pool in self._pools.values():
                pool.reap(idle_before)
