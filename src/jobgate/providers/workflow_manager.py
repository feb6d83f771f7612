"""ArcGIS Workflow Manager jobs (PROVIDERS.md §4): read, and Close/Reopen/Upgrade/Delete in batches.

Reads are ``GET /jobs/{id}`` per id, plus ``GET /diagrams/{id}`` once per distinct diagram of the
open jobs: whether Upgrade is allowed depends on the diagram's latest version. ``providerStatus``
is the job's ``jobStatus`` verbatim (``"Closed"`` / ``"Open"`` only if the upstream sends none).

The upstream marks a missing job with ``404`` or with ``400`` whose ``error.type`` is
``InvalidJobId`` or whose message says the job id is invalid or the job does not exist; both read
as "not found". ``POST /jobs/manage`` answers only ``{"success": bool}``, so every id's outcome
comes from reading the jobs back, and a change is reported only when it is seen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import (
    ActionOutcome,
    ActionRequest,
    Deleted,
    ErrorCode,
    Job,
    JobAction,
    JobError,
    JobFailure,
    Provider,
)
from jobgate.domain.rules import unsupported
from jobgate.domain.workflow_manager import (
    MANAGE_TYPES,
    RULES,
    CurrentStep,
    WorkflowManagerDetails,
    change_visible,
    key_of,
    refusal,
    steps_in_diagram,
)
from jobgate.providers.base import (
    HttpProvider,
    for_each,
    malformed,
    optional_int,
    optional_text,
    text_field,
)
from jobgate.providers.http import WriteUncertain, build_http

_MISSING_JOB = re.compile(r"invalid job ?id|job .*(does not exist|not found)", re.IGNORECASE)
_BAD_TOKEN = re.compile(r"invalid token|token required|token expired", re.IGNORECASE)
_NOT_FOUND_TYPES = {"InvalidJobId", "JobNotFound"}
_TOKEN_CODES = {"498", "499"}  # ArcGIS: invalid or expired token, token required


@dataclass(frozen=True, slots=True)
class Diagram:
    version: int
    step_ids: frozenset[str]


class WorkflowManagerProvider(HttpProvider):
    provider = Provider.WORKFLOW_MANAGER
    rules = RULES

    async def probe_call(self) -> httpx.Response:
        query = {"q": "closed=0", "fields": ["jobId"], "start": 0, "num": 1}
        return await self.http.search("/jobs/search", json=query)

    # -- reading ----------------------------------------------------------------------------

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        bodies = await for_each(native_ids, self._get_job)
        wanted = {
            str(b.get("diagramId"))
            for b in bodies
            if isinstance(b, dict) and b.get("closed") is False and b.get("diagramId")
        }
        diagram_ids = sorted(wanted)
        found = await for_each(diagram_ids, self._get_diagram)
        diagrams = dict(zip(diagram_ids, found, strict=True))
        jobs: list[Job | JobError | None] = []
        for body in bodies:
            if not isinstance(body, dict):
                jobs.append(body)
                continue
            try:
                jobs.append(self.job_from(body, diagrams))
            except JobFailure as failure:
                jobs.append(failure.error)
        return jobs

    async def _get_job(self, native_id: str) -> dict[str, Any] | None:
        response = await self.http.get(f"/jobs/{native_id}")
        if response.status_code == 200:
            body = self.http.json_object(response)
            if not isinstance(body.get("error"), dict):
                return body
        error = self.error(response)
        if response.status_code == 404 or (
            response.status_code in (200, 400)
            and (error.upstream_code in _NOT_FOUND_TYPES or _MISSING_JOB.search(error.message))
        ):
            return None
        raise JobFailure(error)

    async def _get_diagram(self, diagram_id: str) -> Diagram:
        response = await self.http.get(f"/diagrams/{quote(diagram_id, safe='')}")
        if response.status_code != 200:
            raise JobFailure(self.error(response))
        body = self.http.json_object(response)
        version, steps = optional_int(body, "diagramVersion"), body.get("steps")
        if version is None or not isinstance(steps, list):
            raise malformed(self.source, f"diagram '{diagram_id}' without a version or steps")
        return Diagram(
            version,
            frozenset(str(s["stepId"]) for s in steps if isinstance(s, dict) and "stepId" in s),
        )

    def job_from(self, body: Mapping[str, Any], diagrams: Mapping[str, Diagram | JobError]) -> Job:
        native_id = text_field(self.source, body, "jobId")
        closed = body.get("closed")
        if not isinstance(closed, bool):
            raise malformed(self.source, "a job without a usable 'closed'")
        steps = self._steps(body.get("currentSteps"))
        latest: Diagram | None = None
        if not closed:
            diagram = diagrams.get(text_field(self.source, body, "diagramId"))
            if isinstance(diagram, JobError):
                raise JobFailure(diagram)
            latest = diagram
        details = WorkflowManagerDetails(
            job_name=optional_text(body, "jobName"),
            description=optional_text(body, "description"),
            job_status=optional_text(body, "jobStatus"),
            closed=closed,
            priority=optional_text(body, "priority"),
            percent_complete=optional_int(body, "percentComplete"),
            diagram_id=optional_text(body, "diagramId"),
            diagram_version=optional_int(body, "diagramVersion"),
            latest_diagram_version=None if latest is None else latest.version,
            job_template_id=optional_text(body, "jobTemplateId"),
            created_date=optional_text(body, "createdDate"),
            current_steps=steps,
            steps_in_latest_diagram=(
                None if latest is None else steps_in_diagram(steps, latest.step_ids)
            ),
        )
        key = key_of(details)
        return Job(
            source=self.source,
            native_id=native_id,
            provider=Provider.WORKFLOW_MANAGER,
            status=RULES.status_of(key),
            provider_status=details.job_status or ("Closed" if closed else "Open"),
            allowed_actions=RULES.allowed_actions(key),
            details=details,
        )

    def _steps(self, raw: object) -> tuple[CurrentStep, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
            raise malformed(self.source, "a job whose 'currentSteps' is not a list of steps")
        return tuple(
            CurrentStep(
                step_id=text_field(self.source, s, "stepId"),
                step_name=optional_text(s, "stepName"),
                step_status=optional_text(s, "stepStatus"),
                assigned_type=optional_text(s, "assignedType"),
                assigned_to=optional_text(s, "assignedTo"),
            )
            for s in raw
        )

    # -- managing ---------------------------------------------------------------------------

    async def perform(
        self, request: ActionRequest, native_ids: Sequence[str]
    ) -> list[ActionOutcome]:
        action = request.action
        if action not in RULES.supported:
            return [unsupported(self.provider, action) for _ in native_ids]
        distinct = list(dict.fromkeys(native_ids))
        outcomes: dict[str, ActionOutcome] = {}
        eligible: list[str] = []
        for native_id, seen in zip(distinct, await self.read_jobs(distinct), strict=True):
            if seen is None:
                outcomes[native_id] = self._gone(native_id, "does not exist")
            elif isinstance(seen, JobError):
                outcomes[native_id] = seen
            elif (refused := self._refusal(action, seen)) is not None:
                outcomes[native_id] = refused
            else:
                eligible.append(native_id)
        if eligible:
            outcomes.update(await self._manage(request, eligible))
        return [outcomes[n] for n in native_ids]

    async def _manage(self, request: ActionRequest, ids: list[str]) -> dict[str, ActionOutcome]:
        """One ``POST /jobs/manage`` for ``ids``; never repeated, whatever happens to it."""
        body = {"type": MANAGE_TYPES[request.action], "jobIds": ids}
        try:
            response = await self.http.write("POST", "/jobs/manage", json=body)
        except WriteUncertain as lost:
            return await self._read_back(request, ids, None, lost.error)
        except JobFailure as failure:  # never sent (refused connection, open circuit, no slot)
            return dict.fromkeys(ids, failure.error)
        if response.status_code >= 500:
            # The upstream failed midway: some jobs may have changed, so look before reporting.
            return await self._read_back(request, ids, None, self.error(response))
        if response.status_code != 200:
            error = self.error(response)
            return dict.fromkeys(ids, error)
        try:
            answer = self.http.json_object(response)
        except JobFailure as garbled:
            return await self._read_back(request, ids, None, self._unknown(garbled.error.message))
        if isinstance(answer.get("error"), dict):
            error = self.error(response)
            return dict.fromkeys(ids, error)
        success = answer.get("success")
        if not isinstance(success, bool):
            unclear = f"Source '{self.source}' answered the change without a 'success' flag."
            return await self._read_back(request, ids, None, self._unknown(unclear))
        return await self._read_back(request, ids, success, None)

    async def _read_back(
        self,
        request: ActionRequest,
        ids: list[str],
        success: bool | None,
        failure: JobError | None,
    ) -> dict[str, ActionOutcome]:
        after = await self.read_jobs(ids)
        return {
            native_id: self._settle(request, native_id, seen, success, failure)
            for native_id, seen in zip(ids, after, strict=True)
        }

    def _settle(
        self,
        request: ActionRequest,
        native_id: str,
        seen: Job | JobError | None,
        success: bool | None,
        failure: JobError | None,
    ) -> ActionOutcome:
        """One id's outcome from what reading it back shows; a change counts only when seen."""
        action = request.action
        if seen is None:
            if action is JobAction.DELETE:
                return Deleted(self.source, native_id)
            return self._gone(native_id, f"no longer exists (read back after the {action.verb})")
        said = failure.message if failure is not None else self._said(action, success)
        if isinstance(seen, JobError):
            return self._unknown(f"{said} Reading the job back failed: {seen.message}")
        details = seen.details
        assert isinstance(details, WorkflowManagerDetails)
        latest = details.latest_diagram_version
        version = details.diagram_version
        if change_visible(action, closed=details.closed, diagram_version=version, latest=latest):
            return seen
        if success is False and (refused := self._refusal(action, seen)) is not None:
            return replace(refused, message=f"The upstream refused: {refused.message}")
        shown = f"job status '{seen.provider_status}'"
        if action is JobAction.UPGRADE:
            shown += f", diagram version {version} of {latest}"
        looks = f"Read back, the job shows no {action.verb} ({shown})."
        if failure is not None and failure.code is not ErrorCode.OUTCOME_UNKNOWN:
            # e.g. a 500: the change did not happen, and the upstream's own error says why.
            return replace(failure, message=f"{said} {looks}", provider_status=seen.provider_status)
        return self._unknown(f"{said} {looks}", seen.provider_status)

    def _said(self, action: JobAction, success: bool | None) -> str:
        if success:
            return f"Source '{self.source}' answered that the {action.verb} succeeded."
        return f"Source '{self.source}' answered that it did not {action.verb} every job sent."

    def _refusal(self, action: JobAction, job: Job) -> JobError | None:
        assert isinstance(job.details, WorkflowManagerDetails)
        return refusal(action, key_of(job.details), job.provider_status)

    def _gone(self, native_id: str, what: str) -> JobError:
        return JobError(ErrorCode.NOT_FOUND, f"Job '{self.source}:{native_id}' {what}.")

    def _unknown(self, message: str, provider_status: str | None = None) -> JobError:
        return JobError(ErrorCode.OUTCOME_UNKNOWN, message, provider_status=provider_status)

    def error(self, response: httpx.Response) -> JobError:
        """ArcGIS names a missing privilege or a bad token in a 400 body as often as by status."""
        error = self.http.error(response)
        code = error.upstream_code or ""
        if "privilege" in error.message.lower() or code == "InsufficientPrivileges":
            return replace(error, code=ErrorCode.FORBIDDEN)
        if code in _TOKEN_CODES or response.status_code in (498, 499):
            return replace(error, code=ErrorCode.UNAUTHENTICATED)
        if response.status_code in (200, 400) and _BAD_TOKEN.search(error.message):
            return replace(error, code=ErrorCode.UNAUTHENTICATED)
        if response.status_code == 200:  # an error object inside a 200
            return replace(error, code=ErrorCode.VALIDATION_FAILED)
        return error


def build(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> WorkflowManagerProvider:
    assert settings.token is not None  # config requires it
    http = build_http(settings, transport, headers={"Authorization": f"Bearer {settings.token}"})
    return WorkflowManagerProvider(settings.name, http)
