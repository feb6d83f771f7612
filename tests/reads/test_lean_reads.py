"""jobgate's own HTTP/1.1 reads (``jobgate.upstream.reads``) against real sockets.

Each upstream here is a plain asyncio server that writes exactly the bytes a test gives it, so
that what real servers, CDNs and proxies do on the wire (chunks, gzip, interim answers, closing
kept-alive connections, stalling, garbage) is shown byte for byte. The parser's own handling of
an answer split anywhere is checked without a socket, at every split point.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jobgate.config import SourceSettings
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.upstream.errors import AnswerTooLarge
from jobgate.upstream.http1 import MAX_HEAD_BYTES, Http1Connection
from jobgate.upstream.reads import ReadPool
from jobgate.upstream.transport import WholeBodyTransport, production_transport
from tests.wire import free_port

TIMEOUTS = (2.0, 2.0, 2.0)
# An answer to one request: bytes to write, a number of seconds to wait, or "close".
Step = bytes | float | str
Script = Callable[[bytes, int], list[Step]]


@dataclass
class Upstream:
    """A server that answers each request with the steps ``script(request, n)`` gives, ``n``
    counting requests on that connection from 0; it records every request per connection."""

    script: Script
    base: str = ""
    connections: list[list[bytes]] = field(default_factory=list)
    closed_by_client: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen: list[bytes] = []
        self.connections.append(seen)
        try:
            while True:
                try:
                    request = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.closed_by_client += 1
                    return
                seen.append(request)
                for step in self.script(request, len(seen) - 1):
                    if step == "close":
                        return
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                    else:
                        assert isinstance(step, bytes)
                        writer.write(step)
                        await writer.drain()
        except ConnectionError:
            self.closed_by_client += 1
        finally:
            writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Callable[[Script], Awaitable[Upstream]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script, tls: ssl.SSLContext | None = None) -> Upstream:
        upstream = Upstream(script)
        server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0, ssl=tls)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        upstream.base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        return upstream

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def ok(body: bytes = b'{"id":"1"}', *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*pieces: bytes, headers: tuple[str, ...] = ()) -> bytes:
    head = "\r\n".join(["HTTP/1.1 200 OK", "Transfer-Encoding: chunked", *headers])
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return head.encode() + b"\r\n\r\n" + body + b"0\r\n\r\n"


def always(*steps: Step) -> Script:
    return lambda request, n: list(steps)


def pool(**options: Any) -> ReadPool:
    return ReadPool(max_answer_bytes=options.pop("limit", 1_000_000), max_idle=4, **options)


async def get(reads: ReadPool, url: str, *headers: tuple[str, str]) -> Any:
    return await reads.get(url, list(headers), TIMEOUTS)


# -- what is sent ----------------------------------------------------------------------------


async def test_the_request_is_the_get_and_the_headers_given(upstream: Any) -> None:
    up = await upstream(always(ok()))
    reads = pool()
    answer = await get(reads, up.base + "/jobs/a%20b?x=1", ("Authorization", "Bearer x"))
    await reads.aclose()
    host = up.base.removeprefix("http://")
    assert (
        up.connections[0][0]
        == (
            f"GET /jobs/a%20b?x=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer x\r\n\r\n"
        ).encode()
    )
    assert answer[0] == 200 and answer[3] == b'{"id":"1"}'


@pytest.mark.parametrize(
    "header", [("X-A", "1\r\nX-Evil: 2"), ("X-A", "1\n"), ("X-A", "\x00"), ("X A", "1")]
)
async def test_a_header_that_would_split_the_request_is_refused_unsent(
    upstream: Any, header: tuple[str, str]
) -> None:
    up = await upstream(always(ok()))
    with pytest.raises(httpx.LocalProtocolError):
        await get(pool(), up.base + "/jobs/1", header)
    assert up.connections == []


async def test_only_http_urls_are_read() -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        await get(pool(), "ftp://127.0.0.1/jobs/1")


# -- what comes back -------------------------------------------------------------------------


def raw_deflate(data: bytes) -> bytes:
    """Deflate without zlib's wrapper: what many servers send as "deflate"."""
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


SPACES = b'{"id": "1", "pad": "' + b" " * 5000 + b'"}'
BODIES = {
    "content-length": ok(SPACES, "X-Up: 1"),
    "chunked": chunked(SPACES[:7], SPACES[7:4000], SPACES[4000:], headers=("X-Up: 1",)),
    "gzip, chunked": chunked(
        gzip.compress(SPACES)[:10],
        gzip.compress(SPACES)[10:],
        headers=("Content-Encoding: gzip", "X-Up: 1"),
    ),
    "deflate (zlib)": ok(zlib.compress(SPACES), "Content-Encoding: deflate", "X-Up: 1"),
    "deflate (raw)": ok(raw_deflate(SPACES), "Content-Encoding: deflate", "X-Up: 1"),
    "interim answers first": b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + ok(SPACES, "X-Up: 1"),
}


