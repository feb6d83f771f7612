"""Salesforce Data Cloud Ingestion API simulator (PROVIDERS.md §3).

Enforces the bulk-job state machine: Open -> UploadComplete | Aborted;
UploadComplete -> InProgress -> JobComplete | Failed. Errors are Salesforce's JSON arrays.
Jobs have the documented shape: the job-info answer (GET /jobs/{id}, and the PATCH's 200) adds
``contentUrl``, ``retries`` and ``totalProcessingTime`` to what a list shows; ``apiVersion`` is
"v1" or the number 1, and ``sourceName`` may be absent.

Auth, in Salesforce's two steps: ``POST /services/oauth2/token`` (client credentials, or the JWT
bearer flow with an assertion signed by a key registered for the client) answers a Salesforce
token with the ``instance_url`` where it can be exchanged; ``POST /services/a360/token``
exchanges such a token, once, for a Data Cloud token with ``expires_in``
(``DataCloudStore.tokens.lifetime``) and the ``instance_url`` of the Ingestion API. Both
instance URLs are this simulator's own address. An expired or unknown Data Cloud token is ``401``
``[{"errorCode": "INVALID_SESSION_ID", ..}]``.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.simulators.common import bearer_token, json_body, json_response
from jobgate.simulators.oauth import TokenBook, form_of, same_secret, seconds
from jobgate.simulators.vendor import SimulatedVendor

DEMO_TOKEN = "demo-data-cloud-token"
DEMO_CLIENT_ID = "3MVG9jobgateDemoConsumerKey"
DEMO_CLIENT_SECRET = "demo-salesforce-consumer-secret-7Kw3"
DEMO_USERNAME = "integration@tenant.test"
EXCHANGE_GRANT = "urn:salesforce:grant-type:external:cdp"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PREFIX = "/api/v1/ingest/jobs"
STATES = ("Open", "UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted")
# What a PATCH may do: only an Open job moves, and only to these states.
PATCH_TARGETS = {"Open": {"UploadComplete", "Aborted"}}
# What processing does on its own once a job is closed.
PROCESSING = {"UploadComplete": "InProgress", "InProgress": "JobComplete"}
DELETABLE = {"UploadComplete", "JobComplete", "Aborted", "Failed"}
# The list's `states` takes these (the Get All Jobs page: not InProgress); `orderBy` a job field.
LISTABLE_STATES = frozenset({"Open", "UploadComplete", "Failed", "Aborted", "JobComplete"})
ORDER_FIELDS = frozenset({"systemModstamp", "createdDate"})

INVALID_STATE = [
    {
        "errorCode": "InvalidJobState",
        "message": "The job state specified in a job update operation is invalid.",
    }
]
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
INVALID_SESSION = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _error(status: int, code: str, message: str) -> Response:
    return json_response([{"errorCode": code, "message": message}], status)


@dataclass
class DataCloudStore:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: TokenBook = field(default_factory=lambda: TokenBook(lifetime=7199, fixed={DEMO_TOKEN}))
    # Salesforce tokens not yet exchanged: each can be exchanged once.
    core_tokens: set[str] = field(default_factory=set)
    clients: dict[str, str] = field(default_factory=lambda: {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    # client id -> the PEM public key that verifies its JWT bearer assertions.
    jwt_keys: dict[str, str] = field(default_factory=dict)
    users: set[str] = field(default_factory=lambda: {DEMO_USERNAME})
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(
        self,
        state: str = "Open",
        *,
        object: str = "Contact",
        source_name: str | None = "crm",
        operation: str = "upsert",
        job_id: str | None = None,
        created: str | None = None,
        api_version: str | int = "v1",
    ) -> dict[str, Any]:
        """A job in ``state``; ``source_name=None`` leaves ``sourceName`` out."""
        if state not in STATES:
            raise ValueError(f"unknown Data Cloud state {state!r}")
        job_id = job_id or f"7505e00000{next(self._serial):08d}AAW"
        stamp = created or _now()
        job: dict[str, Any] = {"id": job_id, "operation": operation, "object": object}
        if source_name is not None:
            job["sourceName"] = source_name
        job.update(
            createdById="0055e000003PfMYAA0",
            createdDate=stamp,
            systemModstamp=stamp,
            state=state,
            contentType="CSV",
            apiVersion=api_version,
        )
        self.jobs[job_id] = job
        return job

    def info(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job-info answer: the job plus its processing figures."""
        done = job["state"] in ("JobComplete", "Failed")
        return {
            **job,
            "contentUrl": f"{PREFIX}/{job['id']}/batches",
            "retries": 0,
            "totalProcessingTime": 4200 if done else 0,
        }

    def set_state(self, job_id: str, state: str) -> None:
        self.jobs[job_id]["state"] = state
        self.jobs[job_id]["systemModstamp"] = _now()

    def advance(self, job_id: str, *, fail: bool = False) -> str:
        """Let processing move a closed job one step on (the upstream does this by itself)."""
        state = self.jobs[job_id]["state"]
        nxt = PROCESSING.get(state)
        if nxt is None:
            raise ValueError(f"a job in {state} does not advance")
        self.set_state(job_id, "Failed" if fail and nxt == "JobComplete" else nxt)
        return str(self.jobs[job_id]["state"])


