"""jobgate's plain reads (GET, no body) on kept-alive HTTP/1.1 connections of its own.

Why not aiohttp for these: a GET through ``aiohttp.ClientSession`` costs about 334,000 CPU
instructions on the bench host (its request and response objects, tracing hooks, cookie and
redirect handling, timer contexts, stream readers), a third of what a cold job read costs the
gateway in all. The same GET here costs about a tenth of that (bench/ANALYSIS.md). Writes do
not come here: they stay on aiohttp, on the path where the write-once rule is proven
(``jobgate.upstream.transport``).

What a real tenant may do that this handles (``tests/unit/test_lean_reads.py`` shows each):
TLS with the host's name checked against the system's trusted certificates (ALPN offers
HTTP/1.1 only); chunked, gzip and deflate bodies and bodies delimited by the connection's end;
interim ``1xx`` answers; ``Connection: close``; an idle connection the upstream has closed
(the keep-alive race: the read goes once more on a new connection, as RFC 9112 §9.3.1 allows
for idempotent requests and as aiohttp does; a connection idle longer than ``keepalive`` is not
reused at all); a cancelled read (its connection is dropped, never reused). A header value that
would split the request (CR, LF, NUL) is refused before anything is sent.

Not handled, so not sent here: proxies (jobgate configures none), request bodies, HTTP/2.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import re
import socket
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohappyeyeballs
import httpx

from jobgate.internals.httpx import Fetched
from jobgate.upstream.http1 import Http1Connection, StaleConnection

# Seconds a connection may sit idle and still be reused (writes' aiohttp connector too).
KEEPALIVE = 5.0
_AUTHORITY_END = re.compile(r"[/?#]")
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")  # controls and spaces: never in a request line
_PORTS = {"http": 80, "https": 443}
# A header name is an RFC 9110 token; no part of a request line or header may hold CR, LF, NUL.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SPLITS = re.compile(r"[\r\n\x00]")
_UNREACHABLE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT})

Origin = tuple[str, str, int]  # scheme, host, port


def split_url(url: str) -> tuple[Origin, str]:
    """``url``'s origin and the request target sent for it (path and query, as encoded).

    Every cold job id is a new URL, so this does not parse the whole URL: only its scheme and
    authority (a handful per source, kept), the rest is the target as written."""
    begin = url.find("://")
    end = _AUTHORITY_END.search(url, begin + 3) if begin > 0 else None
    head = url if end is None else url[: end.start()]
    target = "/" if end is None else url[end.start() :].partition("#")[0]
    if target[:1] != "/":
        target = "/" + target
    if _BAD_TARGET.search(target):
        raise httpx.LocalProtocolError("the URL holds characters a request line cannot")
    return _origin(head), target


@functools.lru_cache(maxsize=64)
def _origin(head: str) -> Origin:
    parts = urlsplit(head)
    scheme = parts.scheme.lower()
    if scheme not in _PORTS or not parts.hostname:
        raise httpx.UnsupportedProtocol(f"jobgate reads only http and https URLs, not {head!r}")
    return scheme, parts.hostname, parts.port or _PORTS[scheme]


@functools.lru_cache(maxsize=256)
def _checked_name(name: str) -> str:
    if not _TOKEN.fullmatch(name):
        raise httpx.LocalProtocolError(f"{name!r} is not a valid header name")
    return name


def request_head(target: str, host: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """The bytes of ``GET target``: the given headers in their order, a Host header if they
    have none. A value holding CR, LF or NUL raises ``LocalProtocolError``: nothing is sent."""
    lines = [f"GET {target} HTTP/1.1\r\n"]
    has_host = False
    for name, value in headers:
        lines.append(f"{_checked_name(name)}: {value}\r\n")
        has_host = has_host or (len(name) == 4 and name.lower() == "host")
    if not has_host:
        lines.insert(1, f"Host: {host}\r\n")
    if _SPLITS.search("".join(value for _, value in headers)):
        raise httpx.LocalProtocolError("a header value holds CR, LF or NUL")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


def connect_failure(host: str, port: int, exc: OSError) -> str:
    """What went wrong opening a connection to ``host:port``, said plainly."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"the host name '{host}' could not be resolved"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{where} presented a TLS certificate that is not trusted"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake with {where} failed"
    if exc.errno == errno.ECONNREFUSED:
        return f"{where} refused the connection (is the upstream running, and is the port right?)"
    if exc.errno in _UNREACHABLE:
        return f"{where} is unreachable from this host"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"could not connect to {where}: {reason}"


