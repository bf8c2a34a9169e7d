"""The template's functions, loaded and invoked in this process as Lambda would run them.

Every handler file is called `app.py`, so each is imported by path under a module name of its own.
A function is imported on its first invocation, like a cold start (its duration is logged), and
stays loaded: later invocations are warm. Invocations run concurrently on the caller's thread;
only the import itself is serialised. The service's logger is shared by every function here, so
its per-invocation keys are cleared after each invocation.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auralink.observability import logger
from infra.template import FunctionSpec

log = logging.getLogger("infra.local.lambdas")

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
_ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"

Handler = Callable[[Any, Any], Any]


class UnknownFunction(LookupError):
    """No function of the template has this name or ARN."""


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


@dataclass
class LambdaContext:
    """The context object a handler receives, with Lambda's attribute names."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"local/[{self.function_version}]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed_ms = (time.monotonic() - self._started) * 1000
        return max(0, int(self.timeout_s * 1000 - elapsed_ms))


class LocalFunctions:
    """The functions of one template, by logical id, under ``root`` (where CodeUri paths start)."""

    def __init__(self, root: Path, specs: Iterable[FunctionSpec]) -> None:
        self.root = root
        self.specs = {spec.logical_id: spec for spec in specs}
        self._handlers: dict[str, Handler] = {}
        self._load_lock = threading.Lock()

    def resolve(self, name_or_arn: str) -> str:
        """The logical id behind a function name or ARN."""
        name = function_name_from(name_or_arn)
        if name not in self.specs:
            raise UnknownFunction(f"no function named {name!r} in the template")
        return name

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """Run the function's handler on ``event`` and return its result (exceptions propagate)."""
        function_id = self.resolve(name_or_arn)
        spec = self.specs[function_id]
        handler = self.handler(function_id)
        context = LambdaContext(
            function_name=function_id,
            invoked_function_arn=function_arn(function_id, spec.auto_publish_alias),
            memory_limit_in_mb=spec.memory_size,
            timeout_s=spec.timeout,
        )
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            # Each function has containers of its own in Lambda: the keys an invocation put on the
            # shared logger (its context, correlation id, caller) must not label the next one's logs.
            logger.clear_state()
            elapsed_s = time.perf_counter() - started
            if elapsed_s > spec.timeout:
                # Threads cannot be stopped from outside: the overrun is reported, not enforced.
                log.warning("%s ran %.1f s, beyond its timeout of %d s", function_id, elapsed_s, spec.timeout)

    def handler(self, function_id: str) -> Handler:
        """The function's handler, imported on first use."""
        handler = self._handlers.get(function_id)
        if handler is not None:
            return handler
        with self._load_lock:
            handler = self._handlers.get(function_id)
            if handler is None:
                handler = self._load(self.specs[function_id])
                self._handlers[function_id] = handler
        return handler

    def unload(self) -> None:
        """Forget every loaded handler: the next invocation is a cold start again."""
        with self._load_lock:
            for function_id in self._handlers:
                sys.modules.pop(_module_name(function_id), None)
            self._handlers.clear()

    def _load(self, spec: FunctionSpec) -> Handler:
        path = (self.root / spec.code_uri / spec.module_path).resolve()
        module_name = _module_name(spec.logical_id)
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise UnknownFunction(f"{spec.logical_id}: cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        # Registered before execution so that models defined in the module can find it by name.
        sys.modules[module_name] = module
        started = time.perf_counter()
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            # Like a failed Lambda init: nothing is kept, the next invocation tries again.
            sys.modules.pop(module_name, None)
            raise
        handler = getattr(module, spec.handler_name, None)
        if not callable(handler):
            sys.modules.pop(module_name, None)
            raise UnknownFunction(f"{spec.logical_id}: {path} has no callable {spec.handler_name!r}")
        log.info(
            "cold start %s: handler loaded in %.0f ms",
            spec.logical_id,
            (time.perf_counter() - started) * 1000,
        )
        return handler  # type: ignore[no-any-return]


def _module_name(function_id: str) -> str:
    return f"auralink_local_function_{function_id}"
