"""The one interface every vendor adapter implements, and the helpers they share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import httpx

from jobgate.domain import (
    ActionOutcome,
    ActionRequest,
    ErrorCode,
    Job,
    JobError,
    JobFailure,
    Provider,
)
from jobgate.domain.listing import ListPage, ListQuery
from jobgate.domain.rules import StateTable, unsupported
from jobgate.providers.confirm import Change, perform_change
from jobgate.upstream.channel import Channel


class JobProvider(Protocol):
    """A source of jobs: one configured account at one vendor.

    Both methods answer one entry per native id, in order, and never raise for an upstream
    failure: failures come back as ``JobError`` values.
    """

    @property
    def source(self) -> str: ...

    @property
    def provider(self) -> Provider: ...

    @property
    def rules(self) -> StateTable: ...

    @property
    def knows_update_times(self) -> bool:
        """Whether its jobs say when they last changed (``Job.updated_at``)."""
        ...

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        """Each job, ``None`` where the upstream says it does not exist."""
        ...

    async def perform(
        self, request: ActionRequest, native_ids: Sequence[str]
    ) -> list[ActionOutcome]:
        """Apply one action to each job, reporting only outcomes the upstream confirmed. An
        action the provider's rules do not offer is UNSUPPORTED_ACTION, and makes no call."""
        ...

    async def probe(self) -> JobError | None:
        """One cheap read that shows the source answers and accepts its credentials."""
        ...

    async def list_jobs(self, query: ListQuery) -> ListPage | JobError:
        """Up to ``query.limit`` jobs from vendor position ``query.offset``, in the vendor's
        order, with the query's filters pushed into the vendor's request where it has them."""
        ...

    async def aclose(self) -> None: ...


class HttpProvider:
    """What every HTTP adapter shares: its source, its upstream channel and its rules."""

    provider: ClassVar[Provider]
    rules: ClassVar[StateTable]
    knows_update_times: ClassVar[bool] = False

    def __init__(self, source: str, http: Channel) -> None:
        self.source = source
        self.http = http

    async def perform(
        self, request: ActionRequest, native_ids: Sequence[str]
    ) -> list[ActionOutcome]:
        """The one place an action is checked against the rules before anything is sent; then
        the write-and-confirm protocol (``confirm.py``) runs the adapter's ``Change``."""
        if not self.rules.offers(request.action, batch=request.batch):
            refusal = unsupported(self.provider, request.action, batch=request.batch)
            return [refusal] * len(native_ids)
        change = self.change_for(request)
        if isinstance(change, JobError):
            return [change] * len(native_ids)
        return await perform_change(change, native_ids, resume=request.resume)

    async def list_jobs(self, query: ListQuery) -> ListPage | JobError:
        """The adapter's ``list_page``; a failed call is its contract error."""
        try:
            return await self.list_page(query)
        except JobFailure as failure:
            return failure.error

    async def list_page(self, query: ListQuery) -> ListPage:
        """One call (or the few the vendor's paging needs) to its list or search endpoint."""
        raise JobFailure(
            JobError(ErrorCode.UNSUPPORTED_ACTION, f"{self.provider.label} jobs cannot be listed.")
        )

    def change_for(self, request: ActionRequest) -> Change | JobError:
        """The adapter's ``Change`` for an action its rules offer, or why the request's own
        input cannot be sent (VALIDATION_FAILED)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.http.aclose()

    async def probe(self) -> JobError | None:
        """``probe_call``'s answer: None when the upstream answered usably (a 404 included)."""
        try:
            response = await self.probe_call()
        except JobFailure as failure:
            return failure.error
        if response.status_code >= 500 or response.status_code in (401, 403, 407):
            return self.error(response)
        return None

    async def probe_call(self) -> httpx.Response:
        """The cheapest authenticated read the vendor offers; adapters name theirs."""
        raise NotImplementedError

    def error(self, response: httpx.Response) -> JobError:
        """The contract error for a failed answer; adapters refine it with the vendor's codes."""
        return self.http.error(response)

    def not_found(self, native_id: str) -> JobError:
        return JobError(ErrorCode.NOT_FOUND, f"Job '{self.source}:{native_id}' does not exist.")

    async def get_list(
        self, path: str, params: Mapping[str, str], key: str
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """GET a vendor's list: the objects under ``key`` and the whole answer; any other
        answer than a 200 with such a list is a failure."""
        response = await self.http.get(path, params=params)
        if response.status_code != 200:
            raise JobFailure(self.error(response))
        body = self.http.json_object(response)
        items = body.get(key)
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise malformed(self.source, f"a job list without a '{key}' list of jobs")
        return items, body

    async def get_object(self, path: str) -> dict[str, Any] | None:
        """GET one resource: its JSON object, ``None`` on 404; any other answer is a failure."""
        response = await self.http.get(path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise JobFailure(self.error(response))
        return self.http.json_object(response)


def malformed(source: str, what: str) -> JobFailure:
    return JobFailure(
        JobError(ErrorCode.UPSTREAM_UNAVAILABLE, f"Source '{source}' answered {what}.")
    )


# Checked as tuples: ``str | int`` in an isinstance() call builds a union on every call.
_TEXT_OR_NUMBER = (str, int)
_SCALAR = (str, int, float)


def text_field(source: str, body: Mapping[str, Any], key: str) -> str:
    """A field the job cannot be understood without; its absence is an upstream fault."""
    value = body.get(key)
    if type(value) is str and value:  # the usual case, first
        return value
    if isinstance(value, bool) or not isinstance(value, _TEXT_OR_NUMBER) or value == "":
        raise malformed(source, f"a job without a usable '{key}'")
    return str(value)


def optional_text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if type(value) is str:  # the usual case, first
        return value
    if isinstance(value, bool) or not isinstance(value, _SCALAR):
        return None
    return str(value)


def optional_int(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def optional_time(body: Mapping[str, Any], key: str) -> datetime | None:
    """An ISO 8601 timestamp (``2021-06-10T13:25:40.000Z``), in UTC when it names no zone;
    None when absent or not a timestamp (a read never fails on a date)."""
    value = body.get(key)
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
