"""Samples the gateway with py-spy under load and says where its CPU time goes.

py-spy's raw output is one collapsed stack per line (``frame;frame;... count``), root first,
each frame ``function (path/file.py:line)``. Self time goes to the innermost frame's package;
inclusive time counts a sample once if any of its frames matches. Samples are taken whether or
not Python code runs (``--idle``): with the gateway saturated, a sample whose innermost Python
frame is the event loop's ``run`` is time in uvloop's C code, in syscalls or in the kernel.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import pin_prefix

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")

# (path prefix of the innermost frame, what it is); the first match wins.
SELF_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("strawberry/extensions/", "Strawberry extensions (caches, limiters)"),
    ("strawberry/schema/", "Strawberry schema.execute / execution glue"),
    ("strawberry/", "Strawberry types, resolvers, dataloader"),
    ("graphql/execution/", "graphql-core execution"),
    ("graphql/validation/", "graphql-core validation"),
    ("graphql/language/", "graphql-core parse/lex/print"),
    ("graphql/", "graphql-core other"),
    ("starlette/", "Starlette"),
    ("uvicorn/", "uvicorn"),
    ("httpx_aiohttp/", "httpx-aiohttp"),
    ("httpx/", "httpx"),
    ("httpcore/", "httpcore"),
    ("aiohttp/", "aiohttp"),
    ("yarl/", "yarl / multidict"),
    ("multidict/", "yarl / multidict"),
    ("jobgate/", "jobgate"),
    ("asyncio/runners.py", "event loop in C (uvloop), syscalls, kernel network stack"),
    ("asyncio/", "asyncio"),
    ("logging/", "logging"),
)

# (label, regex over one frame): inclusive shares.
INCLUSIVE: tuple[tuple[str, str], ...] = (
    ("jobgate GraphQLEndpoint.handle (whole request)", r"GraphQLEndpoint\.handle \("),
    ("Strawberry Schema.execute (all of it)", r"Schema\.execute \(strawberry/"),
    ("Strawberry extension hooks (enter/exit of all extensions)", r"\(strawberry/extensions/"),
    ("graphql-core parse", r"\(graphql/language/parser\.py"),
    ("graphql-core validate", r"\(graphql/validation/"),
    ("graphql-core execute", r"\(graphql/execution/"),
    ("jobgate resolvers + gateway (incl. upstream calls)", r"\(jobgate/(gateway|graphql/)"),
    ("DataLoader", r"\(strawberry/dataloader\.py"),
    ("jobgate Channel._send (upstream call)", r"Channel\._send \("),
    (
        "jobgate CallGuard (slots, breaker, retries; incl. the call)",
        r"\(jobgate/upstream/guard\.py",
    ),
    ("httpx AsyncClient (request building, send)", r"\(httpx/_client\.py"),
    ("httpx-aiohttp + aiohttp (the transport)", r"\((httpx_aiohttp|aiohttp)/"),
    (
        "jobgate request wrappers (request scope, idempotency guard)",
        r"RequestScope|IdempotencyGuard",
    ),
    ("uvicorn ProxyHeadersMiddleware (incl. the app below it)", r"ProxyHeadersMiddleware"),
    ("Prometheus metrics", r"\((jobgate/metrics\.py|prometheus_client/)"),
    ("Starlette request/response objects", r"\(starlette/(requests|responses)\.py"),
    ("uvicorn HTTP protocol (parse, write)", r"\(uvicorn/protocols/"),
    ("logging", r"\(logging/"),
)


def available() -> bool:
    return shutil.which("py-spy") is not None or Path(sys.executable).with_name("py-spy").exists()


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else "py-spy"


def start_recording(
    pid: int, duration_s: float, out: Path, cores: Sequence[int] | None, *, subprocesses: bool
) -> subprocess.Popen[bytes]:
    """py-spy on ``pid`` for ``duration_s`` seconds; sampling does not stop the process."""
    args = [
        *pin_prefix(cores),
        _py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(duration_s))),
        "--rate",
        "250",
        "--format",
        "raw",
        "--nonblocking",
        # Also the samples where no Python code runs: uvloop's C loop, syscalls, the kernel's
        # network stack. The gateway is kept 100 % busy, so these are not waiting time.
        "--idle",
        "--output",
        str(out),
    ]
    if subprocesses:
        args.append("--subprocesses")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass
class Profile:
    name: str
    samples: int = 0
    self_by_category: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    self_by_function: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        return 100.0 * count / self.samples if self.samples else 0.0


def _frames(stack: str) -> list[tuple[str, str]]:
    frames: list[tuple[str, str]] = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        frames.append((match["func"], match["file"]) if match else (raw.strip(), ""))
    return frames


def category(file: str) -> str:
    for prefix, label in SELF_CATEGORIES:
        if file.startswith(prefix) or f"/{prefix}" in file:
            return label
    return "stdlib / other"


def summarize(name: str, collapsed: str) -> Profile:
    profile = Profile(name)
    patterns = [(label, re.compile(rx)) for label, rx in INCLUSIVE]
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        profile.samples += count
        func, file = frames[-1]
        profile.self_by_category[category(file)] += count
        profile.self_by_function[f"{func} ({file})"] += count
        for label, pattern in patterns:
            if any(pattern.search(raw) for raw in stack.split(";")):
                profile.inclusive[label] += count
    return profile
