"""Sitecore Content Hub fetch jobs (PROVIDERS.md §1): read, and cancel a Pending job.

The cancel PUT must echo the job's own fields back, and its ``204`` does not say whether the state
changed, so every cancel is a read, a write and a read back; only the read back can report success.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import ActionOutcome, ActionRequest, ErrorCode, Job, JobError, JobFailure
from jobgate.domain.content_hub import CANCELLED, RULES, ContentHubDetails, rule_key
from jobgate.domain.jobs import JobAction, Provider
from jobgate.domain.rules import invalid_state, unsupported
from jobgate.providers.base import (
    HttpProvider,
    for_each,
    malformed,
    optional_int,
    optional_text,
    settle_after_uncertain_write,
    text_field,
)
from jobgate.providers.http import WriteUncertain, build_http

JOBS_PATH = "/api/fetchjobs"
PENDING = "Pending"
# Fields the PUT must carry with the values just read; the upstream refuses any mismatch.
ECHOED = ("condition", "file_count", "scope")
AUTH_HEADERS = {"bearer": "Authorization", "x-auth-token": "X-Auth-Token"}


def is_native_id(native_id: str) -> bool:
    """Fetch job ids are integers; anything else cannot exist upstream."""
    return native_id.isascii() and native_id.isdigit()


class ContentHubProvider(HttpProvider):
    provider = Provider.CONTENT_HUB
    rules = RULES

    async def probe_call(self) -> httpx.Response:
        # Fetch job 0 never exists: a 404 shows the tenant answers and takes the credentials.
        return await self.http.get(f"{JOBS_PATH}/0")

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        return await for_each(native_ids, self.read_job)

    async def read_job(self, native_id: str) -> Job | None:
        body = await self._fetch(native_id)
        return None if body is None else self.job_from(body)

    async def _fetch(self, native_id: str) -> dict[str, Any] | None:
        """The job exactly as the upstream sent it, or ``None`` when it does not exist."""
        if not is_native_id(native_id):
            return None
        return await self.get_object(f"{JOBS_PATH}/{native_id}")

    async def perform(
        self, request: ActionRequest, native_ids: Sequence[str]
    ) -> list[ActionOutcome]:
        async def one(native_id: str) -> ActionOutcome:
            if request.action is not JobAction.CANCEL:
                return unsupported(self.provider, request.action)
            return await self._cancel(native_id)

        return await for_each(native_ids, one)

    async def _cancel(self, native_id: str) -> ActionOutcome:
        body = await self._fetch(native_id)
        if body is None:
            return self.not_found(native_id)
        job = self.job_from(body)
        if JobAction.CANCEL not in job.allowed_actions:
            return invalid_state(JobAction.CANCEL, job.provider_status, job.allowed_actions)
        path = f"{JOBS_PATH}/{native_id}"
        try:
            response = await self.http.write("PUT", path, json=self.cancel_body(body))
        except WriteUncertain as lost:
            return await settle_after_uncertain_write(
                self.read_job, native_id, lambda j: j.provider_status == CANCELLED, lost.error
            )
        if response.is_success:
            return await self._confirm_cancelled(native_id, response.status_code)
        if response.status_code == 403:
            return await self._explain_refusal(native_id, self.http.error(response))
        return self.http.error(response)

    def cancel_body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The PUT body: the fields just read, untouched, with only ``state`` changed."""
        for key in ECHOED:
            value = body.get(key)
            # We cannot echo what the upstream did not send; any mismatch would be refused.
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise malformed(self.source, f"a job without a usable '{key}'")
        echo = {key: body[key] for key in ECHOED}
        # The upstream allows leaving state_description out only when the stored one is null.
        if body.get("state_description") is not None:
            echo["state_description"] = body["state_description"]
        echo["state"] = CANCELLED
        return echo

    async def _confirm_cancelled(self, native_id: str, status: int) -> ActionOutcome:
        # A 2xx only says the request was accepted; the job itself says whether it was applied.
        answered = f"Cancel not confirmed: the upstream answered {status}"
        try:
            job = await self.read_job(native_id)
        except JobFailure as failure:
            return JobError(
                ErrorCode.OUTCOME_UNKNOWN,
                f"{answered} but reading the job back failed: {failure.error.message}",
                upstream_status=status,
            )
        if job is None:
            return JobError(
                ErrorCode.OUTCOME_UNKNOWN,
                f"{answered} but the job can no longer be found.",
                upstream_status=status,
            )
        if job.provider_status == CANCELLED:
            return job
        if job.provider_status == PENDING:
            return JobError(
                ErrorCode.OUTCOME_UNKNOWN,
                f"{answered} but the job is still '{PENDING}'; "
                "the change may not have been applied.",
                upstream_status=status,
                provider_status=PENDING,
            )
        return JobError(
            ErrorCode.INVALID_STATE,
            f"{answered} but the job is now in state '{job.provider_status}', not '{CANCELLED}'.",
            upstream_status=status,
            provider_status=job.provider_status,
        )

    async def _explain_refusal(self, native_id: str, refused: JobError) -> JobError:
        """A 403 means the job moved on since it was read, or the echoed fields did not match."""
        try:
            job = await self.read_job(native_id)
        except JobFailure:
            return refused
        if job is None:
            return JobError(
                ErrorCode.NOT_FOUND,
                refused.message,
                upstream_status=refused.upstream_status,
                detail=f"Job '{self.source}:{native_id}' no longer exists.",
            )
        if job.provider_status == PENDING:
            return JobError(
                ErrorCode.FORBIDDEN,
                refused.message,
                upstream_status=refused.upstream_status,
                detail="The job is still 'Pending'; the upstream refused the fields sent.",
                provider_status=PENDING,
            )
        return JobError(
            ErrorCode.INVALID_STATE,
            f"{refused.message} The job is now in state '{job.provider_status}'.",
            upstream_status=refused.upstream_status,
            provider_status=job.provider_status,
        )

    def job_from(self, body: Mapping[str, Any]) -> Job:
        state = text_field(self.source, body, "state")
        condition = optional_text(body, "condition")
        key = rule_key(state, condition)
        return Job(
            source=self.source,
            native_id=text_field(self.source, body, "id"),
            provider=Provider.CONTENT_HUB,
            status=RULES.status_of(key),
            provider_status=state,
            allowed_actions=RULES.allowed_actions(key),
            details=ContentHubDetails(
                condition=condition,
                state_description=optional_text(body, "state_description"),
                scope=optional_text(body, "scope"),
                file_count=optional_int(body, "file_count"),
                files_completed=optional_int(body, "files_completed"),
                created_on=optional_text(body, "created_on"),
                started_on=optional_text(body, "started_on"),
                completed_on=optional_text(body, "completed_on"),
                modified_on=optional_text(body, "modified_on"),
                created_by=_href(body, "created_by"),
            ),
        )


def _href(body: Mapping[str, Any], key: str) -> str | None:
    link = body.get(key)
    return optional_text(link, "href") if isinstance(link, dict) else None


def build(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> ContentHubProvider:
    assert settings.token is not None  # config requires it
    header = AUTH_HEADERS.get(settings.auth_header)
    if header is None:
        raise ValueError(f"unknown auth_header {settings.auth_header!r} for Content Hub")
    value = f"Bearer {settings.token}" if header == "Authorization" else settings.token
    return ContentHubProvider(
        settings.name, build_http(settings, transport, headers={header: value})
    )
