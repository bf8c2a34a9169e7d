"""What each way of exporting traces costs a Lambda function: the import and set-up at a cold
start, and the time an invocation spends handing its spans over.

- ``xray``: `auralink.tracing`'s recorder (`auralink.tracing_recorder`, on OpenTelemetry's API
  alone) and its exporter, X-Ray documents over UDP to the daemon Lambda runs;
- ``otlp``: the same recorder feeding OpenTelemetry's OTLP/HTTP exporter, as the ADOT collector
  layer (or any collector on localhost) is fed: the SDK's spans, protobuf and requests imported,
  one HTTP POST per flush;
- ``botocore``: what signing requests for X-Ray's own OTLP endpoint (SigV4) adds at import, for
  a function that reads no secret (one that does has botocore already).

Each cold figure is a fresh interpreter that has already imported what every function imports
(Powertools' HTTP resolver, psycopg), then imports `auralink.tracing` and sets tracing up
(`configure`): the marginal cost. Median of BENCH_SAMPLES (default 15). The export figures are
the median per invocation of 10 spans, ended and flushed as `tracing.invocation` does, with a UDP
sink and an HTTP sink on loopback (a collector's own work is not counted).
"""

from __future__ import annotations

import http.server
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "15"))

# psutil is in the development environment, not in the layer; OpenTelemetry's SDK (the OTLP path)
# imports it when it finds it (~8 ms): hidden, as on Lambda.
PRELUDE = """
import sys, time, os
sys.modules["psutil"] = None
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools import Logger, Metrics
import psycopg
t0 = time.perf_counter()
"""
COLD = {
    "xray": PRELUDE
    + """
os.environ["OTEL_TRACES_EXPORTER"] = "xray"
from auralink import tracing
tracing.configure()
print(time.perf_counter() - t0)
assert not [name for name in sys.modules if name.startswith("opentelemetry.sdk")], "the SDK was imported"
""",
    "otlp": PRELUDE
    + """
os.environ["OTEL_TRACES_EXPORTER"] = "otlp"
os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
from auralink import tracing
tracing.configure()
print(time.perf_counter() - t0)
""",
    "botocore": PRELUDE
    + """
import botocore.session, botocore.auth, botocore.awsrequest
print(time.perf_counter() - t0)
""",
}


def cold(name: str) -> float:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core")}
    result = subprocess.run(
        [sys.executable, "-c", COLD[name]], env=environment, capture_output=True, text=True, check=True
    )
    return float(result.stdout.split()[-1]) * 1000


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # the standard library's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def export_costs(invocations: int = 200) -> dict[str, float]:
    # On the path once main() runs.
    from auralink.tracing import OWN_TRACER  # noqa: PLC0415
    from auralink.tracing_exporters import OtlpExporter, XRayUdpExporter  # noqa: PLC0415
    from auralink.tracing_recorder import Exporter, OwnSpansProvider  # noqa: PLC0415

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://127.0.0.1:{server.server_port}/v1/traces"
    exporters: dict[str, Exporter] = {
        "xray": XRayUdpExporter(f"127.0.0.1:{udp.getsockname()[1]}"),
        "otlp": OtlpExporter(),
    }
    costs = {}
    for name, exporter in exporters.items():
        provider = OwnSpansProvider()
        provider.add_exporter(exporter)
        tracer = provider.get_tracer(OWN_TRACER)
        samples = []
        for _ in range(invocations):
            started = time.perf_counter()
            with tracer.start_as_current_span("invocation"):
                for _ in range(9):
                    with tracer.start_as_current_span(
                        "db transaction", attributes={"db.system.name": "postgresql"}
                    ):
                        pass
            provider.force_flush()
            samples.append((time.perf_counter() - started) * 1000)
        costs[name] = statistics.median(samples)
    server.shutdown()
    udp.close()
    return costs


def main() -> None:
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    figures: dict[str, list[float]] = {name: [] for name in COLD}
    for _ in range(SAMPLES):
        for name in COLD:
            figures[name].append(cold(name))
    print(f"tracing set-up at a cold start, marginal, median of {SAMPLES} ({sys.version.split()[0]}):")
    for name, values in figures.items():
        print(f"  {name:8s} {statistics.median(values):6.1f} ms")
    for name, value in export_costs().items():
        print(f"  export, one invocation of 10 spans, {name}: {value:.2f} ms")


if __name__ == "__main__":
    main()
