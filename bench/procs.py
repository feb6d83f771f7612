"""Child processes of the bench: start (pinned to a core), wait until up, sample RSS, stop."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.stats import RssSeries

LOOPBACK = "127.0.0.1"


class BenchError(Exception):
    """The bench cannot go on (a process died, a port never opened, a target is not local)."""


def require_loopback(url: str) -> None:
    """Every target of this bench is on this machine, whatever the command line says."""
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise BenchError(f"refusing to target {url!r}: the bench only talks to 127.0.0.1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# The machine's cores, read before the bench pins itself (its children inherit its mask).
ALL_CORES: tuple[int, ...] = tuple(sorted(os.sched_getaffinity(0)))


def cpu_count() -> int:
    return len(ALL_CORES)


def pin_prefix(cores: Sequence[int] | None) -> list[str]:
    """``taskset -c`` for ``cores`` (None: every core) unless the child would inherit just that.

    Without ``taskset`` children inherit the bench's own mask.
    """
    if shutil.which("taskset") is None:
        return []
    wanted = sorted(c for c in (cores or ALL_CORES) if c in ALL_CORES) or list(ALL_CORES)
    if set(wanted) == os.sched_getaffinity(0):
        return []
    return ["taskset", "-c", ",".join(str(c) for c in wanted)]


def pin_self(cores: Sequence[int]) -> None:
    """Keep the bench driver (and the asyncio load generator) off the gateway's core."""
    wanted = {c for c in cores if c in ALL_CORES}
    if wanted and wanted != set(ALL_CORES):
        os.sched_setaffinity(0, wanted)


class Process:
    """One background process; its output goes to a log file so that no pipe ever fills."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log_dir: Path,
        *,
        cores: Sequence[int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        self.log = log_dir / f"{safe}-{time.monotonic_ns()}.log"
        self.args = [*pin_prefix(cores), *args]
        with self.log.open("w") as out:
            self.popen = subprocess.Popen(
                self.args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # a Ctrl-C at the terminal reaches the driver only
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self, tail: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def wait_until_up(self, url: str, timeout_s: float = 30.0) -> None:
        require_loopback(url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise BenchError(f"{self.name} exited early:\n{self.output()}")
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise BenchError(
            f"{self.name} did not answer {url} within {timeout_s:g} s:\n{self.output()}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGINT (uvicorn's graceful stop), then SIGTERM, then SIGKILL, to this process only."""
        if self.popen.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 3.0)):
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue
        self.popen.kill()
        self.popen.wait()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def worker_pids(pid: int) -> list[int]:
    """The processes that serve requests: uvicorn's spawned workers, or the process itself."""
    if not Path("/proc").is_dir():
        return [pid]
    workers = [
        child
        for child in _children(pid)
        if "resource_tracker" not in _cmdline(child) and rss_mb(child) is not None
    ]
    return workers or [pid]


class RssSampler:
    """Samples the largest worker RSS every ``interval_s`` in a thread, into named series."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.series: dict[str, RssSeries] = {}
        self.current = "startup"
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._workers: list[int] = []
        self._workers_at = 0.0

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def mark(self, phase: str) -> RssSeries:
        """Samples from now on belong to ``phase``."""
        self.current = phase
        return self.series.setdefault(phase, RssSeries())

    def sample_once(self) -> float | None:
        now = time.monotonic()
        if now - self._workers_at > 2.0 or not self._workers:
            self._workers = worker_pids(self.pid)
            self._workers_at = now
        values = [mb for mb in (rss_mb(p) for p in self._workers) if mb is not None]
        if not values:
            return None
        largest = max(values)
        self.series.setdefault(self.current, RssSeries()).add(now - self._started, largest)
        return largest

    @property
    def max_mb(self) -> float:
        return max((s.max_mb for s in self.series.values()), default=0.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_once()
