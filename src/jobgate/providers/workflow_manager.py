"""ArcGIS Workflow Manager jobs (PROVIDERS.md §4): read, and Close/Reopen/Upgrade/Delete in batches.

Reads are ``GET /jobs/{id}`` per id, plus ``GET /diagrams/{id}`` once per distinct diagram of the
open jobs: whether Upgrade is allowed depends on the diagram's latest version (its steps are
keyed ``id``). A diagram that cannot be read never hides its jobs: they are answered without
UPGRADE, with a warning that says why. Current steps carry no status: a job is running when its
``jobStatus`` is one of the source's ``running_statuses`` (default ``["Working"]``); a status the
gateway does not know as running lets the manage answer and the read-back decide.
``providerStatus`` is the job's ``jobStatus`` verbatim (``"Closed"`` / ``"Open"`` only if the
upstream sends none).

The upstream marks a missing job with ``404`` or with ``400`` whose ``error.type`` is
``InvalidJobId`` or whose message says the job id is invalid or the job does not exist; both read
as "not found". ``POST /jobs/manage`` answers only ``{"success": bool}``, so every id's outcome
comes from reading the jobs back (``confirm.py``), and a change is reported only when it is seen.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from jobgate.config import SourceSettings
from jobgate.domain import (
    ActionRequest,
    ErrorCode,
    Job,
    JobAction,
    JobError,
    JobFailure,
    JobStatus,
    JobWarning,
)
from jobgate.domain.listing import ListPage, ListQuery
from jobgate.domain.workflow_manager import (
    DEFAULT_RUNNING_STATUSES,
    MANAGE_TYPES,
    RULES,
    WORKFLOW_MANAGER,
    CurrentStep,
    WorkflowManagerDetails,
    change_visible,
    key_of,
    refusal,
    steps_in_diagram,
)
from jobgate.providers.base import (
    HttpProvider,
    malformed,
    optional_int,
    optional_text,
    optional_time,
    text_field,
)
from jobgate.providers.confirm import Change, Open, Refused, Verdict, Write
from jobgate.providers.fanout import for_each
from jobgate.upstream.channel import Channel, build_channel
from jobgate.upstream.credentials import Grant
from jobgate.upstream.grants import TokenEndpoint, client_credentials, credentials_for

_MISSING_JOB = re.compile(r"invalid job ?id|job .*(does not exist|not found)", re.IGNORECASE)
_BAD_TOKEN = re.compile(r"invalid token|token required|token expired", re.IGNORECASE)
_NOT_FOUND_TYPES = {"InvalidJobId", "JobNotFound"}
_TOKEN_CODES = {"498", "499"}  # ArcGIS: invalid or expired token, token required
MAX_PAGE = 1000  # the search's num
# What names each call's trace span (jobgate.telemetry): never an id. Fixed paths first.
ROUTES = ("/jobs/search", "/jobs/manage", "/jobs/{id}", "/diagrams/{id}")


@dataclass(frozen=True, slots=True)
class Diagram:
    version: int
    step_ids: frozenset[str]


class WorkflowManagerProvider(HttpProvider):
    provider = WORKFLOW_MANAGER
    rules = RULES

    def __init__(
        self,
        source: str,
        http: Channel,
        *,
        running_statuses: Collection[str] = DEFAULT_RUNNING_STATUSES,
    ) -> None:
        super().__init__(source, http)
        self.running_statuses = frozenset(running_statuses)

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

    async def list_page(self, query: ListQuery) -> ListPage:
        """``POST /jobs/search`` for the ids, newest first, then each job read as ``job`` reads
        it (diagrams once per page): the search answers only the fields it is asked for, and
        the current steps that decide the actions are not among them. ``closed=0|1`` is pushed
        into ``q`` when the wanted statuses are all open or all closed."""
        limit = max(1, min(query.limit, MAX_PAGE))
        search: dict[str, Any] = {
            "fields": ["jobId"],
            "start": query.offset,
            "num": limit,
            "sortFields": [{"field": "createdDate", "sortOrder": "Desc"}],
        }
        closed = _closed_condition(query.statuses)
        if closed == "none":
            return ListPage(query.offset, [], end=True)
        if closed:
            search["q"] = closed
        response = await self.http.search("/jobs/search", json=search)
        body = self.http.json_object(response) if response.status_code == 200 else {}
        if response.status_code != 200 or isinstance(body.get("error"), dict):
            raise JobFailure(self.error(response))
        rows, next_start = body.get("results"), optional_int(body, "nextStart")
        if not isinstance(rows, list) or not all(isinstance(r, list) and r for r in rows):
            raise malformed(self.source, "a search answer without 'results' rows")
        found = await self.read_jobs([str(row[0]) for row in rows])
        if failed := next((j for j in found if isinstance(j, JobError)), None):
            raise JobFailure(failed)
        jobs = [j for j in found if not isinstance(j, JobError)]
        return ListPage(query.offset, jobs, end=next_start is None or next_start < 0)

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
            version, frozenset(str(s["id"]) for s in steps if isinstance(s, dict) and "id" in s)
        )

    def job_from(self, body: Mapping[str, Any], diagrams: Mapping[str, Diagram | JobError]) -> Job:
        native_id = text_field(self.source, body, "jobId")
        closed = body.get("closed")
        if not isinstance(closed, bool):
            raise malformed(self.source, "a job without a usable 'closed'")
        steps = self._steps(body.get("currentSteps"))
        job_status = optional_text(body, "jobStatus")
        latest: Diagram | None = None
        warnings: tuple[JobWarning, ...] = ()
        if not closed:
            diagram_id = text_field(self.source, body, "diagramId")
            diagram = diagrams.get(diagram_id)
            if isinstance(diagram, JobError):
                warnings = (_diagram_warning(diagram_id, diagram),)
            else:
                latest = diagram
        details = WorkflowManagerDetails(
            job_name=optional_text(body, "jobName"),
            description=optional_text(body, "description"),
            job_status=job_status,
            closed=closed,
            running=job_status in self.running_statuses,
            priority=optional_text(body, "priority"),
            percent_complete=optional_int(body, "percentComplete"),
            diagram_id=optional_text(body, "diagramId"),
            diagram_version=optional_int(body, "diagramVersion"),
            diagram_name=optional_text(body, "diagramName"),
            latest_diagram_version=None if latest is None else latest.version,
            job_template_id=optional_text(body, "jobTemplateId"),
            job_template_name=optional_text(body, "jobTemplateName"),
            created_date=optional_text(body, "createdDate"),
            due_date=optional_text(body, "dueDate"),
            end_date=optional_text(body, "endDate"),
            owned_by=optional_text(body, "ownedBy"),
            archived=_flag(body, "archived"),
            current_steps=steps,
            steps_in_latest_diagram=(
                None if latest is None else steps_in_diagram(steps, latest.step_ids)
            ),
        )
        key = key_of(details)
        return Job(
            source=self.source,
            native_id=native_id,
            provider=WORKFLOW_MANAGER,
            status=RULES.status_of(key),
            provider_status=job_status or ("Closed" if closed else "Open"),
            allowed_actions=RULES.allowed_actions(key),
            details=details,
            warnings=warnings,
            created_at=optional_time(body, "createdDate"),
            updated_at=optional_time(body, "lastUpdated"),
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
                assigned_type=optional_text(s, "assignedType"),
                assigned_to=optional_text(s, "assignedTo"),
                can_skip=_flag(s, "canSkip"),
                manual_hold=_flag(s, "manualHold"),
                hold_scheduled_release=optional_text(s, "holdScheduledRelease"),
                dependencies=_flag(s, "dependencies"),
            )
            for s in raw
        )

    # -- managing ---------------------------------------------------------------------------

    def change_for(self, request: ActionRequest) -> Change:
        return ManageJobs(request.action, self)  # one of MANAGE_TYPES, as the rules offer

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


class ManageJobs(Change):
    """``POST /jobs/manage`` ``{"type": .., "jobIds": [..]}`` for every job at once."""

    together = True
    upstream: WorkflowManagerProvider

    def __init__(self, action: JobAction, upstream: WorkflowManagerProvider) -> None:
        super().__init__(action, upstream)
        self.deletes = action is JobAction.DELETE

    async def refusal(self, job: Job) -> JobError | None:
        details = job.details
        assert isinstance(details, WorkflowManagerDetails)
        if self.action is JobAction.UPGRADE and job.warnings and not details.closed:
            # Whether its current step is in the latest diagram is unknown: say why, not a guess.
            [warning] = job.warnings
            return JobError(warning.code, f"Cannot check the upgrade: {warning.message}")
        return refusal(self.action, key_of(details), job.provider_status)

    def write(self, jobs: Sequence[Job]) -> Write:
        body = {"type": MANAGE_TYPES[self.action], "jobIds": [job.native_id for job in jobs]}
        return Write("POST", "/jobs/manage", body)

    def missing(self, job: Job) -> list[str]:
        details = job.details
        assert isinstance(details, WorkflowManagerDetails)
        latest, version = details.latest_diagram_version, details.diagram_version
        if change_visible(
            self.action, closed=details.closed, diagram_version=version, latest=latest
        ):
            return []
        shown = f"job status '{job.provider_status}'"
        if self.action is JobAction.UPGRADE:
            shown += f", diagram version {version} of {latest}"
        elif self.deletes:
            shown = "the job still exists, " + shown
        return [shown]

    def judge(self, response: httpx.Response, jobs: Sequence[Job]) -> Verdict:
        source, verb = self.upstream.source, self.action.verb
        answer = self.upstream.http.json_object(response)
        if isinstance(answer.get("error"), dict):  # ArcGIS also answers errors with a 200
            return Refused(self.upstream.error(response))
        success = answer.get("success")
        if success is True:
            said = f"Source '{source}' answered that the {verb} succeeded."
            return Open(JobError(ErrorCode.OUTCOME_UNKNOWN, said, upstream_status=200))
        if success is False:
            # Jobs that could be changed were; for the others the upstream said no.
            said = f"Source '{source}' answered that it did not {verb} every job sent."
            return Open(JobError(ErrorCode.INVALID_STATE, said, upstream_status=200), True)
        said = f"Source '{source}' answered the {verb} without a 'success' flag."
        return Open(JobError(ErrorCode.OUTCOME_UNKNOWN, said, upstream_status=200))


def _closed_condition(statuses: Collection[JobStatus] | None) -> str:
    """The search's ``q`` for the wanted statuses: closed jobs are CLOSED, open ones anything
    else; "none" when no job can match (nothing is asked)."""
    if statuses is None:
        return ""
    closed = JobStatus.CLOSED in statuses
    open_ = bool(set(RULES.statuses.values()) - {JobStatus.CLOSED} & set(statuses))
    if closed and open_:
        return ""
    return "closed=1" if closed else "closed=0" if open_ else "none"


def _flag(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    return value if isinstance(value, bool) else None


def _diagram_warning(diagram_id: str, error: JobError) -> JobWarning:
    return JobWarning(
        error.code,
        f"Diagram '{diagram_id}' could not be read ({error.message}), so whether the job can "
        "be upgraded is unknown and UPGRADE is not offered.",
    )


ARCGIS_TOKEN_URL = "https://www.arcgis.com/sharing/rest/oauth2/token"
_ERROR_START = re.compile(rb'\s*\{\s*"error"\s*:')


def refused_token(response: httpx.Response) -> bool:
    """ArcGIS refuses an expired or invalid token with 401, 498 or 499, or with an error
    object coded 498/499 in a 200 or 400 body."""
    status = response.status_code
    if status in (401, 498, 499):
        return True
    if status not in (200, 400, 403) or not _ERROR_START.match(response.content[:64]):
        return False
    try:
        error = orjson.loads(response.content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(error, dict) and str(error.get("code")) in _TOKEN_CODES


def build(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> WorkflowManagerProvider:
    """A fixed ArcGIS token, or an OAuth app's client credentials (ArcGIS Online's token URL
    unless ``token_url`` names a portal's)."""

    def app_token(endpoint: TokenEndpoint) -> Grant:
        client_id, secret = settings.client_id or "", settings.client_secret or ""
        return client_credentials(endpoint, client_id, secret, extra={"f": "json"})

    token_url = settings.token_url or ARCGIS_TOKEN_URL
    credentials = credentials_for(settings, transport, token_url, app_token, refused=refused_token)
    http = build_channel(settings, transport, credentials=credentials, routes=ROUTES)
    return WorkflowManagerProvider(
        settings.name,
        http,
        running_statuses=settings.option_list("running_statuses", DEFAULT_RUNNING_STATUSES),
    )
