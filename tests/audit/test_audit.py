"""The graphql-http audit (GraphQL-over-HTTP spec conformance) against ``jobgate serve`` running.

Two runs against the demo: as the audit sends its requests, every MUST and SHOULD passes (the
only failures allowed are MAY audits of bare GETs, which CSRF prevention refuses by design);
with a CSRF preflight header on every request, every audit passes, MAY included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_processes import free_port, running

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("audit.mjs")
MODULES = Path(os.environ.get("GRAPHQL_HTTP_PREFIX", ROOT / ".venv" / "audit"))
NODE = shutil.which("node")


def audit(url: str, *args: str) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT), url, "--modules", str(MODULES), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(done.stdout, done.stderr)  # shown by pytest when the test fails
    assert done.returncode in (0, 1), f"the audit could not run:\n{done.stdout}\n{done.stderr}"
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def blocking(summary: dict[str, Any]) -> list[str]:
    return [
        f"{f['level']} {f['id']} {f['name']}: {f['reason']}"
        for f in summary["failures"]
        if f["level"] in ("MUST", "SHOULD")
    ]


@pytest.mark.skipif(NODE is None, reason="node is not installed; the graphql-http audit needs it")
def test_graphql_over_http_audit(tmp_path: Path) -> None:
    if not (MODULES / "node_modules" / "graphql-http").is_dir():
        pytest.fail(
            f"graphql-http is not installed under {MODULES}: run scripts/test, or "
            f"npm install --prefix {MODULES} --no-save graphql-http@1"
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(tmp_path, "serve", "--port", str(port)) as process:
        process.wait_until_up(base)
        plain = audit(f"{base}/graphql")
        preflighted = audit(f"{base}/graphql", "--header", "x-jobgate-csrf:1")
    assert not blocking(plain), "\n".join(blocking(plain))
    assert not blocking(preflighted), "\n".join(blocking(preflighted))
    assert plain["counts"].get("MUST ok", 0) >= 10 and plain["counts"].get("SHOULD ok", 0) >= 20
    assert preflighted["failures"] == [], preflighted["failures"]
