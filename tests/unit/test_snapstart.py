"""SnapStart: what a restored container resets (the runtime calls the registered hooks)."""

import importlib
import os
import subprocess
import sys

import snapshot_restore_py

from auralink import aws_json, db, secrets, snapstart
from tests.infra.template_support import ROOT
from tests.infra.test_cold_start_imports import IMPORT_ENVIRONMENT

# The start of a probe whose before-snapshot hooks must open nothing: every socket is recorded.
_WATCHING_SOCKETS = """import socket, sys, threading, snapshot_restore_py
opened = []
class Watched(socket.socket):
    def __init__(self, *args, **kwargs):
        opened.append(args)
        super().__init__(*args, **kwargs)
socket.socket = Watched
"""


def test_restore_hooks_reset_the_connection_the_secrets_and_random():
    importlib.reload(snapstart)
    hooks = {(hook.__module__, hook.__name__) for hook, *_ in snapshot_restore_py.get_after_restore()}

    assert (db.reset_connection.__module__, "reset_connection") in hooks
    assert (secrets.reset_caches.__module__, "reset_caches") in hooks
    # Credentials from the container endpoint may have expired since the snapshot.
    assert (aws_json.__name__, "forget_credentials") in hooks
    assert ("auralink.snapstart", "_reseed_random") in hooks


def test_the_run_step_loads_autogen_before_the_snapshot_not_at_init():
    # In a fresh interpreter: importing the step loads no AutoGen; the hook it registers does.
    probe = """
import sys, snapshot_restore_py, runpy
runpy.run_path("functions/steps/run_step/app.py")
assert "autogen_agentchat" not in sys.modules
for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
    hook(*args, **kwargs)
assert "autogen_agentchat" in sys.modules
"""
    environment = {**os.environ, **IMPORT_ENVIRONMENT}
    subprocess.run([sys.executable, "-c", probe], env=environment, cwd=ROOT, check=True)


def test_tracing_loads_its_recorder_before_the_snapshot_and_opens_nothing():
    # The snapshot is cloned into every restored container: a socket or a thread opened before it
    # would be shared by all of them. OpenTelemetry's SDK is not needed, so not loaded either.
    probe = (
        _WATCHING_SOCKETS
        + """
from auralink import tracing
for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
    hook(*args, **kwargs)
assert {"auralink.tracing_recorder", "auralink.tracing_exporters"} <= set(sys.modules)
assert not [name for name in sys.modules if name.startswith("opentelemetry.sdk")]
assert opened == [] and threading.active_count() == 1
"""
    )
    environment = {**os.environ, **IMPORT_ENVIRONMENT, "OTEL_TRACES_EXPORTER": "xray"}
    subprocess.run([sys.executable, "-c", probe], env=environment, cwd=ROOT, check=True)


def test_the_secrets_client_is_loaded_before_the_snapshot_and_opens_nothing():
    # A restored function reads its database's secret at its first request: the client is in the
    # snapshot, and nothing it could share with other restored containers is open.
    probe = (
        _WATCHING_SOCKETS
        + """
from auralink import secrets
assert "auralink.aws_json" not in sys.modules
for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
    hook(*args, **kwargs)
assert "auralink.aws_json" in sys.modules
assert opened == [] and threading.active_count() == 1
"""
    )
    environment = {**os.environ, **IMPORT_ENVIRONMENT}
    subprocess.run([sys.executable, "-c", probe], env=environment, cwd=ROOT, check=True)
