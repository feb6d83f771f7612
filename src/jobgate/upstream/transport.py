"""httpx-aiohttp's transport, for answers that are read whole (every jobgate call is).

``httpx_aiohttp.AiohttpTransport`` hands aiohttp the request's ``httpx.Headers`` (which aiohttp
converts name by name), parses the URL string again for every call, and answers with a stream
that httpx then reads chunk by chunk through two async generators. jobgate reads every answer
whole, so this subclass reads the body inside the transport, gives aiohttp ready header pairs,
and keeps the parsed URLs and timeouts it has seen. A request whose body is a stream is left to
the parent class.

It also maps aiohttp's exceptions itself. httpx-aiohttp 0.2's table sends a refused
connection (``ClientConnectorError``, a subclass of ``ClientConnectionError``) to
``httpx.ConnectTimeout``, and lets errors it does not list (a malformed answer) escape as aiohttp
exceptions that no httpx ``except`` catches. Here the most specific class decides, anything left
is an ``httpx.TransportError``, and a failed connection is described in words a user can act on
(aiohttp's own text reads "Cannot connect to host h:p ssl:default [...]", even for plain http).

**A write leaves at most once.** aiohttp re-sends a request whose method HTTP calls idempotent
(GET, HEAD, OPTIONS, TRACE, PUT, DELETE) once more on a new connection when the first one is
dropped (RFC 9112 §9.3.1 allows it for a keep-alive race). For jobgate no write may be repeated by
any layer: a PUT whose connection drops may have been applied. Every request but GET and HEAD
therefore runs with a per-request client middleware (aiohttp's public ``middlewares=``) that turns
those connection failures into ``WriteConnectionLost``, which aiohttp's retry does not catch; the
gateway then settles the write by reading the job back.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Sequence
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp.client_middlewares import ClientHandlerType

from jobgate.config import SourceSettings
from jobgate.internals.httpx import Fetched
from jobgate.internals.httpx_aiohttp import SessionTransport
from jobgate.upstream.errors import DEFAULT_MAX_ANSWER_BYTES, AnswerTooLarge
from jobgate.upstream.reads import KEEPALIVE, ReadPool, connect_failure

# Distinct upstream URLs whose parsed form is kept (a job read is one URL per id).
URL_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def _url(url: str) -> yarl.URL:
    return yarl.URL(url, encoded=True)  # httpx has already percent-encoded it


@functools.lru_cache(maxsize=64)
def _timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


# Methods whose requests aiohttp may re-send: reads only. Every other request is a write.
_READS = frozenset({"GET", "HEAD"})


class WriteConnectionLost(aiohttp.ClientError):
    """A write's connection failed after the request may have been sent; never re-sent."""


async def _never_resend(
    request: aiohttp.ClientRequest, handler: ClientHandlerType
) -> aiohttp.ClientResponse:
    """Client middleware for writes: a dropped connection ends the request instead of being
    answered by aiohttp's automatic second attempt."""
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise  # no connection was made, so nothing was sent (and aiohttp does not retry these)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise WriteConnectionLost(str(exc) or type(exc).__name__) from exc


_WRITE_MIDDLEWARES = (_never_resend,)


def _connect_failure(exc: aiohttp.ClientConnectorError) -> str:
    """What went wrong opening a connection, said plainly (no "ssl:default")."""
    cause = exc.os_error  # a certificate error is its own os_error
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        cause = socket.gaierror(str(cause))
    elif isinstance(exc, aiohttp.ClientConnectorSSLError) and not isinstance(cause, ssl.SSLError):
        cause = ssl.SSLError(str(cause))
    return connect_failure(exc.host, exc.port or 0, cause)


# Most specific first: the first class an exception is an instance of decides.
_EXCEPTIONS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (WriteConnectionLost, httpx.RemoteProtocolError),  # a write sent, then the connection went
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # no connection within the limit
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),  # connected, the answer did not come
    (TimeoutError, httpx.ReadTimeout),  # any other timeout (ServerTimeoutError is one too)
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, unreachable, DNS: not sent
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),  # closed, no answer
    (aiohttp.ClientPayloadError, httpx.ReadError),  # the body was cut short or malformed
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not a valid HTTP answer
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),  # reset, broken pipe, anything else
)


# What ``as_httpx_error`` translates.
AIOHTTP_FAILURES = (TimeoutError, aiohttp.ClientError)


