"""Toy Jobs' simulator: a small honest Starlette app with its own token endpoint and rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobgate.simulators.common import bearer_token, json_response
from jobgate.simulators.oauth import TokenBook, form_of, same_secret, seconds
from jobgate.simulators.vendor import SimulatedVendor
from tests.toy.rules import TOY

CLIENT_ID = "toy-client"
CLIENT_SECRET = "toy-secret-Rw81"
SCENARIOS = ("queued", "running", "done", "stopped")
STOPPABLE = frozenset({"queued", "running"})


@dataclass
class ToyStore:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: TokenBook = field(default_factory=TokenBook)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def create_in(store: ToyStore, scenario: str) -> str:
    native_id = str(next(store.ids))
    store.jobs[native_id] = {"id": native_id, "state": scenario, "title": f"A {scenario} job"}
    return native_id


def create_app(store: ToyStore) -> Starlette:
    def refused(request: Request) -> Response | None:
        if store.tokens.valid(bearer_token(request)):
            return None
        return json_response({"message": "invalid or expired token"}, 401)

    async def token(request: Request) -> Response:
        form = await form_of(request) or {}
        if form.get("grant_type") != "client_credentials" or not (
            form.get("client_id") == CLIENT_ID
            and same_secret(CLIENT_SECRET, form.get("client_secret"))
        ):
            return json_response({"error": "invalid_client"}, 401)
        lifetime = seconds(store.tokens.lifetime)
        issued = store.tokens.issue("toy-")
        return json_response({"access_token": issued, "expires_in": lifetime})

    async def read(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        job = store.jobs.get(request.path_params["id"])
        return json_response(job) if job else json_response({"message": "no such job"}, 404)

    async def listing(request: Request) -> Response:
        """``GET /jobs?offset&limit`` → ``{"jobs": [...], "more": bool}``, oldest first."""
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", "10"))
        except ValueError:
            return json_response({"message": "offset and limit are numbers"}, 400)
        if offset < 0 or not 1 <= limit <= 50:
            return json_response({"message": "offset >= 0, limit 1 to 50"}, 400)
        jobs = list(store.jobs.values())
        page = jobs[offset : offset + limit]
        return json_response({"jobs": page, "more": offset + limit < len(jobs)})

    async def stop(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        job = store.jobs.get(request.path_params["id"])
        if job is None:
            return json_response({"message": "no such job"}, 404)
        if job["state"] not in STOPPABLE:
            return json_response({"message": f"a {job['state']} job cannot be stopped"}, 409)
        job["state"] = "stopped"
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/jobs", listing, methods=["GET"]),
            Route("/jobs/{id}", read, methods=["GET"]),
            Route("/jobs/{id}/stop", stop, methods=["POST"]),
        ]
    )
    app.state.store = store
    return app


def simulated(*, seeded: bool = True) -> SimulatedVendor:
    store = ToyStore()
    if seeded:
        for scenario in SCENARIOS:
            create_in(store, scenario)
    return SimulatedVendor(
        provider=TOY,
        source="toys",
        mount="/toy",
        app=create_app(store),
        options={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
