"""The real commands as real processes, talking real HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.wire import free_port

DEMO_JOB = "ingest:7505e000001NLkPAAW"


class Process:
    """A jobgate command running in the background; its output goes to a file (no pipe fills)."""

    def __init__(self, args: tuple[str, ...], log: Path, env: dict[str, str] | None) -> None:
        self.log = log
        with log.open("w") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "jobgate.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def wait_until_up(self, base: str, path: str = "/healthz") -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited early:\n{self.output()}")
            try:
                if httpx.get(base + path, timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"{base} did not come up:\n{self.output()}")


@contextlib.contextmanager
def running(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Process]:
    process = Process(args, tmp_path / f"{args[0]}-{time.monotonic_ns()}.log", env)
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def simulated_upstreams(tmp_path: Path) -> Iterator[Path]:
    """`jobgate simulate` running, and a config file that points a gateway at it."""
    from jobgate.simulators.suite import build_vendors, config_toml

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(tmp_path, "simulate", "--port", str(port)) as simulator:
        simulator.wait_until_up(base, "/data-cloud/api/v1/ingest/jobs")
        config = tmp_path / "jobgate.toml"
        config.write_text(config_toml(build_vendors(), base))
        yield config


def test_serve_demo_answers_over_http(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(tmp_path, "serve", "--port", str(port)) as process:
        process.wait_until_up(base)
        query = f'{{ job(id: "{DEMO_JOB}") {{ id status providerStatus }} }}'
        response = httpx.post(base + "/graphql", json={"query": query}, timeout=10)
        assert response.status_code == 200
        assert response.json() == {
            "data": {"job": {"id": DEMO_JOB, "status": "OPEN", "providerStatus": "Open"}}
        }
        ide = httpx.get(base + "/graphql", headers={"accept": "text/html"}, timeout=10)
        assert ide.status_code == 200 and "graphiql" in ide.text.lower()
    assert f"GraphiQL: http://127.0.0.1:{port}/graphql" in process.output()


def test_gateway_over_real_http_to_simulate(tmp_path: Path) -> None:
    """`jobgate simulate` + `jobgate serve --config`: the production transport end to end."""
    gw_port = free_port()
    gw_base = f"http://127.0.0.1:{gw_port}"
    with simulated_upstreams(tmp_path) as config:
        with running(tmp_path, "serve", "--config", str(config), "--port", str(gw_port)) as gw:
            gw.wait_until_up(gw_base)
            mutation = (
                f'mutation {{ closeJob(id: "{DEMO_JOB}") '
                "{ job { providerStatus } error { code message } } }"
            )
            response = httpx.post(gw_base + "/graphql", json={"query": mutation}, timeout=10)
            assert response.json() == {
                "data": {"closeJob": {"job": {"providerStatus": "UploadComplete"}, "error": None}}
            }
            again = httpx.post(gw_base + "/graphql", json={"query": mutation}, timeout=10)
            assert again.json()["data"]["closeJob"]["error"]["code"] == "INVALID_STATE"
