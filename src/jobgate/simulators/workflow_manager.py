"""ArcGIS Workflow Manager simulator (PROVIDERS.md §4): jobs, search, manage, run/stop, diagrams.

Served under ``/{orgId}/{itemId}``; any org and item address the one store. Behaviour the vendor
does not document, as chosen here:

* Token: ``Authorization: Bearer`` or ``?token=``. A missing token answers ``401``
  ``{"error":{"code":499,"message":"Token Required."}}``, an unknown or expired one ``401``
  ``{"error":{"code":498,"message":"Invalid token."}}``. ArcGIS's OAuth endpoint is served at
  ``/sharing/rest/oauth2/token`` (client credentials; ``expires_in`` is
  ``WorkflowManagerStore.issued.lifetime``); refused credentials are a ``400`` with ArcGIS's
  error object.
* Unknown job (read, run/stop): ``404`` with the exception DTO, ``error.type``
  ``"InvalidJobId"`` and the message ``"Invalid job id '<id>': the job does not exist."``.
* Manage: a token lacking the type's privilege (jobClose, jobReopenClosed, jobUpgrade,
  jobDelete) refuses the whole request before any job is looked at: ``400`` with ``error.type``
  ``"InsufficientPrivileges"`` and ``"User does not have the privilege jobClose to perform this
  operation."``. Otherwise jobs that can be changed are changed, the others (refused, or unknown
  ids) are left, and the answer is ``200 {"success": false}`` when any was left. An unknown type,
  a missing body or an empty ``jobIds`` is ``400`` ``WorkflowJsonException``. Closing a closed job
  is a no-op the vendor does not list as a refusal, so it counts as success.
* A closed job keeps its current steps and has ``jobStatus`` ``"Closed"``; Reopen restores the
  step's status. ``POST /jobs/{id}/action`` ``Run``/``Stop`` needs no privilege and refuses a
  closed job (``400`` ``InvalidJobState``).
* ``GET /diagrams/{diagramId}`` answers the latest version, ``GET /diagrams/{id}/{version}``
  that version (``-1``: the latest); an unknown diagram or version is ``404`` with the exception
  DTO. Steps are keyed ``id``/``name``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobgate.domain.workflow_manager import WORKFLOW_MANAGER
from jobgate.simulators.common import bearer_token, json_body, json_response
from jobgate.simulators.oauth import form_of, same_secret, seconds
from jobgate.simulators.vendor import SimulatedVendor
from jobgate.simulators.workflow_manager_store import (
    ALL_PRIVILEGES,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TOKEN,
    MANAGE_PRIVILEGES,
    SCENARIOS,
    WorkflowManagerStore,
    create_in,
    seed,
)

__all__ = [
    "ALL_PRIVILEGES",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_TOKEN",
    "SCENARIOS",
    "WorkflowManagerStore",
    "create_app",
    "create_in",
    "seed",
]

BASE = "/{org_id}/{item_id}"
TOKEN_PATH = "/sharing/rest/oauth2/token"
JOB_FIELDS = (
    "jobId",
    "jobName",
    "description",
    "jobStatus",
    "closed",
    "priority",
    "percentComplete",
    "diagramId",
    "diagramVersion",
    "jobTemplateId",
    "createdDate",
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_CLOSED = re.compile(r"closed\s*=\s*([01])", re.IGNORECASE)
_IN = re.compile(r"jobId\s+in\s*\(([^)]*)\)", re.IGNORECASE)
_EQUALS = re.compile(r"(\w+)\s*=\s*'([^']*)'")
_QUOTED = re.compile(r"'([^']*)'")


def error(status: int, message: str, kind: str | int, key: str = "type") -> Response:
    return json_response({"error": {key: kind, "message": message, "details": []}}, status)


def _token_error(kind: str, message: str) -> Response:
    """ArcGIS's OAuth error: its error object, with the OAuth code beside its own."""
    body = {"code": 400, "error": kind, "error_description": message, "message": message}
    return json_response({"error": {**body, "details": []}}, 400)


