"""The Workflow Manager simulator on its own: endpoints, refusals, search, privileges, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jobgate.simulators.workflow_manager import (
    ALL_PRIVILEGES,
    DEMO_TOKEN,
    SCENARIOS,
    WorkflowManagerStore,
    create_app,
    create_in,
    seed,
)

BASE = "/demoOrg/demoItem"


@pytest.fixture
def store() -> WorkflowManagerStore:
    seeded = WorkflowManagerStore()
    seed(seeded)
    return seeded


@pytest.fixture
async def client(store: WorkflowManagerStore) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(store)),
        base_url="http://wm.test" + BASE,
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
    ) as c:
        yield c


async def test_job_json_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    """Esri's Job and CurrentStep models: no step status anywhere."""
    response = await client.get("/jobs/j1Xo9")
    assert response.status_code == 200
    assert response.json() == {
        "jobId": "j1Xo9",
        "jobName": "Parcel edit 12",
        "description": "",
        "jobStatus": "Ready",
        "closed": False,
        "archived": False,
        "priority": "High",
        "percentComplete": 0,
        "diagramId": "d1",
        "diagramVersion": 3,
        "diagramName": "Parcel editing",
        "jobTemplateId": "t-d1",
        "jobTemplateName": "Parcel editing template",
        "createdDate": "2024-03-01T10:00:00Z",
        "dueDate": None,
        "endDate": None,
        "ownedBy": "ana",
        "currentSteps": [
            {
                "stepId": "s1",
                "stepName": "Edit",
                "assignedType": "User",
                "assignedTo": "ana",
                "canSkip": False,
                "manualHold": False,
                "holdScheduledRelease": None,
                "dependencies": False,
            }
        ],
        "holds": [],
    }


async def test_unknown_job_is_a_404_error_object(client: httpx.AsyncClient) -> None:
    response = await client.get("/jobs/jNoSuch")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "InvalidJobId" and "does not exist" in error["message"]


@pytest.mark.parametrize(("authorization", "code"), [("", 499), ("Bearer nope", 498)])
async def test_tokens(client: httpx.AsyncClient, authorization: str, code: int) -> None:
    response = await client.get("/jobs/j1Xo9", headers={"Authorization": authorization})
    assert response.status_code == 401 and response.json()["error"]["code"] == code
    query_token = await client.get(
        "/jobs/j1Xo9", headers={"Authorization": ""}, params={"token": DEMO_TOKEN}
    )
    assert query_token.status_code == 200


async def test_search_filters_projects_and_pages(client: httpx.AsyncClient) -> None:
    body = {"q": "closed=0", "fields": ["jobId", "jobName"], "start": 0, "num": 3}
    first = (await client.post("/jobs/search", json=body)).json()
    assert first["fields"] == ["jobId", "jobName"]
    assert first["results"] == [
        ["j1Xo9", "Parcel edit 12"],
        ["j2Pq4", "Parcel edit 13"],
        ["j3Rw7", "Road centreline update"],
    ]
    assert (first["start"], first["nextStart"], first["num"]) == (0, 3, 3)
    rest = (await client.post("/jobs/search", json={**body, "start": 3})).json()
    assert [r[0] for r in rest["results"]] == ["j5Lg8", "j6Nb1"] and rest["nextStart"] == -1
    closed = (await client.post("/jobs/search", json={"q": "closed=1", "fields": ["jobId"]})).json()
    assert closed["results"] == [["j4Cl2"]]
    listed = await client.post(
        "/jobs/search",
        json={"q": "jobId IN ('j1Xo9','j4Cl2','jNone') AND closed=0", "fields": ["jobId"]},
    )
    assert listed.json()["results"] == [["j1Xo9"]]


@pytest.mark.parametrize(
    "body",
    [{"q": "priority>1"}, {"q": "closed=0", "fields": ["secret"]}, {"q": "", "num": 0}, []],
)
async def test_search_refuses_what_it_cannot_answer(
    client: httpx.AsyncClient, body: object
) -> None:
    response = await client.post("/jobs/search", json=body)
    assert response.status_code == 400 and response.json()["error"]["type"]


