"""CPU accounting from /proc: the gateway's own CPU time, and load from outside the bench.

This machine may be shared (other people's test runs): every measured run records how busy the
gateway was and how many cores' worth of CPU went to processes that are not the bench's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the command name (which may hold spaces and parentheses): state, ppid, …
    return text[text.rfind(")") + 2 :].split()


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, CPU seconds of the process and of its reaped children)."""
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and len(fields) > 14:
                ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
                found[int(entry.name)] = (int(fields[1]), ticks / _TICK)
    return found


def _tree_cpu(processes: dict[int, tuple[int, float]], root: int) -> float:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += processes.get(pid, (0, 0.0))[1]
        todo += children.get(pid, [])
    return total


def _system() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    # user + nice + system: what processes use. Interrupt time is left out (loopback traffic
    # lands there and belongs to no process); so is steal (other virtual machines).
    busy = values[0] + values[1] + values[2]
    return busy / _TICK, sum(values[:8]) / _TICK


@dataclass(frozen=True)
class Snapshot:
    at: float
    system_busy_s: float
    system_total_s: float
    bench_s: float  # this process and everything it started
    gateway_s: float  # the gateway process and its workers
    workers_s: dict[int, float]  # each direct child of the gateway process (its workers)


def snapshot(gateway_pid: int | None) -> Snapshot | None:
    if not Path("/proc/stat").exists():
        return None
    processes = _processes()
    busy, total = _system()
    return Snapshot(
        at=time.monotonic(),
        system_busy_s=busy,
        system_total_s=total,
        bench_s=_tree_cpu(processes, os.getpid()),
        gateway_s=_tree_cpu(processes, gateway_pid) if gateway_pid else 0.0,
        workers_s={
            pid: _tree_cpu(processes, pid)
            for pid, (ppid, _) in processes.items()
            if gateway_pid and ppid == gateway_pid
        },
    )


@dataclass(frozen=True)
class Usage:
    gateway_cores: float  # CPU seconds of the gateway per second (1.0 = one core fully)
    foreign_cores: float  # CPU seconds per second spent outside the bench
    worker_cores: list[float]  # the same per worker process, busiest first (several workers)


def usage(before: Snapshot | None, after: Snapshot | None) -> Usage | None:
    if before is None or after is None or after.at <= before.at:
        return None
    elapsed = after.at - before.at
    busy = after.system_busy_s - before.system_busy_s
    bench = after.bench_s - before.bench_s
    workers = [
        max(0.0, (after.workers_s[pid] - before.workers_s[pid]) / elapsed)
        for pid in after.workers_s
        if pid in before.workers_s
    ]
    return Usage(
        gateway_cores=max(0.0, (after.gateway_s - before.gateway_s) / elapsed),
        foreign_cores=max(0.0, (busy - bench) / elapsed),
        # uvicorn's supervisor also starts a resource tracker: it uses no CPU to speak of.
        worker_cores=sorted((w for w in workers if w >= 0.01), reverse=True)
        if len(workers) > 1
        else [],
    )


def wait_for_quiet(limit_s: float, threshold_cores: float = 0.25, window_s: float = 1.0) -> float:
    """Wait (at most ``limit_s``) until load from outside the bench drops below the threshold.

    Returns the foreign load of the last window, in cores.
    """
    deadline = time.monotonic() + limit_s
    while True:
        before = snapshot(None)
        time.sleep(window_s)
        found = usage(before, snapshot(None))
        if found is None:
            return 0.0
        if found.foreign_cores < threshold_cores or time.monotonic() >= deadline:
            return found.foreign_cores