def _bad_json(message: str) -> Response:
    return error(400, message, "WorkflowJsonException")


def _unknown_job(job_id: str) -> Response:
    return error(404, f"Invalid job id '{job_id}': the job does not exist.", "InvalidJobId")


def _clause(text: str) -> Callable[[dict[str, Any]], bool] | None:
    if m := _CLOSED.fullmatch(text):
        wanted = m.group(1) == "1"
        return lambda job: bool(job["closed"]) is wanted
    if m := _IN.fullmatch(text):
        ids = set(_QUOTED.findall(m.group(1)))
        return lambda job: job["jobId"] in ids
    if (m := _EQUALS.fullmatch(text)) and m.group(1) in JOB_FIELDS:
        name, value = m.group(1), m.group(2)
        return lambda job: str(job[name]) == value
    return None


def _sort_fields(raw: object) -> list[tuple[str, bool]] | None:
    """``[{"field": "createdDate", "sortOrder": "Desc"}]`` as (field, descending) pairs."""
    if not isinstance(raw, list):
        return None
    order = []
    for entry in raw:
        if not isinstance(entry, dict) or entry.get("field") not in JOB_FIELDS:
            return None
        if entry.get("sortOrder", "Asc") not in ("Asc", "Desc"):
            return None
        order.append((str(entry["field"]), entry.get("sortOrder") == "Desc"))
    return order


def search(store: WorkflowManagerStore, body: Any) -> Response:
    if not isinstance(body, dict):
        return _bad_json("The search body must be a JSON object.")
    q, fields = body.get("q", ""), body.get("fields", ["jobId"])
    start, num = body.get("start", 0), body.get("num", 100)
    if not isinstance(q, str) or not isinstance(fields, list) or not fields:
        return _bad_json("q must be a string and fields a non-empty list.")
    if unknown := [f for f in fields if f not in JOB_FIELDS]:
        return _bad_json(f"Unknown field '{unknown[0]}'.")
    if not isinstance(start, int) or not isinstance(num, int) or start < 0 or not 0 < num <= 1000:
        return _bad_json("start must be >= 0 and num between 1 and 1000.")
    tests = [_clause(c.strip()) for c in _AND.split(q.strip())] if q.strip() else []
    if any(t is None for t in tests):
        return _bad_json(f"Unsupported query '{q}'.")
    found = [j for j in store.jobs.values() if all(t(j) for t in tests if t is not None)]
    order = _sort_fields(body.get("sortFields", []))
    if order is None:
        return _bad_json("sortFields must be a list of {field, sortOrder: Asc|Desc}.")
    for name, descending in reversed(order):  # stable sorts: the first field decides first
        found.sort(key=lambda job: (job.get(name) is None, str(job.get(name))), reverse=descending)
    page = found[start : start + num]
    more = start + num < len(found)
    return json_response(
        {
            "fields": fields,
            "results": [[job[f] for f in fields] for job in page],
            "start": start,
            "nextStart": start + num if more else -1,
            "num": len(page),
        }
    )


