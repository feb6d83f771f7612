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
exceptions that no httpx ``except`` catches. Here the most specific class decides, and anything
left is an ``httpx.TransportError``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import aiohttp
import httpx
import yarl
from httpx_aiohttp import AiohttpTransport

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


# Most specific first: the first class an exception is an instance of decides.
_EXCEPTIONS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
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


@contextlib.contextmanager
def httpx_exceptions() -> Iterator[None]:
    """aiohttp's failures as the httpx exceptions httpx's own transport would raise."""
    try:
        yield
    except (TimeoutError, aiohttp.ClientError) as exc:
        for aiohttp_type, httpx_type in _EXCEPTIONS:
            if isinstance(exc, aiohttp_type):
                raise httpx_type(str(exc) or type(exc).__name__) from exc
        raise  # pragma: no cover - ClientError is the last row


class WholeBodyTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            content = request.content or None
        except httpx.RequestNotRead:
            with httpx_exceptions():
                return await super().handle_async_request(request)
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
        ]
        with httpx_exceptions():
            async with self.client.request(
                request.method,
                _url(str(request.url)),
                headers=headers,
                data=content,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes, as it would with its own transport
                timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
            ) as answer:
                body = await answer.read()
        extensions = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            content=body,
            request=request,
            extensions=extensions,
        )
