"""The Content Hub simulator's own behaviour: list, create, the PUT echo rule, errors, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobgate.simulators.content_hub import (
    DEMO_TOKEN,
    SCENARIOS,
    ContentHubStore,
    create_app,
    create_in,
    job_id_of,
    seed,
)

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


@pytest.fixture
async def hub() -> AsyncIterator[tuple[httpx.AsyncClient, ContentHubStore]]:
    store = ContentHubStore()
    seed(store)
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client, store


def echo(job: dict[str, Any], **changes: Any) -> dict[str, Any]:
    keys = ("condition", "file_count", "scope", "state_description")
    body = {k: job[k] for k in keys if k in job}
    return {**body, "state": "Cancelled", **changes}


async def test_seed_covers_every_state_with_the_documented_job(hub: Any) -> None:
    client, store = hub
    response = await client.get("/api/fetchjobs/6168", headers=AUTH)
    tenant = "https://tenant.contenthub.test"
    # The documented resource, exactly: no "id" key, state_description a Labels object.
    assert response.json() == {
        "state_description": {"en-US": "Waiting"}, "state": "Pending", "condition": "Pending",
        "started_on": None, "completed_on": None, "file_count": 1, "files_completed": 0,
        "scope": "data_import", "owner": {"href": f"{tenant}/api/entities/6"},
        "self": {"href": f"{tenant}/api/fetchjobs/6168", "title": "This fetch job."},
        "files": {"href": f"{tenant}/api/fetchjobs/6168/files"},
    }  # fmt: skip
    seen = {f"{j['state']}:{j['condition']}" for j in store.jobs.values()}
    assert {"Completed:Success", "Completed:Failure"} <= seen
    assert {s.partition(":")[0] for s in SCENARIOS} == {j["state"] for j in store.jobs.values()}


async def test_list_filters_and_pages(hub: Any) -> None:
    client, _ = hub
    body = (await client.get("/api/fetchjobs?state=Pending&skip=3&take=5", headers=AUTH)).json()
    assert body["total_items"] == 4 and body["returned_items"] == 1
    assert [job_id_of(j) for j in body["items"]] == [6168]
    everything = (await client.get("/api/fetchjobs", headers=AUTH)).json()
    assert everything["total_items"] == everything["returned_items"] == 9
    bad = await client.get("/api/fetchjobs?take=x", headers=AUTH)
    assert bad.status_code == 400 and "Message" in bad.json()


async def test_create_answers_201_with_location_and_no_body(hub: Any) -> None:
    client, store = hub
    response = await client.post("/api/fetchjobs", json={"urls": ["a", "b"]}, headers=AUTH)
    assert response.status_code == 201 and response.content == b""
    new_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert store.jobs[new_id]["state"] == "Pending" and store.jobs[new_id]["file_count"] == 2


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, 204),
        ({"file_count": "1"}, 204),  # the doc's example sends a string
        ({"file_count": 2}, 403),
        ({"condition": "Success"}, 403),
        ({"scope": "asset_import"}, 403),
        ({"state_description": "Done"}, 403),
        ({"state_description": {"en-US": "Done"}}, 403),
        ({"state_description": "Waiting"}, 403),  # the text, but not the Labels object stored
        ({"state": "Completed"}, 403),
        ({"files_completed": 0}, 403),  # only the five fields may be sent
    ],
)
async def test_put_echo_rule(hub: Any, changes: dict[str, Any], status: int) -> None:
    client, store = hub
    response = await client.put(
        "/api/fetchjobs/6168", json=echo(store.jobs[6168], **changes), headers=AUTH
    )
    assert response.status_code == status
    if status == 204:
        assert response.content == b"" and store.jobs[6168]["state"] == "Cancelled"
    else:
        assert response.json() == {"Message": "Only the 'Job.State' property can be changed."}
        assert store.jobs[6168]["state"] == "Pending"


async def test_scope_is_echoed_only_when_the_job_has_one(hub: Any) -> None:
    client, store = hub
    assert "scope" not in store.jobs[6166]
    with_scope = echo(store.jobs[6166], scope="data_import")
    refused = await client.put("/api/fetchjobs/6166", json=with_scope, headers=AUTH)
    assert refused.status_code == 403
    accepted = await client.put("/api/fetchjobs/6166", json=echo(store.jobs[6166]), headers=AUTH)
    assert accepted.status_code == 204 and store.jobs[6166]["state"] == "Cancelled"
    assert store.jobs[6166]["condition"] == "Pending", "only the state changes"


async def test_state_description_may_be_omitted_only_when_null(hub: Any) -> None:
    client, store = hub
    without = echo(store.jobs[6168])
    del without["state_description"]
    assert (await client.put("/api/fetchjobs/6168", json=without, headers=AUTH)).status_code == 403
    null_one = echo(store.jobs[6161])  # seeded with a null description
    del null_one["state_description"]
    assert (await client.put("/api/fetchjobs/6161", json=null_one, headers=AUTH)).status_code == 204


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "Pending"])
async def test_put_refused_unless_pending(hub: Any, scenario: str) -> None:
    client, store = hub
    job_id = int(create_in(store, scenario))
    response = await client.put(
        f"/api/fetchjobs/{job_id}", json=echo(store.jobs[job_id]), headers=AUTH
    )
    assert response.status_code == 403


async def test_ignored_cancel_answers_204_and_changes_nothing(hub: Any) -> None:
    client, store = hub
    store.ignore_cancels.add(6168)
    response = await client.put("/api/fetchjobs/6168", json=echo(store.jobs[6168]), headers=AUTH)
    assert response.status_code == 204
    assert store.jobs[6168]["state"] == "Pending"


async def test_unknown_id_delete_and_auth(hub: Any) -> None:
    client, _ = hub
    for path in ("/api/fetchjobs/9999", "/api/fetchjobs/abc"):
        missing = await client.get(path, headers=AUTH)
        assert missing.status_code == 404 and missing.json() == {"Message": "Entity not found."}
    assert (await client.delete("/api/fetchjobs/6168", headers=AUTH)).status_code == 405
    legacy = await client.get("/api/fetchjobs/6168", headers={"X-Auth-Token": DEMO_TOKEN})
    assert legacy.status_code == 200
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Auth-Token": "nope"}):
        denied = await client.get("/api/fetchjobs/6168", headers=headers)
        assert denied.status_code == 401 and "Message" in denied.json()
