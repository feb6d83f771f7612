"""``python -m bench``: the gateway under load against local upstreams, and bench/RESULTS.md.

Everything runs on 127.0.0.1 and stops by itself; every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench import machine, peers, profile, report, scenarios, targets, upstreams, wrk
from bench.procs import BenchError, cpu_count, pin_self
from bench.session import Findings, Session
from bench.upstreams import Upstream

HERE = Path(__file__).resolve().parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (~1 minute in all)")
    parser.add_argument("--soak", action="store_true", help="add the 2-minute RSS soak")
    parser.add_argument("--soak-seconds", type=float, default=120.0)
    parser.add_argument("--duration", type=float, help="seconds per measured run")
    parser.add_argument(
        "--upstream",
        default="auto",
        choices=["auto", "nginx", "static", "url"],
        help="the static upstream: nginx if installed (auto), the asyncio one, or --upstream-url",
    )
    parser.add_argument("--upstream-url", help="a Data Cloud-compatible base URL on 127.0.0.1")
    parser.add_argument("--upstream-token", default="bench", help="its bearer token")
    parser.add_argument("--job-id", action="append", default=[], help="native ids at that URL")
    parser.add_argument("--loadgen", default="auto", choices=["auto", "wrk", "asyncio"])
    parser.add_argument("--no-levers", action="store_true", help="skip the before/after runs")
    parser.add_argument("--no-workers", action="store_true", help="skip --workers 2")
    parser.add_argument("--no-sim", action="store_true", help="skip the simulator phase")
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy")
    parser.add_argument("--gateway-log-level", default="warning")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="before each run, wait up to this many seconds for load from outside the bench "
        "to stop (default: 15 for a full run, 0 for --quick)",
    )
    parser.add_argument("--results", help="where to write the report (full run: bench/RESULTS.md)")
    parser.add_argument(
        "--busy-retries",
        type=int,
        default=1,
        help="run a measurement again (this many times) when other processes were busy; the "
        "least disturbed attempt is kept (full run only)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--peers",
        metavar="MARKDOWN",
        help="a bench-peers results table (bash ../shared/bench-peers/run.sh): other gateways' "
        "figures for the report and the ratio targets (with --render-from: add or replace them)",
    )
    parser.add_argument(
        "--render-from",
        metavar="JSON",
        help="only write the report again from a run's saved figures (e.g. bench/RESULTS.json)",
    )
    return parser


def _static_upstream(args: argparse.Namespace, work: Path, cores: list[int] | None) -> Upstream:
    if args.upstream == "url" or args.upstream_url:
        if not args.upstream_url:
            raise BenchError("--upstream url needs --upstream-url")
        return upstreams.from_url(args.upstream_url, args.upstream_token, args.job_id)
    if args.upstream == "nginx" or (args.upstream == "auto" and upstreams.nginx_available()):
        return upstreams.start_nginx(work, cores)
    return upstreams.start_static(work, cores)


def write_report(findings: Findings, results: Path) -> None:
    analysis_file = HERE / "ANALYSIS.md"
    analysis = analysis_file.read_text() if analysis_file.exists() else None
    results.write_text(report.render(findings, analysis))
    print(f"\nwrote {results}")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.render_from:
        return _render_again(args)
    if args.loadgen == "wrk" and not wrk.available():
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    two_cores = cpu_count() >= 2
    other_cores = list(range(1, cpu_count())) if two_cores else None
    if other_cores:
        pin_self(other_cores)
    work = Path(tempfile.mkdtemp(prefix="jobgate-bench-"))
    findings = Findings(
        mode=("quick" if args.quick else "full") + (" + soak" if args.soak else ""),
        started=report.now(),
        command=(
            "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
        ).strip(),
        environment=machine.environment(),
        peers=peers.load(Path(args.peers)) if args.peers else None,
    )
    session = _session(args, findings, work, other_cores)
    print(f"bench ({findings.mode}): {'; '.join(findings.upstreams)}; work dir {work}", flush=True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()
    try:
        _phases(args, session, other_cores)
    finally:
        signal.signal(signal.SIGTERM, previous)
    findings.notes.append(f"The whole run took {time.monotonic() - started:.0f} s.")
    _finish(args, findings)
    if args.keep:
        print(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any("stopped early" in n or "interrupted" in n for n in findings.notes) else 0


def _render_again(args: argparse.Namespace) -> int:
    source = Path(args.render_from)
    saved = report.from_json(source.read_bytes())
    if args.peers:
        saved.peers = peers.load(Path(args.peers))
        source.write_bytes(report.to_json(saved))
    write_report(saved, source.with_suffix(".md"))
    return 0


def _session(
    args: argparse.Namespace, findings: Findings, work: Path, other_cores: list[int] | None
) -> Session:
    quick = args.quick
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and wrk.available())
    duration = args.duration or (2.0 if quick else 10.0)
    session = Session(
        work=work,
        duration_s=duration,
        warmup_s=0.5 if quick else 2.0,
        use_wrk=use_wrk,
        gateway_cores=[0] if other_cores else None,
        other_cores=other_cores,
        log_level=args.gateway_log_level,
        findings=findings,
        quiet_wait_s=args.quiet_wait if args.quiet_wait is not None else (0.0 if quick else 15.0),
        busy_retries=0 if quick else args.busy_retries,
    )
    findings.upstreams += [
        "gateway pinned to core 0 (taskset); upstream, load generator and bench on the others"
        if other_cores
        else "one core: nothing pinned",
        "load: wrk -t1 (closed loop)"
        if use_wrk
        else "load: the bench's asyncio closed-loop client",
        f"{duration:g} s per measured run after a {session.warmup_s:g} s warm-up",
        f"gateway log level {args.gateway_log_level}",
    ]
    return session


def _phases(args: argparse.Namespace, session: Session, other_cores: list[int] | None) -> None:
    """Every phase the arguments ask for; an interruption or a bench error ends them early."""
    findings, work = session.findings, session.work
    do_profile = not args.quick and not args.no_profile and profile.available()
    static: Upstream | None = None
    sim: Upstream | None = None
    try:
        static = _static_upstream(args, work, other_cores)
        findings.upstreams.append(f"static upstream: {static.description}")
        print(f"static upstream: {static.description} on {static.origin}", flush=True)
        scenarios.baseline(session, static, (1, 32))
        scenarios.gateway_queries(session, static, profile_s=8.0 if do_profile else 0.0)
        if not args.quick and not args.no_levers:
            scenarios.levers(session, static)
        if not args.no_workers:
            if other_cores:
                scenarios.workers(session, static)
            else:
                findings.notes.append("One core only: the --workers 2 comparison was skipped.")
        if args.soak:
            scenarios.soak(session, static, args.soak_seconds)
        static.stop()
        if not args.no_sim:
            sim = upstreams.start_sim(work, other_cores, per_source=50)
            findings.upstreams.append(f"simulator upstream: {sim.description}")
            print(f"simulator upstream: {sim.description}", flush=True)
            scenarios.simulators(session, sim, mutations=100 if args.quick else 1000)
    except KeyboardInterrupt:
        findings.notes.append("The run was interrupted; the figures are partial.")
        print("bench: interrupted, stopping", file=sys.stderr)
    except BenchError as exc:
        findings.notes.append(f"The run stopped early: {exc}")
        print(f"bench: {exc}", file=sys.stderr)
    finally:
        session.stop_all()
        for upstream in (static, sim):
            if upstream is not None:
                upstream.stop()


def _finish(args: argparse.Namespace, findings: Findings) -> None:
    at_end = machine.git_state()
    if at_end != findings.environment.get("jobgate"):
        # Each gateway process loads src/ when it starts: later phases ran newer code.
        findings.notes.append(
            f"src/ changed during the run: {findings.environment.get('jobgate')} at the start, "
            f"{at_end} at the end; phases after the change measured the newer code."
        )
    print("\ntargets:")
    for v in targets.evaluate(findings):
        print(f"  {v.verdict:<4}  {v.target}: {v.measured}")
    results = args.results or (None if args.quick else str(HERE / "RESULTS.md"))
    if results:
        try:
            figures = Path(results).with_suffix(".json")
            figures.write_bytes(report.to_json(findings))
            print(f"\nwrote {figures}")
        finally:  # the figures of a long run are not lost to a bug in one of the two writers
            write_report(findings, Path(results))


if __name__ == "__main__":
    sys.exit(main())
