"""BigChange jobs API simulator (PROVIDERS.md §2): OAuth client credentials, jobs, job types.

Every ``/v1`` call needs a valid bearer token with the right scope (``jobs:read`` to read,
``jobs:write`` to change) and the ``Customer-Id`` header; errors are RFC 7807 problem+json.
The rules themselves live with the state in ``bigchange_store``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobgate.domain.bigchange import BIGCHANGE
from jobgate.simulators.bigchange_store import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CUSTOMER_ID,
    LATE_STATUSES,
    READER_CLIENT_ID,
    READER_CLIENT_SECRET,
    STATUSES,
    BigChangeStore,
    Refused,
    seed,
)
from jobgate.simulators.common import bearer_token, json_body, json_response
from jobgate.simulators.oauth import seconds
from jobgate.simulators.vendor import SimulatedVendor

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_CUSTOMER_ID",
    "READER_CLIENT_ID",
    "READER_CLIENT_SECRET",
    "SCENARIOS",
    "STATUSES",
    "BigChangeStore",
    "create_app",
    "create_in",
    "seed",
]

PROBLEM = "application/problem+json"
# ASP.NET-style problem types, as a .NET API such as BigChange's answers them.
_TYPES = {
    400: ("https://tools.ietf.org/html/rfc7231#section-6.5.1", "Bad Request"),
    401: ("https://tools.ietf.org/html/rfc7235#section-3.1", "Unauthorized"),
    403: ("https://tools.ietf.org/html/rfc7231#section-6.5.3", "Forbidden"),
    404: ("https://tools.ietf.org/html/rfc7231#section-6.5.4", "Not Found"),
    422: ("https://tools.ietf.org/html/rfc4918#section-11.2", "Unprocessable Entity"),
}


def problem(
    request: Request, status: int, detail: str, errors: dict[str, list[str]] | None = None
) -> Response:
    kind, title = _TYPES[status]
    body: dict[str, Any] = {
        "type": kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    response = json_response(body, status, media_type=PROBLEM)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def answer(request: Request, apply: Callable[[], None]) -> Response:
    """204 when the store applied the change, else the problem it refused it with."""
    try:
        apply()
    except Refused as refusal:
        return problem(request, refusal.status, refusal.detail, refusal.errors)
    return Response(status_code=204)


def create_app(store: BigChangeStore | None = None) -> Starlette:
    store = store if store is not None else BigChangeStore()

    def refused(request: Request, scope: str) -> Response | None:
        """Why this request may not go on: token, then scope, then customer."""
        value = bearer_token(request)
        token = None if value is None else store.valid_token(value)
        if token is None:
            return problem(request, 401, "The access token is missing, invalid or expired.")
        if scope not in token.scopes:
            return problem(request, 403, f"The access token lacks the scope {scope}.")
        customer = request.headers.get("customer-id", "")
        if not customer.isdigit():
            return problem(request, 400, "The Customer-Id header is required (an integer).")
        if customer != store.customer_id:
            return problem(request, 403, f"You do not have access to customer {customer}.")
        return None

    def job_of(request: Request) -> dict[str, Any] | None:
        raw = request.path_params["job_id"]
        return store.jobs.get(int(raw)) if raw.isdigit() else None

    async def issue_token(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return json_response({"error": "invalid_request"}, 400)
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        issued = store.issue_token(form.get("client_id", ""), form.get("client_secret", ""))
        if issued is None:
            body = {"error": "invalid_client", "error_description": "Client authentication failed."}
            return json_response(body, 401)
        value, token = issued
        return json_response(
            {
                "access_token": value,
                "token_type": "Bearer",
                "expires_in": seconds(store.token_lifetime),
                "scope": " ".join(sorted(token.scopes)),
            }
        )

    async def list_jobs(request: Request) -> Response:
        if (denied := refused(request, "jobs:read")) is not None:
            return denied
        try:
            number = int(request.query_params.get("pageNumber", "1"))
            size = int(request.query_params.get("pageSize", "100"))
        except ValueError:
            return problem(request, 400, "pageNumber and pageSize must be integers.")
        if number < 1 or not 1 <= size <= 1000:
            return problem(request, 400, "pageNumber starts at 1; pageSize is 1 to 1000.")
        jobs = list(store.jobs.values())
        start = (number - 1) * size
        return json_response(
            {
                "items": jobs[start : start + size],
                "pageNumber": number,
                "pageSize": size,
                "totalCount": len(jobs),
            }
        )

    async def one_job(request: Request) -> Response:
        scope = "jobs:read" if request.method == "GET" else "jobs:write"
        if (denied := refused(request, scope)) is not None:
            return denied
        job = job_of(request)
        if job is None:
            return problem(request, 404, "The job does not exist.")
        if request.method == "GET":
            return json_response(job)
        body = await json_body(request)
        return answer(request, lambda: store.update(job, body))

    async def start_job(request: Request) -> Response:
        if (denied := refused(request, "jobs:write")) is not None:
            return denied
        job = job_of(request)
        if job is None:
            return problem(request, 404, "The job does not exist.")
        return answer(request, lambda: store.start(job))

    async def set_result(request: Request) -> Response:
        if (denied := refused(request, "jobs:write")) is not None:
            return denied
        job = job_of(request)
        if job is None:
            return problem(request, 404, "The job does not exist.")
        body = await json_body(request)
        return answer(request, lambda: store.set_result(job, body))

    async def job_type(request: Request) -> Response:
        if (denied := refused(request, "jobs:read")) is not None:
            return denied
        raw = request.path_params["type_id"]
        found = store.job_types.get(int(raw)) if raw.isdigit() else None
        if found is None:
            return problem(request, 404, "The job type does not exist.")
        return json_response(found)

    app = Starlette(
        routes=[
            Route("/auth/tokens", issue_token, methods=["POST"]),
            Route("/v1/jobs", list_jobs, methods=["GET"]),
            Route("/v1/jobs/{job_id}", one_job, methods=["GET", "PATCH"]),
            Route("/v1/jobs/{job_id}/start", start_job, methods=["PUT"]),
            Route("/v1/jobs/{job_id}/result", set_result, methods=["PUT"]),
            Route("/v1/jobTypes/{type_id}", job_type, methods=["GET"]),
        ]
    )
    app.state.store = store
    return app


# Contract-suite hook: every status a job can be put in, and a way to make one in it.
SCENARIOS: tuple[str, ...] = (*STATUSES, *LATE_STATUSES)


def create_in(store: BigChangeStore, scenario: str) -> str:
    return str(store.add(scenario)["id"])


def simulated(*, seeded: bool = True) -> SimulatedVendor:
    """A BigChange customer whose source obtains tokens with client credentials."""
    store = BigChangeStore()
    if seeded:
        seed(store)
    return SimulatedVendor(
        provider=BIGCHANGE,
        source="field",
        mount="/bigchange",
        app=create_app(store),
        options={
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "customer_id": DEMO_CUSTOMER_ID,
        },
    )
