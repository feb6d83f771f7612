"""BigChange jobs (PROVIDERS.md §2): read with their result options, update, set a result."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import (
    ActionRequest,
    ErrorCode,
    FieldError,
    Job,
    JobAction,
    JobError,
    JobFailure,
    JobResultStatus,
    JobUpdate,
    JobWarning,
)
from jobgate.domain.bigchange import (
    BIGCHANGE,
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
from jobgate.domain.listing import ListPage, ListQuery
from jobgate.providers.base import (
    HttpProvider,
    optional_int,
    optional_text,
    text_field,
)
from jobgate.providers.bigchange_types import Found, JobTypeLoader
from jobgate.providers.confirm import Change, Write
from jobgate.providers.fanout import for_each, gather_all
from jobgate.upstream.channel import Channel, build_channel
from jobgate.upstream.credentials import Grant
from jobgate.upstream.grants import TokenEndpoint, client_credentials, credentials_for

log = logging.getLogger("jobgate.upstream")

JOBS_PATH = "/v1/jobs"
JOB_TYPES_PATH = "/v1/jobTypes"
# What names each call's trace span (jobgate.telemetry): never an id.
ROUTES = (
    JOBS_PATH,
    f"{JOBS_PATH}/{{id}}",
    f"{JOBS_PATH}/{{id}}/result",
    f"{JOB_TYPES_PATH}/{{id}}",
)
MAX_PAGE = 1000
# Upstream field names in 422 errors -> the names the caller used in UpdateJobInput.
_FIELD_NAMES = {"contactPersonId": "primaryContactId"}


class BigChangeProvider(HttpProvider):
    provider = BIGCHANGE
    rules = RULES

    def __init__(self, source: str, http: Channel, *, type_ttl: float = 60.0) -> None:
        super().__init__(source, http)
        self.job_types = JobTypeLoader(self._fetch_job_type, ttl=type_ttl)

    async def probe_call(self) -> httpx.Response:
        return await self.http.get(JOBS_PATH, params={"pageNumber": "1", "pageSize": "1"})

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        return await for_each(native_ids, self._read_if_valid)

    async def _read_if_valid(self, native_id: str) -> Job | None:
        # BigChange ids are numbers: anything else cannot exist there, so it is not asked.
        return await self.read_job(native_id) if is_native_id(native_id) else None

    async def read_job(self, native_id: str) -> Job | None:
        body = await self.get_object(f"{JOBS_PATH}/{native_id}")
        return None if body is None else await self._typed_job(body)

    async def list_page(self, query: ListQuery) -> ListPage:
        """``GET /v1/jobs?pageNumber&pageSize`` (pages numbered from 1, pageSize ≤ 1000) →
        ``{"items": [...]}``. It takes no status filter: the gateway filters. A position that is
        not a page boundary reads the one page that holds all of the positions asked for."""
        size = _covering_page_size(query.offset, max(1, min(query.limit, MAX_PAGE)))
        number, skip = divmod(query.offset, size)
        params = {"pageNumber": str(number + 1), "pageSize": str(size)}
        items, _ = await self.get_list(JOBS_PATH, params, "items")
        wanted = items[skip : skip + query.limit]
        jobs = await gather_all([self._typed_job(item) for item in wanted])
        end = len(items) < size and skip + len(wanted) == len(items)
        return ListPage(query.offset, jobs, end=end)

    async def _typed_job(self, body: Mapping[str, Any]) -> Job:
        """The job with its type's results (one read per type, shared: ``job_types``)."""
        type_id = optional_int(body, "typeId")
        found = None if type_id is None else await self.job_types.load(type_id)
        if isinstance(found, JobError):
            log.warning(
                "job type unavailable",
                extra={"source": self.source, "type_id": type_id, "code": found.code.value},
            )
        return self.job_from(body, found)

    def change_for(self, request: ActionRequest) -> Change | JobError:
        if request.action is JobAction.UPDATE:
            if request.update is None:
                return JobError(ErrorCode.VALIDATION_FAILED, "An update needs its fields.")
            return UpdateJob(request.action, self, request.update)
        # SET_RESULT: the only other action the rules offer.
        if request.result_status is None or request.result is None:
            return JobError(ErrorCode.VALIDATION_FAILED, "A result needs a status and a text.")
        return SetJobResult(request.action, self, request.result_status, request.result)

    async def job_type_of(self, details: BigChangeDetails) -> BigChangeJobType | JobError:
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

    def job_from(self, body: Mapping[str, Any], job_type: Found = None) -> Job:
        """The job in ``body``; ``job_type`` is what reading its type gave (None: no type, or
        the upstream says it does not exist). Without a readable job type the job's results are
        unknown, so SET_RESULT is not offered, and a warning says why."""
        status = text_field(self.source, body, "status")
        type_id = optional_int(body, "typeId")
        allowed = RULES.allowed_actions(status)
        warnings: tuple[JobWarning, ...] = ()
        known = job_type if isinstance(job_type, BigChangeJobType) else None
        if known is None and JobAction.SET_RESULT in allowed:
            allowed -= {JobAction.SET_RESULT}
            warnings = (_type_warning(type_id, job_type),)
        return Job(
            source=self.source,
            native_id=text_field(self.source, body, "id"),
            provider=BIGCHANGE,
            status=RULES.status_of(status),
            provider_status=status,
            allowed_actions=allowed,
            details=BigChangeDetails(
                type_id=type_id,
                contact_id=optional_text(body, "contactId"),
                primary_contact_id=optional_text(body, "contactPersonId"),
                description=optional_text(body, "description"),
                reference=optional_text(body, "reference"),
                order_number=optional_text(body, "orderNumber"),
                planned_duration=optional_int(body, "plannedDuration"),
                result=optional_text(body, "result"),
                custom_fields=_custom_fields(body.get("customFields")),
                job_type=known,
            ),
            warnings=warnings,
        )


