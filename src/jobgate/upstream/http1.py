"""One HTTP/1.1 keep-alive connection carrying jobgate's plain reads: an asyncio ``Protocol``
whose answers are parsed by httptools (llhttp, the parser uvicorn already runs on).

The pool that owns these connections is ``jobgate.upstream.reads``. A connection carries one
request at a time and reads its answer whole:

* **Bodies** delimited by ``Content-Length``, by chunks, or by the end of the connection (an
  answer with neither, as HTTP/1.0 servers send); ``gzip`` and ``deflate`` (zlib-wrapped or raw,
  as aiohttp accepts) are decoded, and the size cap counts the *decoded* bytes, so a small gzip
  that inflates to 100 MB stops at the cap.
* **Interim answers** (``100 Continue``, ``103 Early Hints`` from CDNs) are skipped.
* **Limits**: the status line and headers may take ``MAX_HEAD_BYTES``; a body past the cap
  raises ``AnswerTooLarge`` and the connection is dropped, not drained.
* **Read timeout**, as aiohttp's ``sock_read`` and httpx's ``read``: the longest wait for the
  next bytes, not for the whole answer (one loop timer, re-armed only when it fires).
* **Failures** are httpx's exceptions, said in words: an answer that is not HTTP is a
  ``RemoteProtocolError``; a connection that ends mid-answer a ``ReadError``. A *reused*
  connection that ends before any byte of the answer raises ``StaleConnection``: the keep-alive
  race, which the pool settles by sending the read once more on a new connection.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import cast

import httptools
import httpx

from jobgate.internals.httpx import Fetched
from jobgate.upstream.errors import AnswerTooLarge

# The status line and every header of one answer together (aiohttp allows 8,190 a line).
MAX_HEAD_BYTES = 65_536
# Answer headers that describe the bytes on the wire: the body handed on is decoded.
_CONTENT_ENCODING = b"content-encoding"
_WIRE_HEADERS = frozenset({_CONTENT_ENCODING, b"content-length", b"transfer-encoding"})
_GZIP = frozenset({b"gzip", b"x-gzip"})


class StaleConnection(httpx.RemoteProtocolError):
    """A kept-alive connection closed before any byte of its answer: it was already gone."""


class _Inflater:
    """gzip or deflate bodies, decoded chunk by chunk, never past ``room`` bytes at a time."""

    __slots__ = ("_raw_fallback", "_zlib")

    def __init__(self, encoding: bytes) -> None:
        gzip = encoding in _GZIP
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._raw_fallback = not gzip  # "deflate" is zlib-wrapped by the RFC, raw in practice

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._zlib.decompress(data, room)
        except zlib.error:
            if not self._raw_fallback:
                raise
            self._raw_fallback = False
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, room)
        self._raw_fallback = False
        return out

    def rest(self) -> bytes:
        return self._zlib.flush()


class _Stop(Exception):
    """Raised in a parser callback to stop parsing; the reason is in ``Http1Connection.failure``."""


class Http1Connection(asyncio.Protocol):
    """One connection to an upstream; ``send`` writes a request and waits for its whole answer."""

    def __init__(self, limit: int, release: Callable[[Http1Connection], None]) -> None:
        self.limit = limit
        self._release = release
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.loop = asyncio.get_running_loop()
        self.waiter: asyncio.Future[Fetched] | None = None
        self.used = False  # has answered before: a close before any answer byte is the race
        self.closed = False
        self.idle_since = 0.0
        self._read_timeout: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0
        self._start_answer()

    def _start_answer(self) -> None:
        self.failure: BaseException | None = None
        self.received = False
        self.head_bytes = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.to_eof = False  # the body ends when the connection does
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes, bytes]] = []
        self.encoding = b""
        self.framed = False  # Content-Length or chunked
        self.inflater: _Inflater | None = None
        self.body: list[bytes] = []
        self.size = 0

    # -- the caller's side -------------------------------------------------------------------

    def send(self, request: bytes, read_timeout: float | None) -> asyncio.Future[Fetched]:
        """Write ``request``; the future resolves to its whole answer or raises its failure."""
        assert self.transport is not None and self.waiter is None
        self.waiter = self.loop.create_future()
        if self.transport.is_closing():  # closed since it was taken: nothing is sent
            self.waiter.set_exception(StaleConnection("the kept-alive connection was closing"))
            return self.waiter
        self._read_timeout = read_timeout
        if read_timeout is not None:
            self._last = self.loop.time()
            self._timer = self.loop.call_at(self._last + read_timeout, self._check_idle)
        self.transport.write(request)
        return self.waiter

    def abort(self) -> None:
        """Drop the connection at once (cancelled or failed mid-answer: it cannot be reused)."""
        self.closed = True
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's does not subclass asyncio.Transport, so no isinstance).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for, on an idle connection
            self.abort()
            return
        self.received = True
        if self._read_timeout is not None:
            self._last = self.loop.time()
        if not self.headers_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the upstream switched protocols unasked"))
            return
        except httptools.HttpParserError as exc:
            if self.complete:  # bytes after the answer: it stands, the connection does not
                self._finish(keep=False)
            else:
                self._fail(self.failure or _not_http(exc))
            return
        if self.complete:
            self._finish(keep=self.keep_alive)
        elif not self.headers_done and self.head_bytes > MAX_HEAD_BYTES:
            self._fail(
                httpx.RemoteProtocolError(
                    f"the upstream's answer headers were longer than {MAX_HEAD_BYTES} bytes"
                )
            )

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        self.closed = True
        self._stop_timer()

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer in the same bytes, unasked: the connection goes
            self.keep_alive = False

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower in _WIRE_HEADERS:
            if lower == _CONTENT_ENCODING:
                self.encoding = value.strip().lower()
            elif lower == b"content-length":
                self.framed = True
                if value.strip().isdigit() and int(value) > self.limit:
                    self.failure = AnswerTooLarge(self.limit)
                    raise _Stop
            else:  # Transfer-Encoding: only "chunked" last frames a response's body
                self.framed = value.rstrip().lower().endswith(b"chunked")
            return
        self.headers.append((name, lower, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        if self.status == 101:  # jobgate asks for no upgrade; llhttp would stop here
            self.failure = httpx.RemoteProtocolError("the upstream switched protocols unasked")
            raise _Stop
        if self.status < 200:
            return  # an interim answer: its message completes with no body
        encoding = self.encoding
        if encoding and encoding != b"identity":
            if encoding not in _GZIP and encoding != b"deflate":
                shown = encoding.decode("latin-1")
                self.failure = httpx.RemoteProtocolError(
                    f"the upstream encoded its answer as '{shown}', which jobgate did not ask for"
                )
                raise _Stop
            self.inflater = _Inflater(encoding)
        self.to_eof = not self.framed and self.status not in (204, 304)

    def on_body(self, data: bytes) -> None:
        if self.inflater is not None:
            try:
                data = self.inflater.feed(data, self.limit - self.size + 1)
            except zlib.error as exc:
                self.failure = httpx.ReadError(
                    f"the upstream's compressed answer is corrupt: {exc}"
                )
                raise _Stop from exc
        self._keep(data)

    def on_message_complete(self) -> None:
        if self.status < 200:  # 100 Continue, 103 Early Hints: the real answer follows
            self._start_answer()
            return
        if self.inflater is not None:
            self._keep(self.inflater.rest())
        self.keep_alive = self.parser.should_keep_alive()  # only known until the next message
        self.complete = True

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.failure = AnswerTooLarge(self.limit)
            raise _Stop
        if data:
            self.body.append(data)

    # -- ends --------------------------------------------------------------------------------

    def _finish(self, keep: bool) -> None:
        waiter = self.waiter
        body = self.body
        reason = self.reason.decode("latin-1") or None
        answer: Fetched = (
            self.status,
            reason,
            self.headers,
            body[0] if len(body) == 1 else b"".join(body),
        )
        self._stop_timer()
        self.waiter = None
        self.used = True
        self._start_answer()
        if keep and not self.closed:
            self._release(self)
        else:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, failure: BaseException) -> None:
        waiter = self.waiter
        self.waiter = None
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(failure)

    def _ended(self, exc: Exception | None) -> None:
        """The upstream closed the connection (``exc`` says how, if it was not a clean close)."""
        if self.waiter is None:
            self.closed = True
            return
        if self.to_eof and not self.complete and exc is None:
            if self.inflater is not None:
                try:
                    self._keep(self.inflater.rest())
                except _Stop:
                    self._fail(self.failure or AnswerTooLarge(self.limit))
                    return
            self._finish(keep=False)
            return
        how = f": {exc}" if exc is not None else ""
        if not self.received and self.used:
            self._fail(StaleConnection(f"the upstream had closed the kept-alive connection{how}"))
        elif not self.received:
            self._fail(
                httpx.RemoteProtocolError(f"the upstream closed the connection unanswered{how}")
            )
        else:
            self._fail(httpx.ReadError(f"the upstream closed the connection mid-answer{how}"))

    def _check_idle(self) -> None:
        timeout = self._read_timeout
        if self.waiter is None or timeout is None:
            return
        due = self._last + timeout
        if self.loop.time() < due:  # bytes came since the timer was set: wait from them
            self._timer = self.loop.call_at(due, self._check_idle)
            return
        self._timer = None
        self._fail(httpx.ReadTimeout(f"no answer bytes came within {timeout:g} s"))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _not_http(exc: Exception) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(f"the upstream's answer is not valid HTTP ({exc})")
