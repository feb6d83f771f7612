"""httpx's internals, in one place: the client every source uses, with no cookies and a short
path for plain requests.

Written against httpx 0.28 (``requirements.lock``); tests/internals checks the internals used
here (the cookie jar a client consults, the request ``client.send`` would build) against the
installed version.

``httpx.AsyncClient.send`` runs an auth flow, redirect handling, event hooks, cookie merging
and an elapsed-time stream wrapper around every request: ~35 µs a call, a quarter of a job
read's cost in the benchmark. jobgate's clients add nothing but fixed headers (tokens are
signed in by the channel, ``credentials.py``), so ``UpstreamClient.dispatch`` builds the same
``httpx.Request`` itself and hands it straight to the transport.

Plain reads go shorter still when the transport reads answers whole (``WholeReads``, the
production aiohttp transport): no ``httpx.Request`` at all, and the ``httpx.Response`` is made
from the bytes already read, without its stream machinery (``whole_response``: sets the
``_content`` that ``Response.read()`` would have set; tests/internals checks it). Writes and
reads with query parameters keep the path above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import httpx

# A whole answer: status, reason phrase, headers as httpx keeps them (name, lowercased name,
# value), decoded body.
Fetched = tuple[int, str | None, list[tuple[bytes, bytes, bytes]], bytes]
_READ = httpx.ByteStream(b"")  # the stream of a response whose body is already read


@runtime_checkable
class WholeReads(Protocol):
    """A transport that can send a request and return its whole answer without httpx's
    Request and Response objects (``jobgate.upstream.transport.WholeBodyTransport``)."""

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: tuple[float | None, float | None, float | None],
    ) -> Fetched: ...


def whole_response(
    status: int, reason: str | None, headers: list[tuple[bytes, bytes, bytes]], body: bytes
) -> httpx.Response:
    """The ``httpx.Response`` that reading ``body`` through a stream would give, made directly.

    ``httpx.Response(content=...)`` encodes the body into a stream and reads it back through
    two generators and a decoder (~20 us); a response made with a stream keeps its bytes in
    ``_content`` once read, which is set here. Its headers are made from their triples
    (``Headers._list``)."""
    extensions = {"http_version": b"HTTP/1.1"}
    if reason:
        extensions["reason_phrase"] = reason.encode()
    # The headers come off the wire as bytes, already in the (name, lowercased name, value)
    # triples Headers keeps: taken as they are, not normalised pair by pair (~20,000
    # instructions a read).
    ready = httpx.Headers()
    ready._list = headers
    response = httpx.Response(status, headers=ready, stream=_READ, extensions=extensions)
    response._content = body
    response.is_stream_consumed = True
    response.is_closed = True
    return response


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing and sends nothing."""

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class UpstreamClient(httpx.AsyncClient):
    """An httpx client that keeps no cookies and sends plain requests straight to its transport.

    Every vendor here authenticates with headers; a cookie one caller's request received must
    not ride along on another caller's. It is also cheaper: httpx runs ``http.cookiejar`` on
    every response (~14 µs a call).
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self._direct = transport
        self._whole = transport if isinstance(transport, WholeReads) else None
        self._fixed_extensions = {"timeout": self.timeout.as_dict()}
        self._timeouts = (self.timeout.connect, self.timeout.read, self.timeout.pool)
        self.rebase(str(self.base_url))

    def rebase(self, base_url: str) -> None:
        """Send to ``base_url`` from now on (what client.send would add to every request is
        worked out once per base: the Host header from it, the client's own headers)."""
        self.base_url = httpx.URL(base_url)
        self._fixed_headers = httpx.Headers({"host": self.base_url.netloc.decode("ascii")})
        self._fixed_headers.update(self.headers)
        self._fixed_pairs = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self._fixed_headers.raw
        ]
        self._fixed_names = frozenset(name.lower() for name, _ in self._fixed_pairs)

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None

    async def dispatch(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        """Send one request and read its whole answer, as ``client.request`` would."""
        if self._whole is not None and method == "GET" and not params:
            return await self._read_whole(url, headers)
        if params:
            return await self.request(method, url, params=params, content=content, headers=headers)
        # Copying ready Headers skips normalising every fixed header again (~10 µs a call).
        request = httpx.Request(
            method, url, headers=self._fixed_headers, content=content,
            extensions=self._fixed_extensions,
        )  # fmt: skip
        for name, value in headers.items():
            request.headers[name] = value
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    async def _read_whole(self, url: httpx.URL | str, headers: Mapping[str, str]) -> httpx.Response:
        """A plain GET through ``WholeReads.fetch``: the same request on the wire."""
        assert self._whole is not None
        fixed = self._fixed_pairs
        if not self._fixed_names.isdisjoint(name.lower() for name in headers):
            replaced = {name.lower() for name in headers}
            fixed = [pair for pair in fixed if pair[0].lower() not in replaced]
        sent = [*fixed, *headers.items()]
        status, reason, answer_headers, body = await self._whole.fetch(
            "GET", str(url), sent, None, self._timeouts
        )
        return whole_response(status, reason, answer_headers, body)