async def test_manage_partial_failure_changes_the_rest(
    client: httpx.AsyncClient, store: WorkflowManagerStore
) -> None:
    response = await client.post(
        "/jobs/manage", json={"type": "Close", "jobIds": ["j1Xo9", "j3Rw7", "jNoSuch"]}
    )
    assert response.json() == {"success": False}
    assert store.jobs["j1Xo9"]["closed"] is True and store.jobs["j1Xo9"]["jobStatus"] == "Closed"
    assert store.jobs["j3Rw7"]["closed"] is False
    ok = await client.post("/jobs/manage", json={"type": "Reopen", "jobIds": ["j1Xo9", "j4Cl2"]})
    assert ok.json() == {"success": True}
    assert store.jobs["j1Xo9"]["jobStatus"] == "Ready"


@pytest.mark.parametrize(
    ("manage_type", "job_id", "changed"),
    [
        ("Upgrade", "j2Pq4", True),
        ("Upgrade", "j5Lg8", False),  # current step s9 is not in the latest diagram
        ("Upgrade", "j4Cl2", False),
        ("Upgrade", "j3Rw7", False),
        ("Reopen", "j1Xo9", False),
        ("Delete", "j3Rw7", False),
        ("Delete", "j4Cl2", True),
    ],
)
async def test_manage_rules(
    client: httpx.AsyncClient,
    store: WorkflowManagerStore,
    manage_type: str,
    job_id: str,
    changed: bool,
) -> None:
    response = await client.post("/jobs/manage", json={"type": manage_type, "jobIds": [job_id]})
    assert response.json() == {"success": changed}


@pytest.mark.parametrize(
    "body", [None, {"type": "Archive", "jobIds": ["j1Xo9"]}, {"type": "Close", "jobIds": []}]
)
async def test_manage_bad_body_is_a_workflow_json_exception(
    client: httpx.AsyncClient, body: object
) -> None:
    response = await client.post("/jobs/manage", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "WorkflowJsonException"


async def test_missing_privilege_refuses_the_whole_request(
    client: httpx.AsyncClient, store: WorkflowManagerStore
) -> None:
    store.tokens["limited"] = ALL_PRIVILEGES - {"jobDelete"}
    response = await client.post(
        "/jobs/manage",
        json={"type": "Delete", "jobIds": ["j1Xo9"]},
        headers={"Authorization": "Bearer limited"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "User does not have the privilege jobDelete to perform this operation."
    )
    assert "j1Xo9" in store.jobs


async def test_run_and_stop(client: httpx.AsyncClient, store: WorkflowManagerStore) -> None:
    assert (await client.post("/jobs/j1Xo9/action", json={"type": "Run"})).status_code == 200
    assert store.jobs["j1Xo9"]["jobStatus"] == "Working" and "j1Xo9" in store.running
    await client.post("/jobs/j1Xo9/action", json={"type": "Stop"})
    assert store.jobs["j1Xo9"]["jobStatus"] == "Ready" and "j1Xo9" not in store.running
    closed = await client.post("/jobs/j4Cl2/action", json={"type": "Run"})
    assert closed.status_code == 400 and closed.json()["error"]["type"] == "InvalidJobState"


async def test_diagram_versions(client: httpx.AsyncClient, store: WorkflowManagerStore) -> None:
    assert (await client.get("/diagrams/d1")).json()["diagramVersion"] == 3
    assert store.publish_diagram_version("d1", {"s1": "Edit"}) == 4
    latest = (await client.get("/diagrams/d1")).json()
    assert latest == {
        "diagramId": "d1",
        "diagramVersion": 4,
        "diagramName": "Parcel editing",
        "initialStepId": "s1",
        "initialStepName": "Edit",
        "steps": [{"id": "s1", "name": "Edit"}],  # keyed id/name, as Esri's Diagram model
        "annotations": [],
        "displayGrid": True,
    }
    assert (await client.get("/diagrams/d1/-1")).json() == latest
    assert (await client.get("/diagrams/d1/1")).json()["diagramVersion"] == 1
    for missing in ("/diagrams/nope", "/diagrams/d1/9", "/diagrams/d1/x"):
        response = await client.get(missing)
        assert response.status_code == 404 and "message" in response.json()["error"]


def test_every_scenario_can_be_created_in_an_empty_store() -> None:
    empty = WorkflowManagerStore()
    ids = [create_in(empty, s) for s in SCENARIOS]
    assert len(set(ids)) == len(SCENARIOS)
    with pytest.raises(ValueError):
        create_in(empty, "archived")
