"""The Lambda runtime inside one local execution environment (standard library only).

An environment is one process that serves one function, one invocation at a time, as Lambda's
Python runtime does: it initialises once (imports the handler's module, which is the cold start),
then loops, each time reading one invocation, calling the handler with a context, and writing the
result or the error in the shape Lambda reports. The parent (`infra.local.environments`) owns
timeouts, memory limits and the number of environments; a process it kills is simply gone.

It runs in two ways:
- forked from a template process (`python bootstrap.py --template <fd> <module> ...`, see
  `template_process`) that has imported the heavy libraries once; the child takes the function's
  environment variables and runs (`serve`);
- as a script in a clean interpreter (`python -S bootstrap.py <fd>`), with only the function's code
  folder and its layers on the path: how the built artifacts are tested.

Messages are JSON documents framed by `multiprocessing.connection.Connection` (a 4-byte length,
then the bytes). From the parent: `{"type": "invoke", "request_id", "event", "timeout_ms",
"function_arn"}`. To the parent: `{"type": "ready", "init_ms"}` or `{"type": "init_error", "error"}`
once, then `{"type": "result", "payload"}` (the result, already JSON text) or
`{"type": "error", "error"}` per invocation.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The context object a handler receives, with Lambda's attribute names."""

    def __init__(
        self,
        *,
        function_name: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        timeout_ms: int,
        aws_request_id: str | None = None,
        function_version: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[{function_version}]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(
    exc: BaseException, *, error_type: str | None = None, message: str | None = None
) -> dict[str, Any]:
    """What Lambda's Python runtime reports for an exception; Step Functions names the error by
    `errorType`. The stack holds the function's frames only, not this runtime's."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(frames),
    }


def _marshal(result: Any) -> str:
    # Lambda's runtime serialises the result as JSON and writes Decimals as numbers.
    def default(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return float(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    return json.dumps(result, default=default)


def load_handler(task_root: str, handler: str) -> Handler:
    """Import `module.function` with the function's code folder first on the path."""
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise _HandlerNotFound(f"Handler '{function_name}' missing on module '{module_name}'")
    return function  # type: ignore[no-any-return]


class _HandlerNotFound(Exception):
    pass


def _init_error(exc: BaseException, handler: str) -> dict[str, Any]:
    module_name = handler.rpartition(".")[0]
    if isinstance(exc, _HandlerNotFound):
        return error_payload(exc, error_type="Runtime.HandlerNotFound")
    if isinstance(exc, SyntaxError):
        return error_payload(exc, error_type="Runtime.UserCodeSyntaxError")
    if isinstance(exc, ImportError) and exc.name == module_name:
        return error_payload(exc, error_type="Runtime.ImportModuleError",
                             message=f"Unable to import module '{module_name}': {exc}")  # fmt: skip
    return error_payload(exc)


def _send(conn: Connection, message: Mapping[str, Any]) -> None:
    conn.send_bytes(json.dumps(message).encode("utf-8"))


def _run_setup(setup: Sequence[str]) -> None:
    # `module:function` names, called once the handler is loaded and before its first invocation,
    # so that they can replace what the handler's module put in place (tests install their own
    # agent executors this way).
    for name in setup:
        module_name, _, function_name = name.partition(":")
        getattr(importlib.import_module(module_name), function_name)()


def run(conn: Connection, *, task_root: str, handler: str, setup: Sequence[str] = ()) -> None:
    """Initialise, then serve invocations until the parent closes the connection."""
    started = time.perf_counter()
    try:
        function = load_handler(task_root, handler)
        _run_setup(setup)
    except BaseException as exc:  # an init failure of any kind is reported, as Lambda does
        _send(conn, {"type": "init_error", "error": _init_error(exc, handler)})
        return
    _send(conn, {"type": "ready", "init_ms": (time.perf_counter() - started) * 1000})
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
    memory_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    while True:
        try:
            invocation = json.loads(conn.recv_bytes())
        except EOFError:
            return
        context = LambdaContext(
            function_name=function_name,
            invoked_function_arn=invocation["function_arn"],
            memory_limit_in_mb=memory_mb,
            timeout_ms=invocation["timeout_ms"],
            aws_request_id=invocation["request_id"],
        )
        _send(conn, _invoke(function, invocation["event"], context))


def _invoke(function: Handler, event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        result = function(event, context)
    except Exception as exc:  # the handler's error is the invocation's answer
        error = error_payload(exc)
        error["requestId"] = context.aws_request_id
        return {"type": "error", "error": error}
    try:
        return {"type": "result", "payload": _marshal(result)}
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return {
            "type": "error",
            "error": error_payload(exc, error_type="Runtime.MarshalError", message=message),
        }
    finally:
        sys.stdout.flush()


def serve(conn: Connection, environment: Mapping[str, str], task_root: str, handler: str,
          setup: Sequence[str]) -> None:  # fmt: skip
    """Entry point of an environment forked from the template process: take the function's
    environment variables (and nothing of the template process's), then run."""
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(task_root)
    run(conn, task_root=task_root, handler=handler, setup=setup)


def template_process(control: socket.socket, preload: Sequence[str]) -> None:
    """Import ``preload``, then fork one environment per request until the parent goes away.

    A request is one JSON message `{"environment", "task_root", "handler", "setup"}` with the
    environment's end of its connection attached (SCM_RIGHTS); the answer is the child's pid.
    Children are reaped by the kernel (SIGCHLD ignored): the parent ends them by pid.
    """
    for name in preload:
        # One that cannot be imported here is imported (and fails) by the environment that needs it.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
        if not message:
            return  # the parent is gone
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                serve(Connection(fds[0]), request["environment"], request["task_root"], request["handler"],
                      request["setup"])  # fmt: skip
            except BaseException:  # the child must never return into the loop
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])
        control.send(json.dumps({"pid": pid}).encode("utf-8"))


def main(argv: Sequence[str]) -> int:
    """`python bootstrap.py --template <fd> <module> ...`: the template process on socket ``fd``.
    `python -S bootstrap.py <fd> [setup ...]`: one environment, whose variables are already the
    function's (`LAMBDA_TASK_ROOT`, `_HANDLER`, ...), on the connected socket ``fd``."""
    if argv[1] == "--template":
        template_process(socket.socket(fileno=int(argv[2])), argv[3:])
        return 0
    conn = Connection(int(argv[1]))
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    os.chdir(task_root)
    run(conn, task_root=task_root, handler=os.environ["_HANDLER"], setup=argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