def seed(store: DataCloudStore) -> None:
    """Sample jobs in every state, with stable ids the README and tests can use."""
    day = "2026-11-0{}T09:{:02d}:00.000Z"
    store.add("Open", job_id="7505e000001NLkPAAW", created=day.format(2, 15))
    store.add("Open", object="Account", job_id="7505e000001NLkQAAW", created=day.format(3, 20))
    store.add(
        "UploadComplete", object="Lead", job_id="7505e000001NLkRAAW", created=day.format(4, 5)
    )
    store.add(
        "InProgress", source_name=None, job_id="7505e000001NLkSAAW", created=day.format(5, 40)
    )
    store.add("JobComplete", job_id="7505e000001NLkTAAW", created=day.format(6, 10), api_version=1)
    store.add("Failed", operation="delete", job_id="7505e000001NLkUAAW", created=day.format(7, 0))
    store.add("Aborted", object="Account", job_id="7505e000001NLkVAAW", created=day.format(8, 30))


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _instance_url(request: Request) -> str:
    """Where this simulator is served: the request's URL without the token endpoint's path."""
    url = str(request.url.replace(query=""))
    return url[: url.index("/services/")]


def _assertion_refusal(store: DataCloudStore, assertion: str, audience: str) -> str | None:
    """Why a JWT bearer assertion is refused, or None."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return "The assertion is not a JWT."
    key = store.jwt_keys.get(str(unverified.get("iss")))
    if key is None:
        return "The assertion's issuer is not a known consumer key."
    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=[audience, "https://login.salesforce.com", "https://test.salesforce.com"],
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError:
        return "The assertion does not verify."
    return None if claims["sub"] in store.users else "The user is not approved for this app."


def create_app(
    store: DataCloudStore | None = None, tokens: Collection[str] = (DEMO_TOKEN,)
) -> Starlette:
    store = store if store is not None else DataCloudStore()
    store.tokens.fixed.update(tokens)

    def authorized(request: Request) -> Response | None:
        valid = store.tokens.valid(bearer_token(request))
        return None if valid else json_response(INVALID_SESSION, 401)

    async def salesforce_token(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return _oauth_error("invalid_request", "The request must be form-encoded.")
        grant = form.get("grant_type")
        if grant == "client_credentials":
            client = form.get("client_id", "")
            if not same_secret(store.clients.get(client), form.get("client_secret")):
                return _oauth_error("invalid_client", "invalid client credentials")
        elif grant == JWT_BEARER_GRANT:
            refusal = _assertion_refusal(store, form.get("assertion", ""), _instance_url(request))
            if refusal is not None:
                return _oauth_error("invalid_grant", refusal)
        else:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        core = "00D" + secrets.token_urlsafe(24)
        store.core_tokens.add(core)
        instance = _instance_url(request)
        return json_response(
            {
                "access_token": core,
                "signature": secrets.token_urlsafe(16),
                "scope": "cdp_ingest_api api",
                "instance_url": instance,
                "id": f"{instance}/id/00D000000000001/005000000000001",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            }
        )

    async def data_cloud_token(request: Request) -> Response:
        form = await form_of(request)
        if form is None or form.get("grant_type") != EXCHANGE_GRANT:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        subject = form.get("subject_token", "")
        if subject not in store.core_tokens:  # unknown, or exchanged already
            return _oauth_error("invalid_grant", "The subject token is invalid or was used.")
        store.core_tokens.discard(subject)
        return json_response(
            {
                "access_token": store.tokens.issue("dc_"),
                "instance_url": _instance_url(request),
                "token_type": "Bearer",
                "issued_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "expires_in": seconds(store.tokens.lifetime),
            }
        )

    async def list_or_create(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        if request.method == "POST":
            body = await json_body(request)
            if not isinstance(body, dict) or not all(
                isinstance(body.get(k), str) and body[k] for k in ("object", "sourceName")
            ):
                return _error(400, "INVALID_INPUT", "object and sourceName are required.")
            if body.get("operation", "upsert") not in ("upsert", "delete"):
                return _error(400, "INVALID_INPUT", "operation must be upsert or delete.")
            job = store.add(
                object=body["object"],
                source_name=body["sourceName"],
                operation=body.get("operation", "upsert"),
            )
            return json_response(job, 201)
        try:
            limit = int(request.query_params.get("limit", "20"))
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return _error(400, "INVALID_INPUT", "limit and offset must be integers.")
        if not 1 <= limit <= 100 or offset < 0:
            return _error(400, "INVALID_INPUT", "limit must be between 1 and 100.")
        query = request.query_params
        # Older API versions spell them `state` and `orderby`.
        listed = query.get("states", query.get("state", ""))
        wanted = {s for s in listed.split(",") if s}
        if unknown := wanted - LISTABLE_STATES:
            return _error(400, "INVALID_INPUT", f"Unknown job state: {sorted(unknown)[0]}.")
        order = query.get("orderBy", query.get("orderby", "systemModstamp"))
        if order not in ORDER_FIELDS:
            return _error(400, "INVALID_INPUT", f"Cannot order jobs by {order}.")
        jobs = [j for j in store.jobs.values() if not wanted or j["state"] in wanted]
        jobs.sort(key=lambda job: (job[order], job["createdDate"]))  # stable: insertion order
        return json_response({"data": jobs[offset : offset + limit]})

    async def one_job(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        job = store.jobs.get(request.path_params["job_id"])
        if job is None:
            return json_response(NOT_FOUND, 404)
        if request.method == "GET":
            return json_response(store.info(job))
        if request.method == "DELETE":
            if job["state"] not in DELETABLE:
                return json_response(INVALID_STATE, 400)
            del store.jobs[job["id"]]
            return Response(status_code=204)
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("state"), str):
            return _error(400, "JSON_PARSER_ERROR", "The request body must carry a state.")
        if body["state"] not in PATCH_TARGETS.get(job["state"], set()):
            return json_response(INVALID_STATE, 400)
        store.set_state(job["id"], body["state"])
        return json_response(store.info(job))

    async def upload_batch(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        job = store.jobs.get(request.path_params["job_id"])
        if job is None:
            return json_response(NOT_FOUND, 404)
        if job["state"] != "Open":
            return json_response(INVALID_STATE, 400)
        if not request.headers.get("content-type", "").startswith("text/csv"):
            return _error(400, "INVALID_INPUT", "Batches must be text/csv.")
        await request.body()
        return Response(status_code=202)

    app = Starlette(
        routes=[
            Route("/services/oauth2/token", salesforce_token, methods=["POST"]),
            Route("/services/a360/token", data_cloud_token, methods=["POST"]),
            Route(PREFIX, list_or_create, methods=["GET", "POST"]),
            Route(PREFIX + "/{job_id}", one_job, methods=["GET", "PATCH", "DELETE"]),
            Route(PREFIX + "/{job_id}/batches", upload_batch, methods=["PUT"]),
        ]
    )
    app.state.store = store
    return app


# Contract-suite hook: every state a job can be put in, and a way to make one in it.
SCENARIOS: tuple[str, ...] = STATES


def create_in(store: DataCloudStore, scenario: str) -> str:
    return str(store.add(scenario)["id"])


def simulated(*, seeded: bool = True) -> SimulatedVendor:
    """A Data Cloud tenant; its source logs in at Salesforce and learns the instance from the
    token exchange, so the config has no ``base_url``."""
    store = DataCloudStore()
    if seeded:
        seed(store)
    return SimulatedVendor(
        provider=DATA_CLOUD,
        source="ingest",
        mount="/data-cloud",
        app=create_app(store),
        options={
            "login_url": "{root}",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        base_from_token=True,
    )
