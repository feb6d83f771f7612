"""The machine and the software a bench run measured: for the top of RESULTS.md."""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from bench.procs import ALL_CORES

PACKAGES = (
    "strawberry-graphql", "graphql-core", "starlette", "uvicorn", "httpx", "aiohttp",
    "httpx-aiohttp", "orjson", "uvloop", "httptools",
)  # fmt: skip


def _first_line(args: list[str]) -> str:
    if shutil.which(args[0]) is None and not Path(args[0]).exists():
        return "not installed"
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=10)
    return (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout + done.stderr else ""


def git_state() -> str:
    """The commit measured, and how many files under src/ differed from it."""
    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        return "unknown (no git checkout)"
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False, timeout=10,
    ).stdout.strip()  # fmt: skip
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
        capture_output=True, text=True, check=False, timeout=10,
    ).stdout.splitlines()  # fmt: skip
    return f"commit {head}" + (f" + {len(dirty)} uncommitted file(s) in src/" if dirty else "")


def environment() -> dict[str, str]:
    cpu = "unknown"
    memory = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    found = {
        "nproc": str(len(ALL_CORES)),
        "CPU": cpu,
        "memory": memory,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["jobgate"] = git_state()
    found["wrk"] = _first_line(["wrk", "--version"]).split(" [")[0]
    found["nginx"] = _first_line(["nginx", "-v"]).replace("nginx version: ", "")
    return found