def create_app(store: WorkflowManagerStore | None = None) -> Starlette:
    store = store if store is not None else WorkflowManagerStore()

    def privileges(request: Request) -> frozenset[str] | Response:
        token = bearer_token(request) or request.query_params.get("token")
        if not token:
            return error(401, "Token Required.", 499, key="code")
        if token in store.tokens:
            return store.tokens[token]
        if store.issued.valid(token):
            return ALL_PRIVILEGES
        return error(401, "Invalid token.", 498, key="code")

    async def issue_token(request: Request) -> Response:
        form = await form_of(request)
        client = (form or {}).get("client_id", "")
        if form is None or form.get("grant_type") != "client_credentials":
            return _token_error("unsupported_grant_type", "Use grant_type=client_credentials.")
        if not same_secret(store.clients.get(client), form.get("client_secret")):
            return _token_error("invalid_client_id", "Invalid client_id")
        lifetime = seconds(store.issued.lifetime)
        return json_response({"access_token": store.issued.issue("wm_"), "expires_in": lifetime})

    async def get_job(request: Request) -> Response:
        if isinstance(denied := privileges(request), Response):
            return denied
        job_id = request.path_params["job_id"]
        job = store.jobs.get(job_id)
        return _unknown_job(job_id) if job is None else json_response(job)

    async def search_jobs(request: Request) -> Response:
        if isinstance(denied := privileges(request), Response):
            return denied
        return search(store, await json_body(request))

    async def manage_jobs(request: Request) -> Response:
        held = privileges(request)
        if isinstance(held, Response):
            return held
        body = await json_body(request)
        if not isinstance(body, dict) or body.get("type") not in MANAGE_PRIVILEGES:
            return _bad_json("type must be one of Close, Reopen, Upgrade, Delete.")
        ids = body.get("jobIds")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return _bad_json("jobIds must be a non-empty list of job ids.")
        needed = MANAGE_PRIVILEGES[body["type"]]
        if needed not in held:
            return error(
                400,
                f"User does not have the privilege {needed} to perform this operation.",
                "InsufficientPrivileges",
            )
        if store.before_manage is not None:
            store.before_manage()
        return json_response({"success": store.manage(body["type"], ids)})

    async def job_action(request: Request) -> Response:
        if isinstance(denied := privileges(request), Response):
            return denied
        job_id = request.path_params["job_id"]
        if job_id not in store.jobs:
            return _unknown_job(job_id)
        body = await json_body(request)
        if not isinstance(body, dict) or body.get("type") not in ("Run", "Stop"):
            return _bad_json("type must be Run or Stop.")
        if store.jobs[job_id]["closed"]:
            return error(400, f"Job '{job_id}' is closed.", "InvalidJobState")
        store.set_running(job_id, body["type"] == "Run")
        return json_response({"success": True})

    async def get_diagram(request: Request) -> Response:
        if isinstance(denied := privileges(request), Response):
            return denied
        diagram_id = request.path_params["diagram_id"]
        versions = store.diagrams.get(diagram_id)
        wanted = request.path_params.get("version", "-1")
        number = int(wanted) if wanted.lstrip("-").isdigit() else 0
        if not versions or not (number == -1 or 1 <= number <= len(versions)):
            message = f"Diagram '{diagram_id}' version {wanted} does not exist."
            return error(404, message, "InvalidDiagramId")
        return json_response(versions[number - 1] if number > 0 else versions[-1])

    app = Starlette(
        routes=[
            Route(TOKEN_PATH, issue_token, methods=["POST"]),
            Route(BASE + "/jobs/search", search_jobs, methods=["POST"]),
            Route(BASE + "/jobs/manage", manage_jobs, methods=["POST"]),
            Route(BASE + "/jobs/{job_id}", get_job, methods=["GET"]),
            Route(BASE + "/jobs/{job_id}/action", job_action, methods=["POST"]),
            Route(BASE + "/diagrams/{diagram_id}", get_diagram, methods=["GET"]),
            Route(BASE + "/diagrams/{diagram_id}/{version}", get_diagram, methods=["GET"]),
        ]
    )
    app.state.store = store
    return app


def simulated(*, seeded: bool = True) -> SimulatedVendor:
    """An ArcGIS organisation's Workflow Manager item; tokens from the portal's OAuth."""
    store = WorkflowManagerStore()
    if seeded:
        seed(store)
    return SimulatedVendor(
        provider=WORKFLOW_MANAGER,
        source="gis",
        mount="/workflow-manager",
        base_path="/demoOrg/demoItem",
        app=create_app(store),
        options={
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "token_url": "{root}" + TOKEN_PATH,
        },
    )
