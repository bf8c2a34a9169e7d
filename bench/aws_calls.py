"""A function's first call to AWS, as the service makes it (one signed POST over the standard
library, `auralink.aws_json`) against the way it did before, in one run: a secret read
(`auralink.secrets`; before, Powertools' parameters utility over boto3), a run's start
(`auralink.agents.runs.orchestrator`; before, a boto3 Step Functions client) and a Bedrock
Converse call (`aws_json.post`, as `auralink.llm.providers.bedrock` makes it; before, a boto3
``bedrock-runtime`` client).

Each sample is a fresh interpreter on the core layer as `make build-CoreLayer` builds it, beside a
stand-in for the runtime's boto3 (as `bench/cold_start.py`). It first loads what a function that
reads the database has loaded by then (Powertools' resolver, psycopg, the settings, logging and
metrics); then the clock runs over the first call (imports, client, the call), and over a second
one (the call alone: a read that skips the cache, as when a rotated password is fetched again; the
start of another execution; another Converse call). AWS is moto's server on loopback, and Bedrock
(which moto lacks) a server on loopback that gives every call the same answer, over plain HTTP:
on AWS, both ways add a TLS handshake to the first call, and the SDK keeps its connection for the
next ones. Medians of BENCH_SAMPLES (default 15), the variants alternating.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from bench.cold_start import SAMPLES, Runner, _sample
from tests.packaging.artifacts import base_interpreter, build_layers, runtime_stand_in

SECRET_ID = "bench/database"
MACHINE_NAME = "bench-run"

_LOADED = """
import time
import psycopg
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from auralink import observability, settings
settings.get_settings()
T0 = time.perf_counter()
"""
_REPORT = "T2 = time.perf_counter()\nprint(T1 - T0, T2 - T1)\n"

VARIANTS = {
    "service (auralink.aws_json)": _LOADED
    + "from auralink import secrets\n"
    + f"assert secrets.get_secret_string({SECRET_ID!r})\n"
    + "T1 = time.perf_counter()\n"
    + f"secrets.get_secret_string({SECRET_ID!r}, force_fetch=True)\n"
    + _REPORT,
    "before (Powertools parameters, boto3)": _LOADED
    + "from aws_lambda_powertools.utilities import parameters\n"
    + f"assert parameters.get_secret({SECRET_ID!r})\n"
    + "T1 = time.perf_counter()\n"
    + f"parameters.get_secret({SECRET_ID!r}, force_fetch=True)\n"
    + _REPORT,
    "run start, service (auralink.aws_json)": _LOADED
    + "import uuid\n"
    + "from auralink.agents.runs import orchestrator\n"
    + "orchestrator.start_execution(str(uuid.uuid4()), {'run_id': 'r'})\n"
    + "T1 = time.perf_counter()\n"
    + "orchestrator.start_execution(str(uuid.uuid4()), {'run_id': 'r'})\n"
    + _REPORT,
    "run start, before (boto3 client)": _LOADED
    + "import json, os, uuid\n"
    + "import boto3\n"
    + "client = boto3.client('stepfunctions')\n"
    + "start = dict(stateMachineArn=os.environ['RUN_STATE_MACHINE_ARN'], input=json.dumps({'run_id': 'r'}))\n"
    + "client.start_execution(name=str(uuid.uuid4()), **start)\n"
    + "T1 = time.perf_counter()\n"
    + "client.start_execution(name=str(uuid.uuid4()), **start)\n"
    + _REPORT,
    "Bedrock, service (auralink.aws_json)": _LOADED
    + "from auralink import aws_json\n"
    + "path = '/model/us.meta.llama3-3-70b-instruct-v1%3A0/converse'\n"
    + "body = {'messages': [{'role': 'user', 'content': [{'text': 'hi'}]}]}\n"
    + "aws_json.post(aws_json.BEDROCK_RUNTIME, path, body, timeout_s=10)\n"
    + "T1 = time.perf_counter()\n"
    + "aws_json.post(aws_json.BEDROCK_RUNTIME, path, body, timeout_s=10)\n"
    + _REPORT,
    "Bedrock, before (boto3 client)": _LOADED
    + "import boto3\n"
    + "client = boto3.client('bedrock-runtime')\n"
    + "call = dict(modelId='us.meta.llama3-3-70b-instruct-v1:0')\n"
    + "messages = [{'role': 'user', 'content': [{'text': 'hi'}]}]\n"
    + "client.converse(messages=messages, **call)\n"
    + "T1 = time.perf_counter()\n"
    + "client.converse(messages=messages, **call)\n"
    + _REPORT,
}
_CONVERSE_ANSWER = json.dumps(
    {
        "output": {"message": {"role": "assistant", "content": [{"text": "hello"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
        "metrics": {"latencyMs": 1},
    }
).encode()


class _Converse(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_CONVERSE_ANSWER)))
        self.end_headers()
        self.wfile.write(_CONVERSE_ANSWER)

    def log_message(self, *args: object) -> None:
        pass


# A state machine that waits: moto records its executions and runs nothing.
_MACHINE = '{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": true}}}'


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
    }
    bedrock = ThreadingHTTPServer(("127.0.0.1", 0), _Converse)
    threading.Thread(target=bedrock.serve_forever, daemon=True).start()
    endpoint["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = f"http://127.0.0.1:{bedrock.server_address[1]}"
    os.environ.update(endpoint)
    try:
        with mock_aws(), tempfile.TemporaryDirectory() as folder:
            boto3.client("secretsmanager").create_secret(
                Name=SECRET_ID, SecretString="postgresql://app:password@db.internal:5432/auralink"
            )
            os.environ["RUN_STATE_MACHINE_ARN"] = boto3.client("stepfunctions").create_state_machine(
                name=MACHINE_NAME, definition=_MACHINE, roleArn="arn:aws:iam::123456789012:role/bench"
            )["stateMachineArn"]
            layers = build_layers(("CoreLayer",), Path(folder) / "layers")
            runner = Runner(base_interpreter(), layers, runtime_stand_in(Path(folder) / "runtime"))
            report(runner)
    finally:
        server.stop()
        bedrock.shutdown()


def report(runner: Runner) -> None:
    for name, program in VARIANTS.items():  # warms the file cache; not recorded
        _sample(runner, name, program)
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in VARIANTS}
    for _ in range(SAMPLES):
        for name, program in VARIANTS.items():
            runs[name].append(_sample(runner, name, program))
    print(f"a first call to AWS in a fresh interpreter, median of {SAMPLES}:")
    print(f"  {'variant':40s} {'first call':>11s} {'a later call':>13s}")
    for name, samples in runs.items():
        first = statistics.median(sample[0] for sample in samples) * 1000
        later = statistics.median(sample[1] for sample in samples) * 1000
        print(f"  {name:40s} {first:8.1f} ms {later:10.1f} ms")


if __name__ == "__main__":
    main()
