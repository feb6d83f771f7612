"""Salesforce Data Cloud Ingestion API bulk jobs (PROVIDERS.md §3): read, close, abort."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import ActionRequest, ErrorCode, Job, JobError
from jobgate.domain.data_cloud import DATA_CLOUD, RULES, TARGET_STATE, DataCloudDetails
from jobgate.domain.listing import ListPage, ListQuery
from jobgate.providers.base import (
    HttpProvider,
    optional_int,
    optional_text,
    optional_time,
    text_field,
)
from jobgate.providers.confirm import Change, Open, Proven, Verdict, Write
from jobgate.providers.fanout import for_each
from jobgate.upstream.channel import build_channel
from jobgate.upstream.credentials import Grant
from jobgate.upstream.grants import TokenEndpoint, credentials_for, salesforce_exchange

JOBS_PATH = "/api/v1/ingest/jobs"
# What names each call's trace span (jobgate.telemetry): never an id.
ROUTES = (JOBS_PATH, f"{JOBS_PATH}/{{id}}")
MAX_PAGE = 100  # the list's limit: 20 by default, at most 100
# The values the list's `states` parameter takes (InProgress is not one of them).
FILTERABLE_STATES = frozenset({"Open", "UploadComplete", "Failed", "Aborted", "JobComplete"})

# Salesforce errorCode values that say more than the HTTP status does.
_CODES = {
    "InvalidJobState": ErrorCode.INVALID_STATE,
    "INVALID_SESSION_ID": ErrorCode.UNAUTHENTICATED,
    "NOT_FOUND": ErrorCode.NOT_FOUND,
    "REQUEST_LIMIT_EXCEEDED": ErrorCode.RATE_LIMITED,
}


class DataCloudProvider(HttpProvider):
    provider = DATA_CLOUD
    rules = RULES
    knows_update_times = True  # systemModstamp

    async def probe_call(self) -> httpx.Response:
        return await self.http.get(JOBS_PATH, params={"limit": "1"})

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        return await for_each(native_ids, self.read_job)

    async def read_job(self, native_id: str) -> Job | None:
        body = await self.get_object(f"{JOBS_PATH}/{native_id}")
        return None if body is None else self.job_from(body)

    async def list_page(self, query: ListQuery) -> ListPage:
        """``GET /jobs?limit&offset&orderBy=createdDate&states=``: ``{"data": [...]}``, no total.

        ``orderBy=createdDate`` because the default order, ``systemModstamp``, moves a job each
        time it changes, and a listing paged by offset would then skip or repeat jobs."""
        limit = min(query.limit, MAX_PAGE)
        params = {"limit": str(limit), "offset": str(query.offset), "orderBy": "createdDate"}
        states = RULES.states_of(query.statuses)
        if states is not None:
            if not states:
                return ListPage(query.offset, [], end=True)
            if states <= FILTERABLE_STATES:  # the others are filtered by the gateway
                params["states"] = ",".join(sorted(states))
        data, _ = await self.get_list(JOBS_PATH, params, "data")
        return ListPage(query.offset, [self.job_from(j) for j in data], end=len(data) < limit)

    def change_for(self, request: ActionRequest) -> Change:
        return MoveJobState(request.action, self)  # close or abort: a move to TARGET_STATE

    def error(self, response: httpx.Response) -> JobError:
        error = super().error(response)
        code = _CODES.get(error.upstream_code or "")
        return error if code is None else replace(error, code=code)

    def job_from(self, body: Mapping[str, Any]) -> Job:
        # The Get All Jobs page's example spells a listed job's state "states".
        key = "state" if "state" in body or "states" not in body else "states"
        state = text_field(self.source, body, key)
        return Job(
            source=self.source,
            native_id=text_field(self.source, body, "id"),
            provider=DATA_CLOUD,
            status=RULES.status_of(state),
            provider_status=state,
            allowed_actions=RULES.allowed_actions(state),
            created_at=optional_time(body, "createdDate"),
            updated_at=optional_time(body, "systemModstamp"),
            details=DataCloudDetails(
                object=optional_text(body, "object") or "",
                operation=optional_text(body, "operation") or "",
                source_name=optional_text(body, "sourceName"),
                content_type=optional_text(body, "contentType"),
                api_version=optional_text(body, "apiVersion"),
                created_by_id=optional_text(body, "createdById"),
                created_date=optional_text(body, "createdDate"),
                system_modstamp=optional_text(body, "systemModstamp"),
                content_url=optional_text(body, "contentUrl"),
                retries=optional_int(body, "retries"),
                total_processing_time=optional_int(body, "totalProcessingTime"),
            ),
        )


class MoveJobState(Change):
    """``PATCH /jobs/{id}`` ``{"state": "UploadComplete" | "Aborted"}``; the 200 returns the job."""

    upstream: DataCloudProvider

    @property
    def target(self) -> str:
        return TARGET_STATE[self.action]

    def write(self, jobs: Sequence[Job]) -> Write:
        [job] = jobs
        return Write("PATCH", f"{JOBS_PATH}/{job.native_id}", {"state": self.target})

    def missing(self, job: Job) -> list[str]:
        return [] if job.provider_status == self.target else [f"state '{job.provider_status}'"]

    def judge(self, response: httpx.Response, jobs: Sequence[Job]) -> Verdict:
        if response.status_code != 200:
            return super().judge(response, jobs)
        changed = self.upstream.job_from(self.upstream.http.json_object(response))
        if not self.missing(changed):
            return Proven(changed)
        # A 200 that does not show the new state is no confirmation: look again.
        said = (
            f"Source '{self.upstream.source}' accepted the change but answered state "
            f"'{changed.provider_status}' instead of '{self.target}'."
        )
        return Open(JobError(ErrorCode.OUTCOME_UNKNOWN, said, upstream_status=200))


def build(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> DataCloudProvider:
    """A fixed Data Cloud token, or Salesforce's two-step exchange: a Salesforce token (client
    credentials, or the JWT bearer flow), exchanged for a Data Cloud token whose instance_url
    is the Ingestion API's host (used when base_url is left out)."""
    login_url = settings.login_url or ""  # config requires it with token-obtaining keys

    def exchange(endpoint: TokenEndpoint) -> Grant:
        return salesforce_exchange(
            endpoint,
            client_id=settings.client_id or "",
            client_secret=settings.client_secret,
            private_key=settings.private_key,
            username=settings.username,
            audience=login_url,
        )

    credentials = credentials_for(
        settings, transport, f"{login_url}/services/oauth2/token", exchange
    )
    return DataCloudProvider(
        settings.name, build_channel(settings, transport, credentials=credentials, routes=ROUTES)
    )
