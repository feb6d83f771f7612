"""The gateway's settings as values: what a config file (``loading.py``) turns into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jobgate.config.auth import AuthSettings
from jobgate.domain import Provider

# A vendor's own config values (``SourceKeys.options``): text, or a list of texts.
OptionValue = str | tuple[str, ...]


class ConfigError(Exception):
    """A config file that cannot be used; ``str()`` is the one line to show the operator."""

    def __init__(
        self, file: str, message: str, *, source: str | None = None, key: str | None = None
    ) -> None:
        where = file
        if source is not None:
            where += f": [sources.{source}]"
        if key is not None:
            where += f" {key}" if source is not None else f": {key}"
        super().__init__(f"{where}: {message}")


# Seconds past request_timeout before a mutation is cut short without its payload: its calls
# end by the deadline (a write early enough to read the job back), so this is a last resort.
MUTATION_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class ServerSettings:
    graphiql: bool = True
    introspection: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    request_timeout: float = 30.0
    max_ids: int = 100
    # graphql-armor's defaults. Depth counts nested selection sets; the deepest legitimate
    # query (manageJobs > results > job > details > customFields > id) is 5.
    max_depth: int = 6
    max_aliases: int = 15
    max_directives: int = 50
    max_tokens: int = 1000
    max_body_bytes: int = 100_000
    csrf_prevention: bool = True  # see jobgate.web.csrf
    csrf_header: str = "x-jobgate-csrf"
    metrics: bool = True  # serve GET /metrics (Prometheus text format)
    # At start, one cheap read per source, so /readyz and `sources { healthy }` know each works.
    probe_sources: bool = True
    # Speed-ups built on Strawberry's and graphql-core's internals (jobgate.internals): cheaper
    # resolvers and an executor that frees its state; false runs the libraries' own paths.
    fast_paths: bool = True
    # Parsed and validated documents (and constant answers) kept, up to 16 MB.
    document_cache: bool = True
    # Automatic persisted queries (Apollo's APQ): documents named by their SHA-256 hash.
    persisted_queries: bool = True
    max_page_size: int = 100  # searchJobs(first:) at most this
    # Live updates (jobUpdated over WebSocket or SSE).
    max_subscriptions_per_connection: int = 20
    max_live_connections_per_client: int = 10
    # Signs searchJobs cursors. Unset: a random key per start (`jobgate serve --workers N`
    # shares one among its workers), so cursors do not outlive a restart.
    cursor_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SourceSettings:
    name: str
    provider: Provider
    # "" only for a Data Cloud source whose token exchange names its instance_url.
    base_url: str = ""
    token: str | None = field(default=None, repr=False)  # a fixed token, never renewed
    # What obtains tokens that renew themselves (PROVIDERS.md §5), per provider.
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    login_url: str | None = None  # data-cloud: the Salesforce login host
    private_key_file: str | None = None  # data-cloud: JWT bearer flow
    private_key: str | None = field(default=None, repr=False)  # that file's PEM, read at load
    token_url: str | None = None
    timeout: float = 10.0
    connect_timeout: float = 3.0
    max_concurrency: int = 16
    retries: int = 2  # retries of a failed read (0-5); writes are never retried
    breaker_failures: int = 5  # consecutive failed calls that open the circuit
    breaker_cooldown: float = 30.0  # seconds an open circuit fails fast before a probe
    coalesce_reads: bool = True  # concurrent reads of one job share one upstream read
    listing: bool = True  # searchJobs lists this source (false: only when named, as refused)
    poll_interval: float = 5.0  # jobUpdated: seconds between reads of the watched jobs
    max_answer_bytes: int = 4_000_000  # an upstream answer longer than this is not read
    # Plain reads: "lean", jobgate's own kept-alive HTTP/1.1 GETs (upstream/reads.py), or
    # "aiohttp", the client writes always use.
    read_client: str = "lean"
    # The vendor's own keys (its ``SourceKeys.options``), as the config file gave them.
    options: Mapping[str, OptionValue] = field(default_factory=dict)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a response or a log line."""
        values = (self.token, self.client_secret, self.password, self.private_key)
        return tuple(s for s in values if s)

    def option(self, key: str, default: str) -> str:
        """A text option of the vendor's, or ``default`` when the file leaves it out."""
        value = self.options.get(key, default)
        return value if isinstance(value, str) else default

    def option_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A list option of the vendor's, or ``default`` when the file leaves it out."""
        value = self.options.get(key, default)
        return value if isinstance(value, tuple) else default

    @property
    def renews_tokens(self) -> bool:
        """Whether the source obtains its tokens (and renews them) instead of a fixed one."""
        return self.token is None


@dataclass(frozen=True, slots=True)
class IdempotencySettings:
    """``[idempotency]``: where Idempotency-Key answers are kept, and for how long."""

    redis_url: str | None = field(default=None, repr=False)  # shared by replicas on any host
    # A SQLite file shared by the processes of one host (`serve --workers N` makes one).
    path: str | None = None
    ttl_seconds: float = 86_400.0
    max_keys: int = 100_000  # bound of the in-memory store (one process, no redis_url or path)


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """``[audit]``: where the audit trail goes besides the ``jobgate.audit`` log stream."""

    file: str | None = None  # JSON lines, rotated; with --workers N each worker adds ".<pid>"
    max_bytes: int = 10_000_000
    backups: int = 5


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """``[telemetry]``: OpenTelemetry traces, exported over OTLP/HTTP; off without an endpoint."""

    otlp_endpoint: str | None = None  # e.g. http://otel-collector:4318/v1/traces
    service_name: str = "jobgate"
    sample_ratio: float = 1.0  # of the traces that start here; a caller's decision is kept
    timeout: float = 10.0  # seconds per export
    # Sent with every export (a collector's API key): secrets, never logged.
    otlp_headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def enabled(self) -> bool:
        return self.otlp_endpoint is not None


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings
    sources: Mapping[str, SourceSettings]
    file: str | None = None
    demo: bool = False
    idempotency: IdempotencySettings = field(default_factory=IdempotencySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)  # empty: open to every caller
    audit: AuditSettings = field(default_factory=AuditSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)


def startup_warnings(settings: Settings, path: str) -> list[str]:
    """What an operator should hear about a config that loads: ``serve`` and ``check-config``
    say the same words."""
    found = []
    if not settings.auth.enabled:
        found.append(
            f"{path} has no [auth] table: anyone who can reach this gateway can read and "
            "change jobs."
        )
    off = [name for name, source in settings.sources.items() if not source.listing]
    if off:
        found.append(f"{path}: listing = false for {', '.join(off)}: searchJobs skips them.")
    return found