@functools.cache
def default_tls() -> ssl.SSLContext:
    """Certificates checked against the system's trust store, host names checked; HTTP/1.1."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


class ReadPool:
    """Kept-alive connections per origin, for GETs without a body; at most ``max_idle`` idle
    connections to one origin (the source's concurrency bounds the busy ones)."""

    def __init__(
        self,
        *,
        max_answer_bytes: int,
        max_idle: int,
        keepalive: float = KEEPALIVE,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.max_answer_bytes = max_answer_bytes
        self.max_idle = max_idle
        self.keepalive = keepalive
        self._tls = tls
        self._idle: dict[Origin, list[Http1Connection]] = {}
        self._closed = False
        self.opened = 0  # connections opened so far (tests and diagnostics)

    async def get(
        self,
        url: str,
        headers: Sequence[tuple[str, str]],
        timeouts: tuple[float | None, float | None, float | None],
    ) -> Fetched:
        """GET ``url``, its whole answer read; failures raise as httpx's exceptions."""
        origin, target = split_url(url)
        request = request_head(target, _host(origin), headers)
        reused = self._take(origin)
        if reused is not None:
            try:
                return await self._exchange(reused, request, timeouts[1])
            except StaleConnection:
                pass  # the upstream had closed it while idle; a read may go once more
        connection = await self._connect(origin, timeouts[0] or timeouts[2])
        return await self._exchange(connection, request, timeouts[1])

    async def aclose(self) -> None:
        self._closed = True  # a read still in flight closes its connection when it ends
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    @staticmethod
    async def _exchange(
        connection: Http1Connection, request: bytes, read_timeout: float | None
    ) -> Fetched:
        try:
            return await connection.send(request, read_timeout)
        except BaseException:  # cancelled, timed out or failed: never reused mid-answer
            connection.abort()
            raise

    def _take(self, origin: Origin) -> Http1Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        oldest_kept = asyncio.get_running_loop().time() - self.keepalive
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since >= oldest_kept:
                return connection
            connection.close()
        return None

    def _release(self, origin: Origin, connection: Http1Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if self._closed or len(idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = connection.loop.time()
        idle.append(connection)

    async def _connect(self, origin: Origin, within: float | None) -> Http1Connection:
        scheme, host, port = origin
        tls = (self._tls or default_tls()) if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(within):
                # Addresses raced as aiohttp races them (RFC 8305): a dead IPv6 route must not
                # take the whole connect timeout. uvloop's create_connection cannot do it.
                addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                sock = await aiohappyeyeballs.start_connection(
                    addresses, happy_eyeballs_delay=0.25, interleave=1
                )
                try:
                    transport, connection = await loop.create_connection(
                        lambda: Http1Connection(
                            self.max_answer_bytes, functools.partial(self._release, origin)
                        ),
                        sock=sock,
                        ssl=tls,
                        server_hostname=host if tls is not None else None,
                    )
                except BaseException:
                    sock.close()
                    raise
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no connection to {host}:{port} within {within:g} s"
            ) from None
        except OSError as exc:
            raise httpx.ConnectError(connect_failure(host, port, exc)) from exc
        self.opened += 1
        # uvloop may call connection_made only on the loop's next turn, after this returns.
        connection.connection_made(transport)
        return connection


@functools.lru_cache(maxsize=64)
def _host(origin: Origin) -> str:
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    return shown if port == _PORTS[scheme] else f"{shown}:{port}"
