"""``jobgate serve --workers N``: N uvicorn worker processes, each with its own listening socket.

uvicorn's own supervisor binds one socket and every worker accepts from it: whichever worker
wakes first takes the connection, so a burst of new connections piles onto one worker while
another idles. Here each worker binds its own socket with ``SO_REUSEPORT`` on the same address,
and the kernel spreads new connections over them (by a hash of the client's address and port).

The supervisor checks first that the address can be bound that way (so that a port in use is
one clear error, not N crashing workers), starts the workers (``spawn``: nothing inherited but
the environment), restarts one that dies (not more than ``MAX_RESTARTS`` times a minute), and on
SIGINT or SIGTERM passes the signal on, so each worker finishes its requests and its streams and
exits; one that has not after ``STOP_GRACE`` seconds is killed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections import deque
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("jobgate")

STOP_GRACE = 40.0  # seconds: request_timeout (30 s by default) and some
MAX_RESTARTS = 5  # per minute, all workers together: past that something is wrong; stop
BACKLOG = 2048


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port that other processes may bind too (SO_REUSEPORT)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _worker(options: dict[str, Any]) -> None:
    """One worker process: its own socket, then uvicorn on it until a signal stops it."""
    import uvicorn

    sock = reuseport_socket(options["host"], options["port"])
    sock.listen(BACKLOG)
    config = uvicorn.Config("jobgate.cli:worker_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    def __init__(self, workers: int, options: dict[str, Any]) -> None:
        self.count = workers
        self.options = options  # uvicorn.Config's, host and port included
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.restarts: deque[float] = deque()

    def run(self) -> int:
        # Bound but not listening: it takes no connections, and it holds the port for the
        # workers (a socket without SO_REUSEPORT on it makes this fail, clearly, here).
        holder = reuseport_socket(self.options["host"], self.options["port"])
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.processes = [self._start() for _ in range(self.count)]
            while not self.stopping.wait(0.5):
                if not self._replace_dead():
                    self.stopping.set()
                    return 1
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            holder.close()

    def _start(self) -> BaseProcess:
        process = self.context.Process(target=_worker, args=(self.options,), name="jobgate-worker")
        process.start()
        return process

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping.set()

    def _replace_dead(self) -> bool:
        """Restart workers that exited; False once they die too often to go on."""
        for index, process in enumerate(self.processes):
            if process.is_alive() or self.stopping.is_set():
                continue
            now = time.monotonic()
            self.restarts.append(now)
            while self.restarts and self.restarts[0] < now - 60:
                self.restarts.popleft()
            if len(self.restarts) > MAX_RESTARTS:
                log.error(
                    "workers keep exiting: stopping",
                    extra={"exit_code": process.exitcode, "restarts_last_minute": MAX_RESTARTS},
                )
                return False
            log.warning(
                "worker exited: starting another",
                extra={"pid": process.pid, "exit_code": process.exitcode},
            )
            self.processes[index] = self._start()
        return True

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                # It may have exited between the check and the signal.
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()  # SIGTERM: uvicorn shuts down gracefully
        deadline = time.monotonic() + STOP_GRACE
        for process in self.processes:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                log.warning("worker did not stop in time: killed", extra={"pid": process.pid})
                process.kill()
                process.join(5)


def run_workers(workers: int, options: dict[str, Any]) -> int:
    """Serve with ``workers`` processes, each on its own SO_REUSEPORT socket, until a signal;
    ``options`` are uvicorn.Config's (``host`` and ``port`` among them)."""
    return Supervisor(workers, options).run()
