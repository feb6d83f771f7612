"""Sitecore Content Hub fetch jobs (PROVIDERS.md §1): read, and cancel a Pending job.

The fetch-job resource has no ``id`` key: a job's id is the one it was read by (and the last
segment of ``self.href``). The cancel PUT must echo the job's own fields back as they were sent,
and its ``204`` does not say whether the state changed, so every cancel is a read, a write and a
read back (``confirm.py``); only the read back can report success.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import ActionRequest, ErrorCode, Job, JobError, JobFailure
from jobgate.domain.content_hub import (
    CANCELLED,
    CONTENT_HUB,
    RULES,
    ContentHubDetails,
    Labels,
    rule_key,
)
from jobgate.domain.listing import ListPage, ListQuery
from jobgate.providers.base import (
    HttpProvider,
    optional_int,
    optional_text,
    text_field,
)
from jobgate.providers.confirm import Change, Write
from jobgate.providers.fanout import for_each
from jobgate.upstream.channel import build_channel
from jobgate.upstream.credentials import Grant, bearer
from jobgate.upstream.grants import TokenEndpoint, credentials_for, password_then_refresh

JOBS_PATH = "/api/fetchjobs"
# What names each call's trace span (jobgate.telemetry): never an id.
ROUTES = (JOBS_PATH, f"{JOBS_PATH}/{{id}}")
MAX_PAGE = 100
AUTH_HEADERS = {"bearer": "Authorization", "x-auth-token": "X-Auth-Token"}


def is_native_id(native_id: str) -> bool:
    """Fetch job ids are integers; anything else cannot exist upstream."""
    return native_id.isascii() and native_id.isdigit()


class ContentHubProvider(HttpProvider):
    provider = CONTENT_HUB
    rules = RULES

    async def probe_call(self) -> httpx.Response:
        # Fetch job 0 never exists: a 404 shows the tenant answers and takes the credentials.
        return await self.http.get(f"{JOBS_PATH}/0")

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        return await for_each(native_ids, self.read_job)

    async def read_job(self, native_id: str) -> Job | None:
        if not is_native_id(native_id):
            return None
        body = await self.get_object(f"{JOBS_PATH}/{native_id}")
        return None if body is None else self.job_from(body, native_id)

    async def list_page(self, query: ListQuery) -> ListPage:
        """``GET /api/fetchjobs?skip&take&state=`` (undocumented; ``listing = false`` where a
        tenant lacks it) → ``{"items", "total_items", "returned_items"}``. ``state`` takes one
        state: it is sent when the wanted statuses come from one state (the gateway still
        filters, e.g. a Completed job that failed)."""
        params = {"skip": str(query.offset), "take": str(min(query.limit, MAX_PAGE))}
        keys = RULES.states_of(query.statuses)
        if keys is not None:
            states = {key.partition(":")[0] for key in keys}
            if not states:
                return ListPage(query.offset, [], end=True)
            if len(states) == 1:
                params["state"] = states.pop()
        items, body = await self.get_list(JOBS_PATH, params, "items")
        total = optional_int(body, "total_items")
        seen = query.offset + len(items)
        end = not items or (total is not None and seen >= total)
        return ListPage(query.offset, [self.job_from(item) for item in items], end=end)

    def change_for(self, request: ActionRequest) -> Change:
        return CancelFetchJob(request.action, self)  # the one action the rules offer

    def job_from(self, body: Mapping[str, Any], native_id: str | None = None) -> Job:
        """The job in ``body``; its id is ``native_id`` (the one it was read by) or, for a job
        found in a list, the last segment of its ``self.href``."""
        state = text_field(self.source, body, "state")
        condition = optional_text(body, "condition")
        key = rule_key(state, condition)
        return Job(
            source=self.source,
            native_id=native_id or self._id_from_self(body),
            provider=CONTENT_HUB,
            status=RULES.status_of(key),
            provider_status=state,
            allowed_actions=RULES.allowed_actions(key),
            details=ContentHubDetails(
                condition=condition,
                state_description=_state_description(body.get("state_description")),
                scope=optional_text(body, "scope"),
                file_count=_count_as_sent(body.get("file_count")),
                files_completed=optional_int(body, "files_completed"),
                started_on=optional_text(body, "started_on"),
                completed_on=optional_text(body, "completed_on"),
                owner=_href(body, "owner"),
            ),
        )

    def _id_from_self(self, body: Mapping[str, Any]) -> str:
        href = _href(body, "self") or ""
        native_id = href.rstrip("/").rpartition("/")[2]
        if not is_native_id(native_id):
            raise JobFailure(
                JobError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"Source '{self.source}' answered a fetch job without a usable 'self.href'.",
                )
            )
        return native_id


class CancelFetchJob(Change):
    """``PUT /api/fetchjobs/{id}``: the job's fields as read, with only ``state`` changed."""

    upstream: ContentHubProvider

    def write(self, jobs: Sequence[Job]) -> Write:
        [job] = jobs
        details = job.details
        assert isinstance(details, ContentHubDetails)
        # Every field the upstream compares must equal the stored job: echo what it sent, and
        # leave out what it did not (state_description may be left out only when it is null).
        body: dict[str, Any] = {}
        if details.condition is not None:
            body["condition"] = details.condition
        if details.file_count is not None:
            body["file_count"] = details.file_count
        if details.scope is not None:
            body["scope"] = details.scope
        if details.state_description is not None:
            body["state_description"] = _as_sent(details.state_description)
        body["state"] = CANCELLED
        return Write("PUT", f"{JOBS_PATH}/{job.native_id}", body)

    def missing(self, job: Job) -> list[str]:
        return [] if job.provider_status == CANCELLED else [f"state '{job.provider_status}'"]

    async def refused(self, response: httpx.Response, jobs: Sequence[Job]) -> JobError:
        """A 403 means the job moved on since it was read, or the echoed fields did not match:
        the job, read again, tells which."""
        refused = self.upstream.error(response)
        if response.status_code != 403:
            return refused
        [job] = jobs
        try:
            now = await self.upstream.read_job(job.native_id)
        except JobFailure:
            return refused
        if now is None:
            detail = f"Job '{job.id}' no longer exists."
            return JobError(
                ErrorCode.NOT_FOUND, refused.message, refused.upstream_status, detail=detail
            )
        if self.action in now.allowed_actions:  # the rules still allow it: not the state
            return JobError(
                ErrorCode.FORBIDDEN,
                refused.message,
                upstream_status=refused.upstream_status,
                detail=f"The job is still '{now.provider_status}'; "
                "the upstream refused the fields sent.",
                provider_status=now.provider_status,
            )
        return JobError(
            ErrorCode.INVALID_STATE,
            f"{refused.message} The job is now in state '{now.provider_status}'.",
            upstream_status=refused.upstream_status,
            provider_status=now.provider_status,
        )


