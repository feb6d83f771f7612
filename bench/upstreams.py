"""The upstreams a bench run can use, started and described the same way.

- ``nginx``: nginx serving static Data Cloud job JSON (the issue's set-up), one worker;
- ``static``: the same files from a tiny asyncio server (when nginx is not installed);
- ``sim``: every jobgate simulator over real HTTP, counting requests (all configured sources);
- ``url``: any Data Cloud-compatible base URL on 127.0.0.1 (nothing is counted there).
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import static_jobs
from bench.procs import BenchError, Process, free_port, python_module, require_loopback

STATIC_JOBS = 2000  # enough for 32 connections of Q20 windows that never overlap
MAX_ALIASES = 20


@dataclass
class Upstream:
    kind: str
    description: str
    port: int
    sources: dict[str, dict[str, Any]]  # [sources.*] tables of the gateway config
    job_ids: dict[str, list[str]]  # gateway ids per source, known to exist
    direct_path: str  # a direct GET of the first Data Cloud job, for the baseline
    direct_headers: tuple[tuple[str, str], ...]
    count: Callable[[], int | None]  # requests served so far (None: cannot count)
    processes: list[Process] = field(default_factory=list)
    make_jobs: Callable[[str, str, int], list[str]] | None = None  # (source, scenario, n)
    providers: dict[str, str] = field(default_factory=dict)
    count_by_source: Callable[[], dict[str, int]] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def config_toml(
        self,
        *,
        source_options: Mapping[str, Any] | None = None,
        server_options: Mapping[str, Any] | None = None,
    ) -> str:
        """The gateway's config for this upstream (``source_options`` set on every source,
        ``server_options`` in ``[server]``)."""
        # Q20 asks for twenty aliased jobs: above the default limit of aliases per operation.
        server = {"graphiql": False, "max_aliases": MAX_ALIASES, **(server_options or {})}
        lines = ["[server]", *(f"{key} = {_toml_value(v)}" for key, v in server.items())]
        lines.append("")
        for name, table in self.sources.items():
            values = {**table, **(source_options or {})}
            lines.append(f"[sources.{name}]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
            lines.append("")
        return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(str(value)).decode()  # a JSON string is a valid TOML basic string


def _static_sources(port: int) -> dict[str, dict[str, Any]]:
    return {
        static_jobs.SOURCE: {
            "provider": "data-cloud",
            "base_url": f"http://127.0.0.1:{port}",
            "token": static_jobs.TOKEN,
        }
    }


def _static_ids() -> dict[str, list[str]]:
    return {
        static_jobs.SOURCE: [
            f"{static_jobs.SOURCE}:{n}" for n in static_jobs.native_ids(STATIC_JOBS)
        ]
    }


def _auth() -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {static_jobs.TOKEN}"),)


NGINX_CONF = """\
worker_processes 1;
daemon off;
{user}pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location {jobs_path}/ {{ root {root}/www; default_type application/json; }}
        location = /_bench/status {{ stub_status; }}
    }}
}}
"""


def nginx_available() -> bool:
    return _nginx() is not None


def _nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def _write_static_files(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    jobs_dir = root / "www" / static_jobs.JOBS_PATH.lstrip("/")
    jobs_dir.mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    jobs = static_jobs.jobs(STATIC_JOBS)
    for native_id, job in jobs.items():
        (jobs_dir / native_id).write_bytes(orjson.dumps(job))
    # nginx's workers may run as another user: let them read the files.
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    jobs_file = root / "jobs.json"
    jobs_file.write_bytes(orjson.dumps(jobs))
    return jobs_file


def start_nginx(work: Path, cores: Sequence[int] | None) -> Upstream:
    nginx = _nginx()
    if nginx is None:
        raise BenchError("nginx is not installed")
    root = work / "nginx"
    _write_static_files(root)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            root=root,
            port=port,
            jobs_path=static_jobs.JOBS_PATH,
            user="user root root;\n" if os.geteuid() == 0 else "",
        )
    )
    process = Process("nginx", [nginx, "-p", str(root), "-c", str(conf)], work, cores=cores)
    status_url = f"http://127.0.0.1:{port}/_bench/status"
    process.wait_until_up(status_url)
    reads = 0

    def count() -> int | None:
        nonlocal reads
        text = httpx.get(status_url, timeout=5).text
        reads += 1
        # "Active connections: N\nserver accepts handled requests\n A H R\n...": R counts
        # this status request and every earlier one too.
        return int(text.splitlines()[2].split()[2]) - reads

    return _serving_static_jobs(
        "nginx", "nginx (1 worker) serving static Data Cloud job JSON", port, count, process
    )


def start_static(work: Path, cores: Sequence[int] | None) -> Upstream:
    root = work / "static"
    jobs_file = _write_static_files(root)
    port = free_port()
    process = Process(
        "static-upstream",
        python_module("bench.static_upstream", "--port", str(port), "--jobs", str(jobs_file)),
        work,
        cores=cores,
    )
    count_url = f"http://127.0.0.1:{port}/_bench/count"
    process.wait_until_up(count_url)

    def count() -> int | None:
        return int(httpx.get(count_url, timeout=5).json()["requests"])

    return _serving_static_jobs(
        "static",
        "a minimal asyncio server serving static Data Cloud job JSON",
        port,
        count,
        process,
    )


def _serving_static_jobs(
    kind: str, description: str, port: int, count: Callable[[], int | None], process: Process
) -> Upstream:
    """An upstream serving the static Data Cloud jobs, whatever server serves them."""
    native = static_jobs.native_ids(1)[0]
    return Upstream(
        kind=kind,
        description=description,
        port=port,
        sources=_static_sources(port),
        job_ids=_static_ids(),
        direct_path=f"{static_jobs.JOBS_PATH}/{native}",
        direct_headers=_auth(),
        count=count,
        processes=[process],
        providers={static_jobs.SOURCE: "data-cloud"},
    )


def start_sim(work: Path, cores: Sequence[int] | None, per_source: int = 20) -> Upstream:
    port = free_port()
    process = Process(
        "sim-upstream",
        python_module("bench.sim_upstream", "--port", str(port), "--per-source", str(per_source)),
        work,
        cores=cores,
    )
    base = f"http://127.0.0.1:{port}"
    process.wait_until_up(base + "/_bench/info")
    info = httpx.get(base + "/_bench/info", timeout=10).json()
    sources = tomllib.loads(info["config_toml"])["sources"]
    providers: dict[str, str] = info["providers"]

    def count() -> int | None:
        return int(httpx.get(base + "/_bench/count", timeout=5).json()["requests"])

    def count_by_source() -> dict[str, int]:
        return dict(httpx.get(base + "/_bench/count", timeout=5).json()["by_source"])

    def make_jobs(source: str, scenario: str, n: int) -> list[str]:
        answer = httpx.post(
            base + "/_bench/jobs",
            params={"source": source, "scenario": scenario, "n": str(n)},
            timeout=60,
        )
        answer.raise_for_status()
        return list(answer.json()["ids"])

    direct_path = ""
    headers: tuple[tuple[str, str], ...] = ()
    dc = next((s for s, p in providers.items() if p == "data-cloud"), None)
    # The direct GET needs a fixed token; a Data Cloud source that signs in has none to share.
    if dc is not None and info["ids"].get(dc) and "token" in info["options"][dc]:
        native = info["ids"][dc][0].partition(":")[2]
        direct_path = f"{info['mounts'][dc]}{static_jobs.JOBS_PATH}/{native}"
        headers = (("Authorization", f"Bearer {info['options'][dc]['token']}"),)
    return Upstream(
        kind="sim",
        description="jobgate's simulators (Starlette, one process) over real HTTP: "
        + ", ".join(f"{s} ({p})" for s, p in providers.items()),
        port=port,
        sources=sources,
        job_ids=info["ids"],
        direct_path=direct_path,
        direct_headers=headers,
        count=count,
        processes=[process],
        make_jobs=make_jobs,
        providers=providers,
        count_by_source=count_by_source,
    )


def from_url(base_url: str, token: str, job_ids: Sequence[str]) -> Upstream:
    """A Data Cloud-compatible upstream someone else runs on 127.0.0.1 (ids listed if not given)."""
    require_loopback(base_url)
    base_url = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    native = list(job_ids)
    if not native:
        listed = httpx.get(
            base_url + static_jobs.JOBS_PATH, params={"limit": "100"}, headers=headers, timeout=10
        )
        listed.raise_for_status()
        native = [str(job["id"]) for job in listed.json()["data"]]
    if not native:
        raise BenchError(f"{base_url} lists no Data Cloud jobs; pass --job-id")
    port = httpx.URL(base_url).port or 80
    prefix = httpx.URL(base_url).path.rstrip("/")
    return Upstream(
        kind="url",
        description=f"Data Cloud-compatible upstream at {base_url}",
        port=port,
        sources={
            static_jobs.SOURCE: {"provider": "data-cloud", "base_url": base_url, "token": token}
        },
        job_ids={static_jobs.SOURCE: [f"{static_jobs.SOURCE}:{n}" for n in native]},
        direct_path=f"{prefix}{static_jobs.JOBS_PATH}/{native[0]}",
        direct_headers=tuple(headers.items()),
        count=lambda: None,
        providers={static_jobs.SOURCE: "data-cloud"},
    )