@pytest.mark.parametrize("kind", BODIES)
async def test_every_framing_reads_whole_and_decoded(upstream: Any, kind: str) -> None:
    up = await upstream(always(BODIES[kind]))
    reads = pool()
    first = await get(reads, up.base + "/jobs/1")
    second = await get(reads, up.base + "/jobs/1")
    await reads.aclose()
    for status, reason, headers, body in (first, second):
        assert (status, reason, body) == (200, "OK", SPACES)
        names = [lower for _, lower, _ in headers]
        assert names == [b"x-up"]  # the wire's own headers go: the body is decoded
    assert len(up.connections) == 1, "the connection was not kept alive"


async def test_a_body_that_ends_with_the_connection_is_read_whole(upstream: Any) -> None:
    up = await upstream(always(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", SPACES, "close"))
    reads = pool()
    first = await get(reads, up.base + "/jobs/1")
    second = await get(reads, up.base + "/jobs/1")
    assert first[3] == second[3] == SPACES
    assert reads.opened == 2


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
async def test_answers_without_a_body_keep_the_connection(upstream: Any, status: str) -> None:
    up = await upstream(always(f"HTTP/1.1 {status}\r\nX-Up: 1\r\n\r\n".encode()))
    reads = pool()
    for _ in range(2):
        answer = await get(reads, up.base + "/jobs/1")
        assert answer[0] == int(status[:3]) and answer[3] == b""
    assert reads.opened == 1


async def test_connection_close_is_obeyed(upstream: Any) -> None:
    up = await upstream(always(ok(b"{}", "Connection: close")))
    reads = pool()
    await get(reads, up.base + "/jobs/1")
    await get(reads, up.base + "/jobs/1")
    assert reads.opened == 2 and len(up.connections) == 2


async def test_bytes_after_the_answer_cost_the_connection_not_the_answer(upstream: Any) -> None:
    up = await upstream(always(ok(b"{}") + b"SURPRISE\r\n\r\n"))
    reads = pool()
    assert (await get(reads, up.base + "/jobs/1"))[3] == b"{}"
    assert (await get(reads, up.base + "/jobs/1"))[3] == b"{}"
    assert reads.opened == 2


# -- kept-alive connections ----------------------------------------------------------------


async def test_a_kept_alive_connection_the_upstream_dropped_is_read_again_once(
    upstream: Any,
) -> None:
    """The keep-alive race: the upstream closes an idle connection as the read is sent on it.
    A read may go once more on a new connection (RFC 9112 §9.3.1), as aiohttp's does."""
    up = await upstream(lambda request, n: [ok()] if n == 0 else ["close"])
    reads = pool()
    await get(reads, up.base + "/jobs/1")
    answer = await get(reads, up.base + "/jobs/1")
    assert answer[0] == 200
    assert [len(requests) for requests in up.connections] == [2, 1]


async def test_a_new_connection_closed_unanswered_is_not_read_again(upstream: Any) -> None:
    up = await upstream(always("close"))
    with pytest.raises(httpx.RemoteProtocolError, match="closed the connection unanswered"):
        await get(pool(), up.base + "/jobs/1")
    assert [len(requests) for requests in up.connections] == [1]


async def test_a_connection_idle_too_long_is_not_reused(upstream: Any) -> None:
    up = await upstream(always(ok()))
    reads = pool(keepalive=0.05)
    await get(reads, up.base + "/jobs/1")
    await asyncio.sleep(0.1)
    await get(reads, up.base + "/jobs/1")
    assert reads.opened == 2


async def test_bytes_on_an_idle_connection_drop_it(upstream: Any) -> None:
    up = await upstream(always(ok(), b"HTTP/1.1 200 OK\r\n"))  # a second answer, unasked
    reads = pool()
    await get(reads, up.base + "/jobs/1")
    await asyncio.sleep(0.05)
    assert (await get(reads, up.base + "/jobs/1"))[0] == 200
    assert reads.opened == 2


async def test_a_cancelled_read_drops_its_connection(upstream: Any) -> None:
    def slow_then_fast(request: bytes, n: int) -> list[Step]:
        return [b"HTTP/1.1 200 OK\r\n", 5.0] if b"/slow" in request else [ok()]

    up = await upstream(slow_then_fast)
    reads = pool()
    task = asyncio.create_task(get(reads, up.base + "/slow"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await get(reads, up.base + "/fast"))[0] == 200
    assert reads.opened == 2, "the half-read connection was used again"


async def test_a_read_that_ends_after_the_pool_closed_keeps_no_connection(upstream: Any) -> None:
    up = await upstream(lambda request, n: [0.1, ok()])
    reads = pool()
    task = asyncio.create_task(get(reads, up.base + "/jobs/1"))
    await asyncio.sleep(0.03)
    await reads.aclose()  # the gateway is shutting down while the read is on the wire
    assert (await task)[0] == 200
    assert all(not idle for idle in reads._idle.values())


async def test_many_reads_at_once_each_get_their_own_answer(upstream: Any) -> None:
    def echo(request: bytes, n: int) -> list[Step]:
        path = request.split(b" ")[1]
        return [0.001 * (len(path) % 5), ok(b'{"path":"%s"}' % path)]

    up = await upstream(echo)
    reads = pool()
    paths = [f"/jobs/{i}" for i in range(64)]
    for _ in range(2):
        answers = await asyncio.gather(*(get(reads, up.base + path) for path in paths))
        assert [a[3] for a in answers] == [b'{"path":"%s"}' % p.encode() for p in paths]
    assert sum(len(idle) for idle in reads._idle.values()) <= reads.max_idle
    await reads.aclose()


# -- failures ------------------------------------------------------------------------------


async def test_the_read_timeout_is_the_wait_between_bytes(upstream: Any) -> None:
    trickle: list[Step] = [b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"]
    for _ in range(8):
        trickle += [0.06, b"x"]
    up = await upstream(always(*trickle))
    answer = await pool().get(up.base + "/jobs/1", [], (1.0, 0.2, 1.0))
    assert answer[3] == b"x" * 8  # 0.48 s in all, never 0.2 s without a byte

    stalled = await upstream(always(b"HTTP/1.1 200 OK\r\n", 1.0))
    with pytest.raises(httpx.ReadTimeout, match=r"within 0\.2 s"):
        await pool().get(stalled.base + "/jobs/1", [], (1.0, 0.2, 1.0))


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", httpx.RemoteProtocolError, "not valid HTTP"),
        (
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10),
            httpx.RemoteProtocolError,
            "headers were longer",
        ),
        (
            ok(b"xx", "Content-Encoding: br"),
            httpx.RemoteProtocolError,
            "encoded its answer as 'br'",
        ),
        (
            ok(b"not gzip", "Content-Encoding: gzip"),
            httpx.ReadError,
            "compressed answer is corrupt",
        ),
        (ok(b"x" * 2000), AnswerTooLarge, "larger than 1000 bytes"),
        (chunked(b"x" * 600, b"x" * 600), AnswerTooLarge, "larger than 1000 bytes"),
        (
            ok(gzip.compress(b" " * 100_000), "Content-Encoding: gzip"),
            AnswerTooLarge,
            "larger than 1000 bytes",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", httpx.ReadError, "mid-answer"),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
            httpx.RemoteProtocolError,
            "switched protocols",
        ),
    ],
)
async def test_bad_answers_fail_in_words(
    upstream: Any, answer: bytes, error: type[Exception], words: str
) -> None:
    up = await upstream(always(answer, "close"))
    with pytest.raises(error, match=words):
        await get(pool(limit=1000), up.base + "/jobs/1")


async def test_a_refused_connection_says_so() -> None:
    port = free_port()
    with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port} refused the connection"):
        await get(pool(), f"http://127.0.0.1:{port}/jobs/1")


