"""What every internals test shares: the versions jobgate.internals was written against."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

LOCK = Path(__file__).parents[2] / "requirements.lock"


def locked(distribution: str) -> str:
    """The version of ``distribution`` in requirements.lock."""
    wanted = re.sub(r"[-_.]+", "-", distribution).lower()
    for line in LOCK.read_text().splitlines():
        name, _, pinned = line.partition("==")
        if pinned and re.sub(r"[-_.]+", "-", name).lower() == wanted:
            return pinned.strip()
    raise AssertionError(f"{distribution} is not in requirements.lock")


def check_version(distribution: str, module: str) -> None:
    """The installed version is the one the internals module was written against: otherwise
    say which module to review (then re-run scripts/lock)."""
    installed, pinned = version(distribution), locked(distribution)
    assert installed == pinned, (
        f"{distribution} {installed} is installed, but jobgate/internals/{module}.py was written "
        f"against {pinned} (requirements.lock): check that module's internals and update the lock"
    )
