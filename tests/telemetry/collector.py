"""A loopback OTLP/HTTP metrics collector: decodes each ExportMetricsServiceRequest (protobuf,
opentelemetry-proto) and keeps its data points for the test to read."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)


class Collector:
    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.requests: list[ExportMetricsServiceRequest] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.url = ""

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> None:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        with self.changed:
            self.paths.append(path)
            self.headers.append(headers)
            self.requests.append(request)
            self.changed.notify_all()

    def wait_for(self, condition: Callable[[Collector], bool], timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: condition(self), timeout=timeout), "the collector never got the metrics"

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, histogram data point) of metric ``name`` in the latest export that has it
        (the SDK's default temporality is cumulative: the latest export holds the totals)."""
        for request in reversed(self.requests):
            found = self._points(request, name)
            if found:
                return found
        return []

    @staticmethod
    def _points(request: ExportMetricsServiceRequest, name: str) -> list[tuple[dict[str, Any], Any]]:
        found = []
        if True:
            for resource in request.resource_metrics:
                for scope in resource.scope_metrics:
                    for metric in scope.metrics:
                        if metric.name != name:
                            continue
                        for point in metric.histogram.data_points:
                            attributes = {a.key: _value(a.value) for a in point.attributes}
                            found.append((attributes, point))
        return found

    def units(self) -> dict[str, str]:
        return {m.name: m.unit for r in self.requests for rm in r.resource_metrics for s in rm.scope_metrics
                for m in s.metrics}

    def resource_attributes(self) -> dict[str, Any]:
        return {a.key: _value(a.value) for r in self.requests for rm in r.resource_metrics for a in rm.resource.attributes}


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


@contextmanager
def serve_collector() -> Iterator[Collector]:
    collector = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            collector.receive(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            answer = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    collector.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()