# -- TLS -------------------------------------------------------------------------------------


def certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for ``name`` (a DNS name or an IP), and
    a client context that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt = x509.DNSName(name)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_tls_reads_check_the_certificate_and_the_host_name(
    upstream: Any, tmp_path: Path
) -> None:
    server_tls, trusting = certificate(tmp_path, "127.0.0.1")
    up = await upstream(always(ok()), server_tls)
    reads = pool(tls=trusting)
    assert (await get(reads, up.base + "/jobs/1"))[0] == 200
    assert (await get(reads, up.base + "/jobs/1"))[0] == 200
    assert reads.opened == 1
    await reads.aclose()

    with pytest.raises(httpx.ConnectError, match="TLS certificate that is not trusted"):
        await get(pool(), up.base + "/jobs/1")  # the system's trust store does not know it

    other_tls, trusting_other = certificate(tmp_path, "upstream.example")
    elsewhere = await upstream(always(ok()), other_tls)
    with pytest.raises(httpx.ConnectError, match="not trusted"):  # a name that is not 127.0.0.1
        await get(pool(tls=trusting_other), elsewhere.base + "/jobs/1")


# -- the parser alone, fed an answer split at every point -------------------------------------


class _Wire(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing


@pytest.mark.parametrize("kind", ["chunked", "gzip, chunked", "interim answers first"])
async def test_an_answer_split_anywhere_reads_the_same(kind: str) -> None:
    raw = BODIES[kind]
    for cut in range(1, len(raw)):
        released: list[Http1Connection] = []
        connection = Http1Connection(100_000, released.append)
        connection.connection_made(_Wire())
        answer = connection.send(b"GET / HTTP/1.1\r\n\r\n", None)
        connection.data_received(raw[:cut])
        connection.data_received(raw[cut:])
        status, _, _, body = await answer
        assert (status, body) == (200, SPACES), cut
        assert released == [connection]


def test_a_source_chooses_its_read_client() -> None:
    def transport(**keys: Any) -> WholeBodyTransport:
        source = SourceSettings(name="s", provider=DATA_CLOUD, base_url="http://h", **keys)
        made = production_transport(source)
        assert isinstance(made, WholeBodyTransport)
        return made

    assert isinstance(transport().reads, ReadPool)
    assert transport(read_client="aiohttp").reads is None
