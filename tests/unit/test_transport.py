"""The production transport over real sockets: what the upstream receives, and what comes back.

A small aiohttp server on 127.0.0.1 stands in for an upstream; the client side is exactly what
``jobgate serve`` uses (``production_transport``: httpx-aiohttp's transport reading whole bodies).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jobgate.config import SourceSettings
from jobgate.domain import ErrorCode, JobError, JobFailure
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.internals.httpx import UpstreamClient
from jobgate.simulators.fault_proxy import FaultProxy, WireFault
from jobgate.upstream.channel import Channel, WriteUncertain, build_channel
from jobgate.upstream.transport import WholeBodyTransport, production_transport

Handler = Callable[[web.Request], Any]


async def serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def settings(base_url: str, **overrides: Any) -> SourceSettings:
    values: dict[str, Any] = {
        "name": "ingest",
        "provider": DATA_CLOUD,
        "base_url": base_url,
        "token": "t" * 20,
        **overrides,
    }
    return SourceSettings(**values)


async def raises_on_get(base: str, expected: type[Exception], **options: Any) -> None:
    """A GET of ``base``/jobs/1 through the production transport raises ``expected``."""
    client = UpstreamClient(
        base_url=base, transport=production_transport(settings(base)), **options
    )
    try:
        with pytest.raises(expected):
            await client.dispatch("GET", httpx.URL(base + "/jobs/1"), headers={})
    finally:
        await client.aclose()


async def read_fails_with(base: str) -> ErrorCode:
    """The contract code a job read from ``base`` fails with (no retries)."""
    return (await read_failure(base)).code


async def read_failure(base: str) -> JobError:
    """The error a job read from ``base`` fails with (no retries)."""
    source = settings(base, retries=0)
    http = build_channel(source, production_transport(source))
    try:
        with pytest.raises(JobFailure) as failure:
            await http.get("/jobs/1")
    finally:
        await http.aclose()
    return failure.value.error


@pytest.fixture
async def seen() -> AsyncIterator[list[dict[str, Any]]]:
    yield []


async def test_a_get_carries_the_clients_headers_and_answers_whole(
    seen: list[dict[str, Any]],
) -> None:
    async def handler(request: web.Request) -> web.Response:
        seen.append({"path": request.path_qs, "headers": dict(request.headers)})
        return web.json_response({"id": "1"}, headers={"X-Upstream": "yes"}, reason="Fine")

    runner, base = await serve(handler)
    source = settings(base)
    http = build_channel(
        source, production_transport(source), headers={"Authorization": "Bearer x"}
    )
    try:
        response = await http.get("/jobs/a%20b")
    finally:
        await http.aclose()
        await runner.cleanup()
    assert response.status_code == 200
    assert response.json() == {"id": "1"}
    assert response.headers["x-upstream"] == "yes"
    assert response.reason_phrase == "Fine"
    assert seen[0]["path"] == "/jobs/a%20b"  # sent as encoded, not encoded twice
    assert seen[0]["headers"]["Authorization"] == "Bearer x"
    assert seen[0]["headers"]["Host"] == base.removeprefix("http://")


async def test_a_plain_read_goes_direct_and_sends_what_the_httpx_path_sends(
    seen: list[dict[str, Any]],
) -> None:
    """GETs without parameters skip httpx's Request and Response (UpstreamClient._read_whole):
    the upstream must see the same request as through the transport's httpx face, a header
    the call sets replaces the client's own, and the answer reads the same."""

    async def handler(request: web.Request) -> web.Response:
        seen.append({"headers": list(request.raw_headers), "path": request.path_qs})
        return web.Response(
            body=b'{"id":"1"}', content_type="application/json", headers={"X-Up": "1"}
        )

    runner, base = await serve(handler)
    source = settings(base)
    transport = production_transport(source)

    class HttpxFace(httpx.AsyncBaseTransport):  # not WholeReads: the Request/Response path
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await transport.handle_async_request(request)

    fixed = {"Accept": "application/json", "A": "1"}
    direct_client = UpstreamClient(base_url=base, transport=transport, headers=fixed)
    httpx_client = UpstreamClient(base_url=base, transport=HttpxFace(), headers=fixed)
    answers = []
    try:
        for client in (direct_client, httpx_client):
            call = {"a": "2", "X-Request-Id": "r"}
            answers.append(await client.dispatch("GET", httpx.URL(base + "/jobs/1"), headers=call))
    finally:
        await direct_client.aclose()
        await runner.cleanup()
    wire_direct, wire_httpx = (sorted((k.lower(), v) for k, v in s["headers"]) for s in seen)
    assert wire_direct == wire_httpx
    assert (b"a", b"2") in wire_direct and (b"a", b"1") not in wire_direct
    for answer in answers:
        assert answer.status_code == 200 and answer.json() == {"id": "1"}
        assert answer.headers["x-up"] == "1" and answer.reason_phrase == "OK"
        assert answer.headers["content-type"] == "application/json"


async def test_a_write_sends_its_json_body(seen: list[dict[str, Any]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "body": await request.read(), **request.headers})
        return web.Response(status=204)

    runner, base = await serve(handler)
    source = settings(base)
    http = build_channel(source, production_transport(source))
    try:
        response = await http.write("PATCH", "/jobs/1", json={"state": "Aborted"})
    finally:
        await http.aclose()
        await runner.cleanup()
    assert response.status_code == 204
    assert response.content == b""
    assert seen[0]["method"] == "PATCH"
    assert seen[0]["body"] == b'{"state":"Aborted"}'
    assert seen[0]["Content-Type"] == "application/json"


