"""A clean install runs exactly the locked versions: every distribution requirements.lock names
is installed at its locked version (CI installs from a fresh clone with `-c requirements.lock`)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

LOCK = Path(__file__).parent.parent / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text().splitlines():
        if (match := _PIN.match(line.strip())) is not None:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_every_locked_distribution_that_is_installed_has_its_locked_version() -> None:
    locked = pins()
    assert len(locked) > 30
    installed = {
        (dist.metadata["Name"] or "").lower().replace("_", "-"): dist.version
        for dist in metadata.distributions()
    }
    wrong = {
        name: (version, installed[name])
        for name, version in locked.items()
        if name in installed and installed[name] != version
    }
    assert wrong == {}, f"locked vs installed: {wrong}"
    # The runtime dependencies are all locked (and so all installed at their locked versions).
    for needed in ("strawberry-graphql", "graphql-core", "starlette", "httpx", "uvicorn"):
        assert needed in locked and needed in installed, needed


def test_every_runtime_dependency_is_in_the_lock() -> None:
    requires = metadata.requires("jobgate") or []
    runtime = {
        re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-")
        for r in requires
        if "extra ==" not in r
    }
    assert runtime - set(pins()) == set()