def as_httpx_error(exc: BaseException) -> httpx.TransportError:
    """An aiohttp failure as the httpx exception httpx's own transport would raise."""
    for aiohttp_type, httpx_type in _EXCEPTIONS:
        if isinstance(exc, aiohttp_type):
            if isinstance(exc, aiohttp.ClientConnectorError):
                return httpx_type(_connect_failure(exc))
            return httpx_type(str(exc) or type(exc).__name__)
    return httpx.NetworkError(str(exc) or type(exc).__name__)  # pragma: no cover - see the rows


# Answer headers that describe the bytes on the wire: the body handed to httpx is decoded.
_WIRE_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
CHUNK = 65_536


class WholeBodyTransport(SessionTransport):
    """Reads every answer whole, decoded, and at most ``max_answer_bytes`` of it: past that it
    stops reading, closes the connection and raises ``AnswerTooLarge`` (a 100 MB error body
    must not take the process's memory and stall every other request)."""

    def __init__(
        self,
        *args: Any,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        reads: ReadPool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_answer_bytes = max_answer_bytes
        self.reads = reads

    async def aclose(self) -> None:
        if self.reads is not None:
            await self.reads.aclose()
        await super().aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw_headers = request.headers.raw
        try:
            content = request.content or None
        except httpx.RequestNotRead:  # a streamed body (jobgate sends none): read it first
            content = await request.aread() or None
            raw_headers = [(k, v) for k, v in raw_headers if k.lower() != b"transfer-encoding"]
        timeout = request.extensions.get("timeout", {})
        status, reason, headers, body = await self.fetch(
            request.method,
            str(request.url),
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers],
            content,
            (timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
        )
        extensions = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason.encode()
        pairs = [(name, value) for name, _, value in headers]
        return httpx.Response(
            status, headers=pairs, content=body, request=request, extensions=extensions
        )

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: tuple[float | None, float | None, float | None],
    ) -> Fetched:
        """One request, its whole answer read: status, reason, headers (less the wire's own:
        the body is decoded), body. aiohttp's failures raise as httpx's; a write goes out once.

        ``UpstreamClient.dispatch`` calls this directly for plain reads, without an
        ``httpx.Request`` and an ``httpx.Response`` around the call (~90 us a read on the
        bench host; bench/ANALYSIS.md)."""
        if self.reads is not None and method == "GET" and content is None:
            return await self.reads.get(url, headers, timeouts)  # never a write
        try:  # a plain try: a context manager per call costs ~8,000 instructions more
            async with self.session().request(
                method,
                _url(url),
                headers=headers,
                data=content,
                allow_redirects=False,
                # Decoded here, so that the cap counts what is kept (a small gzip can be huge).
                auto_decompress=True,
                timeout=_timeout(*timeouts),
                middlewares=None if method in _READS else _WRITE_MIDDLEWARES,
            ) as answer:
                body = await self._read(answer)
        except AIOHTTP_FAILURES as exc:
            raise as_httpx_error(exc) from exc
        kept = [
            (name, lower, value)
            for name, value in answer.raw_headers
            if (lower := name.lower()) not in _WIRE_HEADERS
        ]
        return answer.status, answer.reason, kept, body

    async def _read(self, answer: aiohttp.ClientResponse) -> bytes:
        limit = self.max_answer_bytes
        declared = answer.content_length
        if declared is not None and declared > limit:
            answer.close()  # not read, not reused
            raise AnswerTooLarge(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                answer.close()
                raise AnswerTooLarge(limit)
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def production_transport(settings: SourceSettings) -> httpx.AsyncBaseTransport:
    """aiohttp-backed transport: httpx's own async pool collapses under concurrency. Plain
    GETs go on jobgate's own kept-alive connections (``ReadPool``) unless the source says
    ``read_client = "aiohttp"``."""

    def session() -> aiohttp.ClientSession:
        # Called on first use, inside the running loop. No cookie jar: see UpstreamClient.
        connector = aiohttp.TCPConnector(
            limit=settings.max_concurrency, keepalive_timeout=KEEPALIVE
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    reads = None
    if settings.read_client == "lean":
        reads = ReadPool(
            max_answer_bytes=settings.max_answer_bytes, max_idle=settings.max_concurrency
        )
    return WholeBodyTransport(
        client=session, max_answer_bytes=settings.max_answer_bytes, reads=reads
    )