def _type_warning(type_id: int | None, found: Found) -> JobWarning:
    cost = "so its results are unknown and setJobResult is not offered"
    if type_id is None:
        return JobWarning(ErrorCode.NOT_FOUND, f"The job has no job type, {cost}.")
    if isinstance(found, JobError):
        message = f"Job type {type_id} could not be read ({found.message}), {cost}."
        return JobWarning(found.code, message)
    return JobWarning(ErrorCode.NOT_FOUND, f"Job type {type_id} does not exist, {cost}.")


class UpdateJob(Change):
    """``PATCH /v1/jobs/{id}``: omitted fields kept, null unsets; answered 204."""

    upstream: BigChangeProvider

    def __init__(self, action: JobAction, upstream: BigChangeProvider, update: JobUpdate) -> None:
        super().__init__(action, upstream)
        self.update = update

    async def refusal(self, job: Job) -> JobError | None:
        assert isinstance(job.details, BigChangeDetails)
        refused = RULES.refusal(self.action, job.provider_status)
        return refused or update_refusal(job.provider_status, job.details, self.update)

    def write(self, jobs: Sequence[Job]) -> Write:
        [job] = jobs
        return Write("PATCH", f"{JOBS_PATH}/{job.native_id}", patch_body(self.update))

    def missing(self, job: Job) -> list[str]:
        assert isinstance(job.details, BigChangeDetails)
        return update_mismatches(self.update, job.details)

    async def refused(self, response: httpx.Response, jobs: Sequence[Job]) -> JobError:
        return self.upstream.error(response)


class SetJobResult(Change):
    """``PUT /v1/jobs/{id}/result`` with a result of the job type's lists; answered 204."""

    upstream: BigChangeProvider

    def __init__(
        self,
        action: JobAction,
        upstream: BigChangeProvider,
        status: JobResultStatus,
        result: str,
    ) -> None:
        super().__init__(action, upstream)
        self.status = status
        self.result = result
        self.target = RESULT_STATUS[status]

    async def refusal(self, job: Job) -> JobError | None:
        refused = RULES.refusal(self.action, job.provider_status)
        if refused is not None:
            return refused
        assert isinstance(job.details, BigChangeDetails)
        job_type = await self.upstream.job_type_of(job.details)
        if isinstance(job_type, JobError):
            return job_type
        refused = result_refusal(self.status, self.result, job_type)
        return None if refused is None else replace(refused, provider_status=job.provider_status)

    def write(self, jobs: Sequence[Job]) -> Write:
        [job] = jobs
        body = {"status": self.target, "result": self.result}
        return Write("PUT", f"{JOBS_PATH}/{job.native_id}/result", body)

    def missing(self, job: Job) -> list[str]:
        assert isinstance(job.details, BigChangeDetails)
        if job.provider_status == self.target and job.details.result == self.result:
            return []
        return [f"status '{job.provider_status}' with result {job.details.result!r}"]


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
    """OAuth2 client credentials (or a fixed token); every call also carries ``Customer-Id``."""
    customer_id = settings.option("customer_id", "")  # config requires it

    def sign(headers: MutableMapping[str, str], value: str) -> None:
        headers["Authorization"] = f"Bearer {value}"
        headers["Customer-Id"] = customer_id

    def app_token(endpoint: TokenEndpoint) -> Grant:
        client_id, secret = settings.client_id or "", settings.client_secret or ""
        return client_credentials(endpoint, client_id, secret)

    token_url = settings.token_url or f"{settings.base_url}/auth/tokens"
    credentials = credentials_for(settings, transport, token_url, app_token, sign=sign)
    return BigChangeProvider(
        settings.name, build_channel(settings, transport, credentials=credentials, routes=ROUTES)
    )


def _covering_page_size(offset: int, limit: int) -> int:
    """The smallest page size from ``limit`` up whose one page holds positions ``offset`` to
    ``offset + limit - 1`` (BigChange pages by number, not by offset)."""
    for size in range(limit, MAX_PAGE + 1):
        if offset // size == (offset + limit - 1) // size:
            return size
    return limit  # past the largest page: the page holding ``offset``, and the next call
