"""BigChange jobs (PROVIDERS.md §2): read with their result options, update, set a result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import (
    ActionOutcome,
    ActionRequest,
    ErrorCode,
    FieldError,
    Job,
    JobAction,
    JobError,
    JobFailure,
    JobResultStatus,
    JobUpdate,
)
from jobgate.domain.bigchange import (
    RESULT_STATUS,
    RULES,
    BigChangeDetails,
    BigChangeJobType,
    CustomFieldValue,
    is_native_id,
    patch_body,
    result_refusal,
    update_mismatches,
    update_refusal,
)
from jobgate.domain.jobs import Provider
from jobgate.domain.rules import unsupported
from jobgate.providers.base import (
    HttpProvider,
    for_each,
    optional_int,
    optional_text,
    settle_after_uncertain_write,
    text_field,
)
from jobgate.providers.bigchange_auth import BigChangeAuth
from jobgate.providers.bigchange_types import Found, JobTypeLoader
from jobgate.providers.http import UpstreamHTTP, WriteUncertain, build_http

log = logging.getLogger("jobgate.upstream")

JOBS_PATH = "/v1/jobs"
JOB_TYPES_PATH = "/v1/jobTypes"
# Upstream field names in 422 errors -> the names the caller used in UpdateJobInput.
_FIELD_NAMES = {"contactPersonId": "primaryContactId"}

# What a write must show when the job is read back: the names of what it does not show yet.
Check = Callable[[Job], list[str]]


class BigChangeProvider(HttpProvider):
    provider = Provider.BIGCHANGE
    rules = RULES

    async def probe_call(self) -> httpx.Response:
        return await self.http.get(JOBS_PATH, params={"pageNumber": "1", "pageSize": "1"})

    def __init__(
        self, source: str, http: UpstreamHTTP, auth: BigChangeAuth, *, type_ttl: float = 60.0
    ) -> None:
        super().__init__(source, http)
        self.auth = auth
        self.job_types = JobTypeLoader(self._fetch_job_type, ttl=type_ttl)

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        results = await for_each(native_ids, self._read_if_valid)
        return [self._scrub(r) if isinstance(r, JobError) else r for r in results]

    async def _read_if_valid(self, native_id: str) -> Job | None:
        # BigChange ids are numbers: anything else cannot exist there, so it is not asked.
        return await self.read_job(native_id) if is_native_id(native_id) else None

    async def read_job(self, native_id: str) -> Job | None:
        body = await self.get_object(f"{JOBS_PATH}/{native_id}")
        if body is None:
            return None
        type_id = optional_int(body, "typeId")
        found = None if type_id is None else await self.job_types.load(type_id)
        if isinstance(found, JobError):
            # The job is still worth showing; only its result options are unknown (null).
            log.warning(
                "job type unavailable",
                extra={"source": self.source, "type_id": type_id, "code": found.code.value},
            )
        return self.job_from(body, found if isinstance(found, BigChangeJobType) else None)

    async def perform(
        self, request: ActionRequest, native_ids: Sequence[str]
    ) -> list[ActionOutcome]:
        async def one(native_id: str) -> ActionOutcome:
            return await self._perform_one(request, native_id)

        outcomes = await for_each(native_ids, one)
        return [self._scrub(o) if isinstance(o, JobError) else o for o in outcomes]

    async def _perform_one(self, request: ActionRequest, native_id: str) -> ActionOutcome:
        if not RULES.offers(request.action, batch=request.batch):
            return unsupported(self.provider, request.action, batch=request.batch)
        job = await self._read_if_valid(native_id)
        if job is None:
            return self.not_found(native_id)
        refusal = RULES.refusal(request.action, job.provider_status)
        if refusal is not None:
            return refusal
        assert isinstance(job.details, BigChangeDetails)
        if request.action is JobAction.UPDATE:
            if request.update is None:
                return JobError(ErrorCode.VALIDATION_FAILED, "An update needs its fields.")
            return await self._update(job, job.details, request.update)
        if request.result_status is None or request.result is None:
            return JobError(ErrorCode.VALIDATION_FAILED, "A result needs a status and a text.")
        return await self._set_result(job, job.details, request.result_status, request.result)

    async def _update(
        self, job: Job, details: BigChangeDetails, update: JobUpdate
    ) -> ActionOutcome:
        refusal = update_refusal(job.provider_status, details, update)
        if refusal is not None:
            return refusal

        def check(seen: Job) -> list[str]:
            assert isinstance(seen.details, BigChangeDetails)
            return update_mismatches(update, seen.details)

        path = f"{JOBS_PATH}/{job.native_id}"
        return await self._write("PATCH", path, patch_body(update), job.native_id, check, "update")

    async def _set_result(
        self, job: Job, details: BigChangeDetails, status: JobResultStatus, result: str
    ) -> ActionOutcome:
        job_type = await self._job_type_of(details)
        if isinstance(job_type, JobError):
            return job_type
        refusal = result_refusal(status, result, job_type)
        if refusal is not None:
            return replace(refusal, provider_status=job.provider_status)
        target = RESULT_STATUS[status]

        def check(seen: Job) -> list[str]:
            assert isinstance(seen.details, BigChangeDetails)
            if seen.provider_status == target and seen.details.result == result:
                return []
            return [f"status '{seen.provider_status}' with result {seen.details.result!r}"]

        body = {"status": target, "result": result}
        path = f"{JOBS_PATH}/{job.native_id}/result"
        return await self._write("PUT", path, body, job.native_id, check, "result")

    async def _job_type_of(self, details: BigChangeDetails) -> BigChangeJobType | JobError:
        # Reading the job already loaded it; asking again is a cache hit, or a retry of a failure.
        found = None if details.type_id is None else await self.job_types.load(details.type_id)
        if isinstance(found, BigChangeJobType):
            return found
        why = "it has no job type" if details.type_id is None else f"job type {details.type_id}"
        if isinstance(found, JobError):
            return replace(found, message=f"Cannot check the result against {why}: {found.message}")
        return JobError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Cannot check the result: source '{self.source}' does not know {why}.",
        )

    async def _write(
        self, method: str, path: str, body: Any, native_id: str, check: Check, what: str
    ) -> ActionOutcome:
        # Fetch a token first, so that a token failure is reported as such and not as a lost write.
        await self.auth.token()
        try:
            response = await self.http.write(method, path, json=body)
        except WriteUncertain as lost:
            return await settle_after_uncertain_write(
                self.read_job, native_id, lambda j: not check(j), lost.error
            )
        if response.status_code not in (200, 204):
            return self.error(response)
        return await self._confirm(native_id, check, f"{what} (HTTP {response.status_code})")

    async def _confirm(self, native_id: str, check: Check, accepted: str) -> ActionOutcome:
        """A 204 carries no job: read it back and report it only if it shows the change."""
        said = f"Source '{self.source}' accepted the {accepted}"
        try:
            job = await self.read_job(native_id)
        except JobFailure as failure:
            return JobError(
                ErrorCode.OUTCOME_UNKNOWN,
                f"{said} but reading the job back failed: {failure.error.message}",
            )
        if job is None:
            return JobError(ErrorCode.OUTCOME_UNKNOWN, f"{said} but the job no longer exists.")
        wrong = check(job)
        if not wrong:
            return job
        return JobError(
            ErrorCode.OUTCOME_UNKNOWN,
            f"{said} but the job read back does not show it: {', '.join(wrong)}.",
            provider_status=job.provider_status,
        )

    async def _fetch_job_type(self, type_id: int) -> Found:
        try:
            response = await self.http.get(f"{JOB_TYPES_PATH}/{type_id}")
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                return self.error(response)
            return _job_type_from(type_id, self.http.json_object(response))
        except JobFailure as failure:
            return failure.error

    def error(self, response: httpx.Response) -> JobError:
        error = super().error(response)
        fields = tuple(
            FieldError(_FIELD_NAMES.get(f.field, f.field), f.messages) for f in error.field_errors
        )
        return replace(error, field_errors=fields)

    def _scrub(self, error: JobError) -> JobError:
        """Every error leaving the adapter loses the client secret and any access token."""
        clean = self.auth.redact
        return replace(
            error,
            message=clean(error.message),
            detail=None if error.detail is None else clean(error.detail),
            field_errors=tuple(
                FieldError(f.field, tuple(clean(m) for m in f.messages)) for f in error.field_errors
            ),
        )

    def job_from(self, body: Mapping[str, Any], job_type: BigChangeJobType | None) -> Job:
        status = text_field(self.source, body, "status")
        return Job(
            source=self.source,
            native_id=text_field(self.source, body, "id"),
            provider=Provider.BIGCHANGE,
            status=RULES.status_of(status),
            provider_status=status,
            allowed_actions=RULES.allowed_actions(status),
            details=BigChangeDetails(
                type_id=optional_int(body, "typeId"),
                contact_id=optional_text(body, "contactId"),
                primary_contact_id=optional_text(body, "contactPersonId"),
                description=optional_text(body, "description"),
                reference=optional_text(body, "reference"),
                order_number=optional_text(body, "orderNumber"),
                planned_duration=optional_int(body, "plannedDuration"),
                result=optional_text(body, "result"),
                custom_fields=_custom_fields(body.get("customFields")),
                job_type=job_type,
            ),
        )


def _custom_fields(raw: object) -> tuple[CustomFieldValue, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        CustomFieldValue(id=str(item["id"]), value=optional_text(item, "value"))
        for item in raw
        if isinstance(item, dict) and optional_int(item, "id") is not None
    )


def _strings(raw: object) -> tuple[str, ...]:
    return tuple(s for s in raw if isinstance(s, str)) if isinstance(raw, list) else ()


def _job_type_from(type_id: int, body: Mapping[str, Any]) -> BigChangeJobType:
    return BigChangeJobType(
        id=type_id,
        name=optional_text(body, "name") or f"Job type {type_id}",
        positive_results=_strings(body.get("positiveResults")),
        negative_results=_strings(body.get("negativeResults")),
    )


def build(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> BigChangeProvider:
    # config requires all three for bigchange
    assert settings.client_id and settings.client_secret and settings.customer_id
    auth = BigChangeAuth(
        source=settings.name,
        transport=transport,
        token_url=settings.token_url or f"{settings.base_url}/auth/tokens",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        customer_id=settings.customer_id,
        timeout=settings.timeout,
    )
    return BigChangeProvider(settings.name, build_http(settings, transport, auth=auth), auth)
