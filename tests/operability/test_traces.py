"""OpenTelemetry traces: the span tree of a request over two sources (in the SDK's in-memory
exporter), the caller's traceparent continued and passed on to the upstreams, retry, renewed
token and coalesced-read spans, trace ids in log lines, nothing at all when tracing is off, and
a real OTLP/HTTP export to a collector."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from jobgate.config import ConfigError, ServerSettings, Settings, TelemetrySettings, parse_settings
from jobgate.simulators.faults import Fault
from jobgate.simulators.suite import build_vendors
from tests.harness import app_over_faults, gateway
from tests.operability.test_logs import captured_logs
from tests.operability.test_logs import lines as logged

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
QUERY = "query JobsOfTwo($ids: [ID!]!) { jobs(ids: $ids) { id status } }"
INGEST = "ingest:7505e000001NLkPAAW"
IDS = [INGEST, "hub:6161"]
NATIVE_IDS = ("7505e000001NLkPAAW", "6161")
SOURCE = '[sources.a]\nprovider = "content-hub"\nbase_url = "https://a.example.com"\ntoken = "t"\n'


def kind(spans: tuple[ReadableSpan, ...], wanted: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind is wanted]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_request_over_two_sources_is_one_trace_from_the_caller_to_the_upstreams() -> None:
    exporter = InMemorySpanExporter()
    with captured_logs() as out:
        async with gateway(span_exporter=exporter) as gw:
            await gw.gql(QUERY, {"ids": IDS})  # the sources' tokens, fetched
            exporter.clear()
            ingest_saw = gw.record_header("ingest", "traceparent")
            hub_saw = gw.record_header("hub", "traceparent")
            body = await gw.gql(QUERY, {"ids": IDS}, traceparent=TRACEPARENT)
    assert [job["id"] for job in body["data"]["jobs"]] == IDS
    spans = exporter.get_finished_spans()
    [server] = kind(spans, SpanKind.SERVER)
    assert server.name == "query JobsOfTwo"
    assert server.context is not None and server.parent is not None
    assert f"{server.context.trace_id:032x}" == CALLER_TRACE  # the caller's trace, continued
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN and server.parent.is_remote
    assert attrs(server) == {
        "http.request.method": "POST",
        "url.path": "/graphql",
        "graphql.operation.type": "query",
        "graphql.operation.name": "JobsOfTwo",
        "jobgate.request_id": attrs(server)["jobgate.request_id"],
        "http.response.status_code": 200,
    }
    calls = sorted(kind(spans, SpanKind.CLIENT), key=lambda s: attrs(s)["jobgate.source"])
    assert [(c.name, attrs(c)) for c in calls] == [
        (
            "GET /api/fetchjobs/{id}",
            {
                "http.request.method": "GET",
                "url.template": "/api/fetchjobs/{id}",
                "server.address": "simulators.test",
                "jobgate.source": "hub",
                "jobgate.operation": "read",
                "http.response.status_code": 200,
            },
        ),
        (
            "GET /api/v1/ingest/jobs/{id}",
            {
                "http.request.method": "GET",
                "url.template": "/api/v1/ingest/jobs/{id}",
                "server.address": "simulators.test",
                "jobgate.source": "ingest",
                "jobgate.operation": "read",
                "http.response.status_code": 200,
            },
        ),
    ]
    for call in calls:
        assert call.parent is not None and call.context is not None
        assert call.parent.span_id == server.context.span_id
        assert call.context.trace_id == server.context.trace_id
    # Each upstream was told the trace, with its own call's span as the parent.
    hub_call, ingest_call = calls
    assert hub_saw == [f"00-{CALLER_TRACE}-{hub_call.context.span_id:016x}-01"]  # type: ignore[union-attr]
    assert ingest_saw == [f"00-{CALLER_TRACE}-{ingest_call.context.span_id:016x}-01"]  # type: ignore[union-attr]
    # Ids (the variables' values) name no span and are in no attribute.
    for span in spans:
        text = span.name + repr(attrs(span))
        assert not any(native in text for native in NATIVE_IDS), text
    # Every line logged inside the request carries its trace.
    traced = [
        line
        for line in logged(out)
        if line.get("request_id") == attrs(server)["jobgate.request_id"]
    ]
    assert {line["message"] for line in traced} >= {"graphql request", "upstream call"}
    assert {line["trace_id"] for line in traced} == {CALLER_TRACE}


async def test_a_request_that_joins_a_read_in_flight_gets_a_coalesced_span() -> None:
    exporter = InMemorySpanExporter()
    async with gateway(span_exporter=exporter) as gw:
        await gw.gql(QUERY, {"ids": [INGEST]})  # the token, fetched
        exporter.clear()
        gw.faults["ingest"].add(Fault("GET", r".*/ingest/jobs/.*", "delay", delay=0.3))
        first = asyncio.create_task(gw.gql(QUERY, {"ids": [INGEST]}))
        await asyncio.sleep(0.1)  # the first request's read is in flight: the second joins it
        await asyncio.gather(first, gw.gql(QUERY, {"ids": [INGEST]}))
        coalesced = exporter.get_finished_spans()
    [read] = kind(coalesced, SpanKind.CLIENT)  # one upstream read for both requests
    [joined] = [s for s in coalesced if s.name == "coalesced read"]
    assert attrs(joined) == {
        "jobgate.source": "ingest",
        "jobgate.coalesced": True,
        "jobgate.ids": 1,
    }
    servers = kind(coalesced, SpanKind.SERVER)
    assert len(servers) == 2
    assert joined.parent is not None and read.parent is not None
    assert {joined.parent.span_id, read.parent.span_id} == {
        s.context.span_id for s in servers if s.context is not None
    }


def find_calls(spans: tuple[ReadableSpan, ...], source: str) -> list[dict[str, Any]]:
    return [attrs(s) for s in kind(spans, SpanKind.CLIENT) if attrs(s)["jobgate.source"] == source]


async def test_a_retry_and_a_token_renewal_are_attributes_of_their_calls() -> None:
    exporter = InMemorySpanExporter()
    async with gateway(span_exporter=exporter) as gw:
        gw.faults["ingest"].add(
            Fault("GET", r".*/ingest/jobs/.*", "status", status=503, headers={"Retry-After": "0"})
        )
        await gw.gql(QUERY, {"ids": [INGEST]})
        await gw.gql(QUERY, {"ids": ["field:1009"]})  # a first token
        gw.store("field").expire_tokens()
        await gw.gql(QUERY, {"ids": ["field:1009"]})
    spans = exporter.get_finished_spans()
    reads = [c for c in find_calls(spans, "ingest") if c["jobgate.operation"] == "read"]
    first, second = reads
    assert first["http.response.status_code"] == 503 and "http.request.resend_count" not in first
    assert second["http.response.status_code"] == 200 and second["http.request.resend_count"] == 1
    errors = [s for s in kind(spans, SpanKind.CLIENT) if s.status.status_code is StatusCode.ERROR]
    assert [attrs(s)["http.response.status_code"] for s in errors] == [503]  # 401 is no error
    field = [
        (c["url.template"], c["http.response.status_code"], c.get("jobgate.token_renewed"))
        for c in find_calls(spans, "field")
    ]
    assert field[-3:] == [
        ("/v1/jobs/{id}", 401, None),
        ("/bigchange/auth/tokens", 200, None),  # the token request: a call of its own
        ("/v1/jobs/{id}", 200, True),
    ]
    assert find_calls(spans, "field")[-2]["jobgate.operation"] == "token"


async def test_off_by_default_nothing_is_traced_or_sent() -> None:
    with captured_logs() as out:
        async with gateway() as gw:
            saw = gw.record_header("ingest", "traceparent")
            await gw.gql(QUERY, {"ids": [INGEST]}, traceparent=TRACEPARENT)
    assert saw and set(saw) == {None}  # nor passed on: jobgate is not part of the trace
    assert logged(out) and not [line for line in logged(out) if "trace_id" in line]


class Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        Collector.received.append((self.path, headers, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


async def test_spans_are_exported_over_otlp_http_with_the_configured_headers() -> None:
    server = HTTPServer(("127.0.0.1", 0), Collector)
    Collector.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    telemetry = TelemetrySettings(
        otlp_endpoint=endpoint, service_name="jobgate-test", otlp_headers={"x-key": "k-123"}
    )
    settings = Settings(server=ServerSettings(), sources={}, telemetry=telemetry)
    app, _ = app_over_faults(build_vendors(), settings)

    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                answer = await client.post(
                    "/graphql", json={"query": QUERY, "variables": {"ids": IDS}}
                )
                assert answer.status_code == 200
        # Leaving the lifespan flushed the batch to the collector.
    finally:
        server.shutdown()
        server.server_close()
    [(path, headers, body)] = Collector.received
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/x-protobuf" and headers["x-key"] == "k-123"
    export = ExportTraceServiceRequest.FromString(body)
    [resource] = export.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert service["service.name"] == "jobgate-test"
    names = sorted(span.name for scope in resource.scope_spans for span in scope.spans)
    assert names == [
        "GET /api/fetchjobs/{id}", "GET /api/v1/ingest/jobs/{id}", "query JobsOfTwo",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('otlp_endpoint = "collector:4318"', "must be an http:// or https:// URL"),
        ('otlp_endpoint = "http://c:4318/v1/traces"\nsample_ratio = 2', "must be at most 1"),
        ("sample_ratio = 0", "must be a positive number"),
        ('endpoint = "http://c"', "unknown key"),
        ("otlp_headers = 3", "telemetry.otlp_headers"),
    ],
)
def test_bad_telemetry_tables_are_refused(table: str, message: str) -> None:
    data = tomllib.loads(f"{SOURCE}[telemetry]\n{table}\n")
    with pytest.raises(ConfigError, match=message):
        parse_settings(data, "g.toml", {})


def test_a_telemetry_table_with_headers_from_the_environment() -> None:
    data = tomllib.loads(
        SOURCE
        + '[telemetry]\notlp_endpoint = "https://otel.example.com/v1/traces"\nsample_ratio = 0.25\n'
        '[telemetry.otlp_headers]\n"x-honeycomb-team" = "${KEY}"\n'
    )
    settings = parse_settings(data, "g.toml", {"KEY": "secret-1"})
    assert settings.telemetry.enabled and settings.telemetry.sample_ratio == 0.25
    assert settings.telemetry.otlp_headers == {"x-honeycomb-team": "secret-1"}
    assert "secret-1" not in repr(settings)


def test_off_the_sdk_is_not_even_imported() -> None:
    """Off costs a ContextVar read per call and per log line: no tracer provider, and the
    SDK's tracing is not loaded. (redis-py imports the SDK's *metrics* when it is installed,
    for its own observability, which stays off unless configured.)"""
    script = (
        "import asyncio, sys\n"
        "from tests.harness import gateway\n"
        "async def main():\n"
        "    async with gateway() as gw:\n"
        "        await gw.gql('{ jobs(ids: [\"hub:6161\"]) { id } }')\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk.trace')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
