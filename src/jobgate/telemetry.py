"""OpenTelemetry traces: a server span per GraphQL request, a client span per upstream attempt.

On only with ``[telemetry] otlp_endpoint`` (or an exporter handed to the app factory, as the
tests do). Off, nothing here runs but a ContextVar read per upstream call and per log line: the
SDK is not even imported.

- **Server span** (``RequestScope``): ``query JobsOfTwo`` (the operation's type and name, as
  OpenTelemetry's GraphQL conventions name it), a child of the caller's W3C ``traceparent``
  when it sends one. Attributes: ``graphql.operation.type`` and ``.name``, the HTTP method,
  path and status, jobgate's request id and the error codes answered. Never a variable's
  value, nor the document (its literals may be ids or free text).
- **Client span** per upstream attempt (``CallGuard``): ``GET /api/v1/ingest/jobs/{id}`` — the
  route template, never the ids — with the source, the operation (read, search, write), the
  status (or what went wrong: ``timeout``, ``connect-error``...), ``http.request.resend_count``
  on a retry and ``jobgate.token_renewed`` on the one repeat after a refused token. Its
  ``traceparent`` goes to the upstream with the call.
- **Coalesced reads**: a request that joins another's read in flight makes no call; it gets an
  internal span ``coalesced read`` (source, how many ids) for the time it waited.
- Every log line written inside a traced request carries ``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from jobgate import __version__
from jobgate.config import TelemetrySettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# The tracer of the request being served; None: tracing is off (or outside any request).
tracer_var: ContextVar[Tracer | None] = ContextVar("jobgate_tracer", default=None)

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = (b"traceparent", b"tracestate")


def traced() -> bool:
    """Whether the request being served is traced (cheap: one ContextVar read)."""
    return tracer_var.get() is not None


class Tracing:
    """The process's tracer provider and what the request middleware needs of it."""

    def __init__(self, settings: TelemetrySettings, exporter: SpanExporter | None = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        resource = Resource.create(
            {
                "service.name": settings.service_name,
                "service.version": __version__,
                "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
            }
        )
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
        self.provider: TracerProvider = TracerProvider(resource=resource, sampler=sampler)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(
                endpoint=settings.otlp_endpoint,
                headers=dict(settings.otlp_headers),
                timeout=settings.timeout,
            )
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        else:  # tests: each span is handed over as it ends
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer: Tracer = self.provider.get_tracer("jobgate", __version__)

    def shutdown(self) -> None:
        """Export what is left (the batch processor's queue) and stop."""
        self.provider.shutdown()


def incoming_context(headers: Iterable[tuple[bytes, bytes]]) -> otel_context.Context | None:
    """The caller's trace context (W3C ``traceparent``/``tracestate``), if it sent one."""
    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name in _TRACE_HEADERS
    }
    return _PROPAGATOR.extract(carrier) if carrier else None


@contextmanager
def request_span(
    tracing: Tracing, method: str, path: str, headers: Iterable[tuple[bytes, bytes]]
) -> Iterator[Span]:
    """The server span of one request, current (and its tracer set) for everything inside."""
    span = tracing.tracer.start_span(
        "graphql",
        context=incoming_context(headers),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": path},
    )
    traced = tracer_var.set(tracing.tracer)
    attached = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    except Exception as exc:
        span.set_status(StatusCode.ERROR, type(exc).__name__)
        raise
    finally:
        otel_context.detach(attached)
        tracer_var.reset(traced)
        span.end()


def finish_request_span(
    span: Span,
    *,
    status: int | None,
    request_id: str,
    operation: str | None,
    operation_type: str | None,
    codes: Iterable[str],
) -> None:
    """Name the server span after its operation and record how the request ended."""
    if operation_type is not None:
        span.update_name(f"{operation_type} {operation}" if operation else operation_type)
        span.set_attribute("graphql.operation.type", operation_type)
    if operation:
        span.set_attribute("graphql.operation.name", operation)
    span.set_attribute("jobgate.request_id", request_id)
    if status is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(StatusCode.ERROR)
    found = sorted(codes)
    if found:
        span.set_attribute("jobgate.error_codes", found)


class CallSpan:
    """The client span of one upstream attempt."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with this span's ``traceparent`` (the upstream's parent is this call)."""
        carried = dict(headers)
        _PROPAGATOR.inject(carried, context=trace.set_span_in_context(self.span))
        return carried

    def finish(self, status: int | str) -> None:
        if isinstance(status, int):
            self.span.set_attribute("http.response.status_code", status)
            if status >= 500:
                self.span.set_status(StatusCode.ERROR)
        else:
            self.span.set_attribute("error.type", status)
            self.span.set_status(StatusCode.ERROR)
        self.span.end()


def call_span(
    source: str,
    method: str,
    route: str,
    *,
    operation: str,
    attempt: int,
    renewed: bool,
    server: str,
) -> CallSpan | None:
    """A client span for an upstream attempt, if the request is traced (else None, at once)."""
    tracer = tracer_var.get()
    if tracer is None:
        return None
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.template": route,
        "server.address": server,
        "jobgate.source": source,
        "jobgate.operation": operation,
    }
    if attempt > 1:
        attributes["http.request.resend_count"] = attempt - 1
    if renewed:
        attributes["jobgate.token_renewed"] = True
    return CallSpan(
        tracer.start_span(f"{method} {route}", kind=SpanKind.CLIENT, attributes=attributes)
    )


@contextmanager
def coalesced_span(source: str, ids: int) -> Iterator[None]:
    """While a request waits for reads another request already has in flight."""
    tracer = tracer_var.get()
    if tracer is None:
        yield
        return
    attributes: dict[str, Any] = {
        "jobgate.source": source,
        "jobgate.coalesced": True,
        "jobgate.ids": ids,
    }
    with tracer.start_as_current_span("coalesced read", attributes=attributes):
        yield


def log_fields() -> dict[str, str] | None:
    """``trace_id`` and ``span_id`` for a log line written inside a traced request."""
    if tracer_var.get() is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }


class RouteTemplates:
    """A path's route template (``/api/v1/ingest/jobs/{id}``) among those an adapter declares:
    what a span is named after, so that ids never name one. A path no template matches is
    its own template."""

    def __init__(self, templates: Sequence[str]) -> None:
        self._templates = [(t, t.strip("/").split("/")) for t in templates]
        self._found: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        found = self._found.get(path)
        if found is not None:
            return found
        segments = path.split("?", 1)[0].strip("/").split("/")
        found = path
        for template, parts in self._templates:
            if len(parts) == len(segments) and all(
                part == segment or part.startswith("{")
                for part, segment in zip(parts, segments, strict=True)
            ):
                found = template
                break
        if len(self._found) < 4096:
            self._found[path] = found
        return found
