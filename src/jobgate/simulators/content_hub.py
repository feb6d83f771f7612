"""Sitecore Content Hub fetch-jobs simulator (PROVIDERS.md §1).

Jobs have exactly the documented shape: no ``id`` key (the id is the last segment of
``self.href``), ``state_description`` a Labels object (``{"en-US": ..}``, or a plain string as the
docs' own example shows, or null), ``owner`` and ``files`` links. A PUT may only cancel a Pending
job, must carry ``condition``, ``file_count``, ``scope`` (when the job has one) and
``state_description`` (unless it is null) equal to the stored job, and may carry nothing else;
anything else is the vendor's 403 ``{"Message": ..}``. Only ``state`` changes. To reproduce a
``204`` that changed nothing, put a job's id in ``ContentHubStore.ignore_cancels``.

Auth: ``POST /oauth/token`` (form) with ``grant_type=password`` (client_id, client_secret,
username, password) or ``grant_type=refresh_token`` answers ``access_token``, ``refresh_token``
and ``expires_in`` (``ContentHubStore.tokens.lifetime``, an hour by default); an expired or
unknown bearer token is ``401`` with the vendor's ``{"Message": ..}``. The legacy
``X-Auth-Token`` header takes the fixed token, which never expires.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import EllipsisType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobgate.domain.content_hub import CONTENT_HUB
from jobgate.simulators.common import bearer_token, json_body, json_response
from jobgate.simulators.oauth import TokenBook, form_of, same_secret, seconds
from jobgate.simulators.vendor import SimulatedVendor

DEMO_TOKEN = "demo-content-hub-token"
DEMO_CLIENT_ID = "jobgate-demo"
DEMO_CLIENT_SECRET = "demo-content-hub-client-secret-8Hn2"
DEMO_USERNAME = "integration@tenant.test"
DEMO_PASSWORD = "demo-content-hub-password-Qz41"
PREFIX = "/api/fetchjobs"
TENANT = "https://tenant.contenthub.test"  # the host in the links the simulator writes
STATES = ("Created", "Pending", "InProgress", "Completed", "Cancelled")
# The documented conditions, and the two the job-status page also shows (InProgress/None and
# Cancelled/Cancelled).
CONDITIONS = ("Pending", "Success", "Failure", "None", "Cancelled")
# The keys a cancel PUT may carry.
PUT_KEYS = frozenset({"condition", "file_count", "scope", "state", "state_description"})

ONLY_STATE = {"Message": "Only the 'Job.State' property can be changed."}
NOT_FOUND = {"Message": "Entity not found."}
DENIED = {"Message": "Authorization has been denied for this request."}

# What a job's fields look like when a test or the seed does not say.
_DESCRIPTIONS = {
    "Created": "Created",
    "Pending": "Waiting",
    "InProgress": "Processing",
    "Completed:Success": "Job completed",
    "Completed:Failure": "Job failed",
    "Cancelled": "Cancelled",
}
_CONDITIONS = {"Completed": "Success", "InProgress": "None", "Cancelled": "Cancelled"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(status: int, text: str) -> Response:
    return json_response({"Message": text}, status)


def _same_count(sent: Any, stored: Any) -> bool:
    """``file_count`` as a string ("1") or a number (1): either matches the stored count."""

    def number(value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return None

    return number(sent) is not None and number(sent) == number(stored)


def cancel_refused(job: dict[str, Any], body: Any) -> bool:
    """Whether the upstream answers 403 to this PUT body for this job."""
    if not isinstance(body, dict) or not set(body) <= PUT_KEYS:
        return True
    if job["state"] != "Pending" or body.get("state") != "Cancelled":
        return True
    if "condition" not in body or body["condition"] != job["condition"]:
        return True
    if not _same_count(body.get("file_count"), job["file_count"]):
        return True
    if "scope" in job and body.get("scope") != job["scope"]:
        return True
    if "scope" not in job and body.get("scope") is not None:
        return True
    if job["state_description"] is None:
        return body.get("state_description") is not None
    return bool(body.get("state_description") != job["state_description"])


def job_id_of(job: dict[str, Any]) -> int:
    return int(job["self"]["href"].rpartition("/")[2])


@dataclass
class ContentHubStore:
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    ignore_cancels: set[int] = field(default_factory=set)  # answered 204, left Pending
    received_puts: list[tuple[int, Any]] = field(default_factory=list)  # (id, body) as sent
    tokens: TokenBook = field(default_factory=lambda: TokenBook(fixed={DEMO_TOKEN}))
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> client id
    clients: dict[str, str] = field(default_factory=lambda: {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    users: dict[str, str] = field(default_factory=lambda: {DEMO_USERNAME: DEMO_PASSWORD})
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(6400))

    def add(
        self,
        state: str = "Pending",
        condition: str | None = None,
        *,
        scope: str | None = "data_import",
        file_count: int | str = 1,
        files_completed: int | None = None,
        state_description: str | dict[str, str] | EllipsisType | None = ...,
        job_id: int | None = None,
        started: str | None = None,
    ) -> dict[str, Any]:
        """A job in ``state``. Condition defaults to Success for Completed, None for
        InProgress, Cancelled for Cancelled, Pending otherwise; ``state_description`` left as
        ``...`` gets a Labels value fitting the state, ``None`` stores null. ``scope=None``
        makes a job without one (the resource page does not list it)."""
        if state not in STATES:
            raise ValueError(f"unknown Content Hub state {state!r}")
        condition = condition or _CONDITIONS.get(state, "Pending")
        if condition not in CONDITIONS:
            raise ValueError(f"unknown Content Hub condition {condition!r}")
        job_id = job_id if job_id is not None else next(self._serial)
        stamp = started or _now()
        key = f"{state}:{condition}" if state == "Completed" else state
        described: Any = state_description
        if isinstance(state_description, EllipsisType):
            described = {"en-US": _DESCRIPTIONS[key]} if key in _DESCRIPTIONS else None
        count = int(file_count)
        job: dict[str, Any] = {
            "state_description": described,
            "state": state,
            "condition": condition,
            "started_on": stamp if state in ("InProgress", "Completed") else None,
            "completed_on": stamp if state == "Completed" else None,
            "file_count": file_count,
            "files_completed": (
                files_completed
                if files_completed is not None
                else (count if condition == "Success" else 0)
            ),
        }
        if scope is not None:
            job["scope"] = scope
        job["owner"] = {"href": f"{TENANT}/api/entities/6"}
        job["self"] = {"href": f"{TENANT}{PREFIX}/{job_id}", "title": "This fetch job."}
        job["files"] = {"href": f"{TENANT}{PREFIX}/{job_id}/files"}
        self.jobs[job_id] = job
        return job

    def set_state(self, job_id: int, state: str) -> None:
        self.jobs[job_id]["state"] = state


def seed(store: ContentHubStore) -> None:
    """Sample jobs in every state, with stable ids the README and tests can use."""
    day = "2024-03-0{}T10:{}:00Z"
    store.add("Created", job_id=6160)
    store.add("Pending", job_id=6161, state_description=None, file_count=3)
    store.add("InProgress", job_id=6162, file_count=4, started=day.format(2, 10))
    store.add("Completed", "Success", job_id=6163, file_count=2, started=day.format(2, 30))
    store.add(
        "Completed", "Failure", job_id=6164, scope="asset_import", started=day.format(3, "00")
    )
    store.add("Cancelled", job_id=6165)
    # A job without a scope, and one whose description is a plain string with a string count.
    store.add("Pending", job_id=6166, scope=None, state_description={"en-US": "Waiting"})
    store.add("Pending", job_id=6167, state_description="Waiting", file_count="2")
    # The job PROVIDERS.md §1 shows.
    store.add("Pending", job_id=6168, state_description={"en-US": "Waiting"})


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def create_app(
    store: ContentHubStore | None = None, tokens: Collection[str] = (DEMO_TOKEN,)
) -> Starlette:
    store = store if store is not None else ContentHubStore()
    store.tokens.fixed.update(tokens)

    def authorized(request: Request) -> Response | None:
        bearer = bearer_token(request)
        if bearer is not None:
            return None if store.tokens.valid(bearer) else json_response(DENIED, 401)
        legacy = request.headers.get("x-auth-token", "").strip()  # never expires
        return None if legacy in store.tokens.fixed else json_response(DENIED, 401)

    async def issue_token(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return _oauth_error("invalid_request", "The request must be form-encoded.")
        client = form.get("client_id", "")
        if not same_secret(store.clients.get(client), form.get("client_secret")):
            return _oauth_error("invalid_client", "The client credentials are invalid.", 401)
        grant = form.get("grant_type")
        if grant == "password":
            user = form.get("username", "")
            if not same_secret(store.users.get(user), form.get("password")):
                return _oauth_error("invalid_grant", "The user name or password is incorrect.")
        elif grant == "refresh_token":
            if store.refresh_tokens.pop(form.get("refresh_token", ""), None) != client:
                return _oauth_error("invalid_grant", "The refresh token is invalid or expired.")
        else:
            return _oauth_error("unsupported_grant_type", "Use password or refresh_token.")
        refresh = secrets.token_urlsafe(24)
        store.refresh_tokens[refresh] = client
        return json_response(
            {
                "access_token": store.tokens.issue("ch_"),
                "token_type": "bearer",
                "expires_in": seconds(store.tokens.lifetime),
                "refresh_token": refresh,
            }
        )

    async def list_or_create(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        if request.method == "POST":
            body = await json_body(request)
            if not isinstance(body, dict):
                return _message(400, "The request body must be a JSON object.")
            urls = body.get("urls")
            # A new fetch job waits in Pending until a worker picks it up.
            job = store.add(
                "Pending",
                scope=body["scope"] if isinstance(body.get("scope"), str) else "data_import",
                file_count=len(urls) if isinstance(urls, list) and urls else 1,
            )
            location = f"{PREFIX}/{job_id_of(job)}"
            return Response(status_code=201, headers={"Location": location})
        try:
            skip = int(request.query_params.get("skip", "0"))
            take = int(request.query_params.get("take", "25"))
        except ValueError:
            return _message(400, "skip and take must be integers.")
        if skip < 0 or not 0 <= take <= 1000:
            return _message(400, "skip must be >= 0 and take between 0 and 1000.")
        wanted = request.query_params.get("state")
        jobs = [j for j in store.jobs.values() if not wanted or j["state"] == wanted]
        page = jobs[skip : skip + take]
        return json_response({"items": page, "total_items": len(jobs), "returned_items": len(page)})

    async def one_job(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        raw_id = request.path_params["job_id"]
        job = store.jobs.get(int(raw_id)) if raw_id.isascii() and raw_id.isdigit() else None
        if request.method == "DELETE":
            return _message(405, "The requested resource does not support http method 'DELETE'.")
        if job is None:
            return json_response(NOT_FOUND, 404)
        if request.method == "GET":
            return json_response(job)
        body = await json_body(request)
        job_id = job_id_of(job)
        store.received_puts.append((job_id, body))
        if cancel_refused(job, body):
            return json_response(ONLY_STATE, 403)
        if job_id not in store.ignore_cancels:
            store.set_state(job_id, "Cancelled")
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/oauth/token", issue_token, methods=["POST"]),
            Route(PREFIX, list_or_create, methods=["GET", "POST"]),
            Route(PREFIX + "/{job_id}", one_job, methods=["GET", "PUT", "DELETE"]),
        ]
    )
    app.state.store = store
    return app


# Contract-suite hook: every state a job can be in ("state:condition" where condition tells
# two apart), and a way to make one in it.
SCENARIOS: tuple[str, ...] = (
    "Created",
    "Pending",
    "InProgress",
    "Completed:Success",
    "Completed:Failure",
    "Cancelled",
)


def create_in(store: ContentHubStore, scenario: str) -> str:
    state, _, condition = scenario.partition(":")
    return str(job_id_of(store.add(state, condition or None)))


def simulated(*, seeded: bool = True) -> SimulatedVendor:
    """A Content Hub tenant whose source signs in with OAuth's password grant."""
    store = ContentHubStore()
    if seeded:
        seed(store)
    return SimulatedVendor(
        provider=CONTENT_HUB,
        source="hub",
        mount="/content-hub",
        app=create_app(store),
        options={
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
        },
    )