def _href(body: Mapping[str, Any], key: str) -> str | None:
    link = body.get(key)
    return optional_text(link, "href") if isinstance(link, dict) else None


def _state_description(value: object) -> str | Labels | None:
    """A Labels object as (culture, text) pairs in the order sent, or a plain string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return tuple(
            (str(culture), text if isinstance(text, str) else None)
            for culture, text in value.items()
        )
    return None


def _as_sent(value: str | Labels) -> str | dict[str, str | None]:
    return value if isinstance(value, str) else dict(value)


def _count_as_sent(value: object) -> int | str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return value
    return None


def build(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> ContentHubProvider:
    """OAuth (password grant, renewed with the refresh token), or a fixed token sent as a bearer
    token or as the legacy ``X-Auth-Token`` header, which never expires."""
    auth_header = settings.option("auth_header", "bearer")
    header = AUTH_HEADERS.get(auth_header)
    if header is None:
        raise ValueError(f"unknown auth_header {auth_header!r} for Content Hub")

    def password_grant(endpoint: TokenEndpoint) -> Grant:
        # Config requires all four with OAuth; they are not read with a fixed token.
        return password_then_refresh(
            endpoint,
            client_id=settings.client_id or "",
            client_secret=settings.client_secret or "",
            username=settings.username or "",
            password=settings.password or "",
        )

    credentials = credentials_for(
        settings,
        transport,
        settings.token_url or f"{settings.base_url}/oauth/token",
        password_grant,
        sign=bearer if header == "Authorization" else _legacy,
    )
    return ContentHubProvider(
        settings.name, build_channel(settings, transport, credentials=credentials, routes=ROUTES)
    )


def _legacy(headers: MutableMapping[str, str], value: str) -> None:
    headers["X-Auth-Token"] = value