async def test_a_compressed_answer_is_decoded() -> None:
    async def handler(request: web.Request) -> web.Response:
        body = gzip.compress(b'{"id": "1"}')
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    runner, base = await serve(handler)
    source = settings(base)
    http = build_channel(source, production_transport(source))
    try:
        response = await http.get("/jobs/1")
    finally:
        await http.aclose()
        await runner.cleanup()
    assert response.json() == {"id": "1"}


async def test_an_answer_cut_short_is_a_transport_error() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(headers={"Content-Length": "1000"})
        await answer.prepare(request)
        await answer.write(b'{"id": ')
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
        return answer

    runner, base = await serve(handler)
    try:
        await raises_on_get(base, httpx.TransportError)
    finally:
        await runner.cleanup()


async def test_a_slow_answer_times_out_as_httpx_would_say() -> None:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    runner, base = await serve(handler)
    try:
        await raises_on_get(base, httpx.TimeoutException, timeout=httpx.Timeout(0.2))
    finally:
        await runner.cleanup()


async def test_nothing_listening_is_unavailable_not_a_crash() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    runner, base = await serve(handler)
    await runner.cleanup()  # the port is free again: connections are refused
    assert await read_fails_with(base) is ErrorCode.UPSTREAM_UNAVAILABLE


async def test_a_streamed_request_body_is_read_whole_and_sent(
    seen: list[dict[str, Any]],
) -> None:
    async def handler(request: web.Request) -> web.Response:
        seen.append({"body": await request.read()})
        return web.json_response({"ok": True})

    async def chunks() -> AsyncIterator[bytes]:
        yield b"part one, "
        yield b"part two"

    runner, base = await serve(handler)
    transport = production_transport(settings(base))
    assert isinstance(transport, WholeBodyTransport)
    try:
        request = httpx.Request("POST", base + "/upload", content=chunks())
        response = await transport.handle_async_request(request)
        await response.aread()
    finally:
        await transport.aclose()
        await runner.cleanup()
    assert response.json() == {"ok": True}
    assert seen == [{"body": b"part one, part two"}]


async def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    runner, base = await serve(handler)
    await runner.cleanup()
    await raises_on_get(base, httpx.ConnectError)


async def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        code = await read_fails_with(f"http://127.0.0.1:{port}")
    finally:
        server.close()
        await server.wait_closed()
    assert code is ErrorCode.UPSTREAM_UNAVAILABLE


# -- a write leaves at most once ------------------------------------------------------------


def keep_alive_app() -> Starlette:
    """A tiny upstream whose writes are all applied (counted) and answered 204."""
    applied: list[str] = []

    async def job(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"id": "1"})
        applied.append(request.method)
        return Response(status_code=204)

    app = Starlette(
        routes=[Route("/jobs/1", job, methods=["GET", "PUT", "PATCH", "POST", "DELETE"])]
    )
    app.state.applied = applied
    return app


@contextlib.asynccontextmanager
async def _production_channel_behind(app: Any) -> AsyncIterator[tuple[FaultProxy, Channel]]:
    """The production channel (aiohttp transport, no read retries) to ``app`` on a real socket,
    through a FaultProxy."""
    async with FaultProxy(app) as proxy:
        source = settings(await proxy.start(), retries=0)
        http = build_channel(source, production_transport(source))
        try:
            yield proxy, http
        finally:
            await http.aclose()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "POST"])
@pytest.mark.parametrize("kind", ["drop-before", "drop-after"])
async def test_a_write_whose_kept_alive_connection_drops_is_sent_once(
    method: str, kind: str
) -> None:
    """aiohttp re-sends PUT and DELETE on a new connection when a reused one drops; jobgate
    must not: the first may have been applied (drop-after) and a second would apply it again."""
    app = keep_alive_app()
    async with _production_channel_behind(app) as (proxy, http):
        first = await http.get("/jobs/1")  # opens the connection the write will reuse
        assert first.status_code == 200
        proxy.add(WireFault(method, "/jobs/1", kind))
        with pytest.raises(WriteUncertain) as lost:
            await http.write(method, "/jobs/1", json={"state": "Cancelled"})
    assert proxy.count(method) == 1, "the write reached the upstream more than once"
    assert app.state.applied == ([method] if kind == "drop-after" else [])
    assert lost.value.error.code is ErrorCode.OUTCOME_UNKNOWN


async def test_a_read_whose_kept_alive_connection_drops_may_be_sent_again() -> None:
    async with _production_channel_behind(keep_alive_app()) as (proxy, http):
        await http.get("/jobs/1")
        proxy.add(WireFault("GET", "/jobs/1", "drop-before"))
        again = await http.get("/jobs/1")
    assert again.status_code == 200
    assert proxy.count("GET") == 3


async def test_a_refused_connection_says_so_in_plain_words() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    runner, base = await serve(handler)
    await runner.cleanup()
    message = (await read_failure(base)).message
    assert "refused the connection" in message, message
    assert "ssl:" not in message
    assert base.removeprefix("http://") in message
