"""A tiny static upstream on asyncio: Data Cloud job JSON by id, as fast as Python serves it.

Stands in for nginx when nginx is not installed. ``python -m bench.static_upstream --port P
--jobs FILE`` (FILE: a JSON object of native id -> job). ``GET /_bench/count`` answers how many
job requests it has served.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import cast

import orjson

from bench.static_jobs import JOBS_PATH

COUNT_PATH = b"/_bench/count"


class StaticUpstream(asyncio.Protocol):
    served = 0

    def __init__(self, bodies: dict[bytes, bytes]) -> None:
        self.bodies = bodies
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            # GET only: any Content-Length body is skipped.
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    self.buffer = self.buffer[int(line[15:].strip()) :]
            path = head.split(b" ", 2)[1]
            self._answer(path)

    def _answer(self, path: bytes) -> None:
        assert self.transport is not None
        if path == COUNT_PATH:
            status, body = b"200 OK", orjson.dumps({"requests": StaticUpstream.served})
        else:
            StaticUpstream.served += 1
            found = self.bodies.get(path)
            status, body = (b"200 OK", found) if found else (b"404 Not Found", b"[]")
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )


async def serve(port: int, jobs: dict[str, object]) -> None:
    bodies = {f"{JOBS_PATH}/{jid}".encode(): orjson.dumps(job) for jid, job in jobs.items()}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: StaticUpstream(bodies), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jobs", required=True)
    args = parser.parse_args()
    jobs = orjson.loads(Path(args.jobs).read_bytes())
    try:
        import uvloop

        uvloop.run(serve(args.port, jobs))
    except ImportError:
        asyncio.run(serve(args.port, jobs))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
