"""Workflow Manager jobs through the GraphQL app: the job query, manageJobs and closeJob."""

from __future__ import annotations

from typing import Any

import pytest

from jobgate.simulators.faults import Fault
from jobgate.simulators.workflow_manager import SCENARIOS, create_in
from tests.harness import Gateway

MANAGE = r".*/jobs/manage"
PAYLOAD = "job { id status providerStatus allowedActions } error { code message providerStatus }"
MANAGE_JOBS = (
    "mutation($action: ManageAction!, $ids: [ID!]!) { manageJobs(action: $action, ids: $ids) "
    f"{{ results {{ id {PAYLOAD} }} }} }}"
)
DETAILS = """details { __typename ... on WorkflowManagerJobDetails { jobName description jobStatus
  closed running priority percentComplete diagramId diagramVersion latestDiagramVersion
  currentStepInLatestDiagram jobTemplateId createdDate
  currentSteps { stepId stepName assignedType assignedTo canSkip manualHold } } }"""
JOB = (
    "query($id: ID!) { job(id: $id) { id source provider nativeId status providerStatus "
    f"allowedActions {DETAILS} }} }}"
)


def job(native_id: str, status: str, provider_status: str, actions: list[str]) -> dict[str, Any]:
    return {
        "job": {
            "id": f"gis:{native_id}",
            "status": status,
            "providerStatus": provider_status,
            "allowedActions": actions,
        },
        "error": None,
    }


async def test_manage_jobs_over_a_mixed_list(gw: Gateway) -> None:
    ids = [
        "gis:j1Xo9",
        "gis:j3Rw7",  # running
        "ingest:7505e000001NLkPAAW",  # Data Cloud has no manageJobs
        "nocolon",
        "gis:j6Nb1",
        "gis:j1Xo9",  # duplicate
        "gis:jMissing1",
    ]
    body = await gw.gql(MANAGE_JOBS, {"action": "CLOSE", "ids": ids})
    assert "errors" not in body
    results = body["data"]["manageJobs"]["results"]
    assert [r["id"] for r in results] == ids
    closed = job("j1Xo9", "CLOSED", "Closed", ["DELETE", "REOPEN"])
    assert results[0] == {"id": "gis:j1Xo9", **closed}
    assert results[1]["job"] is None
    assert results[1]["error"]["code"] == "INVALID_STATE"
    assert results[1]["error"]["providerStatus"] == "Working"
    assert "running" in results[1]["error"]["message"]
    assert results[2]["error"]["code"] == "UNSUPPORTED_ACTION"
    assert results[3]["error"]["code"] == "INVALID_ID"
    assert results[4] == {
        "id": "gis:j6Nb1",
        **job("j6Nb1", "CLOSED", "Closed", ["DELETE", "REOPEN"]),
    }
    assert results[5] == results[0]
    assert results[6]["error"]["code"] == "NOT_FOUND"
    assert sum(gw.faults["ingest"].delivered.values()) == 0, "no call to another provider"
    assert gw.faults["gis"].calls("POST", MANAGE) == 1
    assert gw.store("gis").jobs["j3Rw7"]["closed"] is False


async def test_manage_delete_answers_null_job_without_error(gw: Gateway) -> None:
    body = await gw.gql(MANAGE_JOBS, {"action": "DELETE", "ids": ["gis:j4Cl2", "gis:j3Rw7"]})
    deleted, running = body["data"]["manageJobs"]["results"]
    assert deleted == {"id": "gis:j4Cl2", "job": None, "error": None}
    assert running["error"]["code"] == "INVALID_STATE"
    assert "j4Cl2" not in gw.store("gis").jobs
    assert (await gw.gql(JOB, {"id": "gis:j4Cl2"})) == {"data": {"job": None}}


async def test_manage_reopen_and_upgrade(gw: Gateway) -> None:
    body = await gw.gql(MANAGE_JOBS, {"action": "REOPEN", "ids": ["gis:j4Cl2", "gis:j1Xo9"]})
    reopened, already_open = body["data"]["manageJobs"]["results"]
    assert reopened["job"]["status"] == "OPEN"
    assert already_open["error"]["code"] == "INVALID_STATE"
    body = await gw.gql(MANAGE_JOBS, {"action": "UPGRADE", "ids": ["gis:j2Pq4", "gis:j5Lg8"]})
    upgraded, outdated = body["data"]["manageJobs"]["results"]
    assert upgraded["job"]["status"] == "OPEN" and upgraded["error"] is None
    assert gw.store("gis").jobs["j2Pq4"]["diagramVersion"] == 3
    assert "missing from the latest diagram" in outdated["error"]["message"]


async def test_close_job_is_a_one_id_manage_close(gw: Gateway) -> None:
    body = await gw.gql(f'mutation {{ closeJob(id: "gis:j2Pq4") {{ {PAYLOAD} }} }}')
    assert body["data"]["closeJob"] == job("j2Pq4", "CLOSED", "Closed", ["DELETE", "REOPEN"])
    assert gw.faults["gis"].calls("POST", MANAGE) == 1
    refused = await gw.gql(f'mutation {{ closeJob(id: "gis:j3Rw7") {{ {PAYLOAD} }} }}')
    assert refused["data"]["closeJob"]["error"]["code"] == "INVALID_STATE"
    assert gw.faults["gis"].calls("POST", MANAGE) == 1


async def test_lost_manage_answer_reports_what_is_seen(gw: Gateway) -> None:
    gw.faults["gis"].add(Fault("POST", MANAGE, "drop-after"))
    body = await gw.gql(f'mutation {{ closeJob(id: "gis:j6Nb1") {{ {PAYLOAD} }} }}')
    assert body["data"]["closeJob"]["job"]["status"] == "CLOSED"
    assert gw.faults["gis"].calls("POST", MANAGE) == 1


async def test_other_mutations_are_unsupported_without_a_call(gw: Gateway) -> None:
    body = await gw.gql(f'mutation {{ abortJob(id: "gis:j1Xo9") {{ {PAYLOAD} }} }}')
    assert body["data"]["abortJob"]["error"]["code"] == "UNSUPPORTED_ACTION"
    assert sum(gw.faults["gis"].delivered.values()) == 0


EXPECTED = {
    "open": ("OPEN", "Ready", ["CLOSE", "DELETE"], 2, True),
    "open-upgradable": ("OPEN", "Ready", ["CLOSE", "DELETE", "UPGRADE"], 1, True),
    "open-outdated-step": ("OPEN", "Ready", ["CLOSE", "DELETE"], 1, False),
    "running": ("IN_PROGRESS", "Working", [], 2, True),
    "closed": ("CLOSED", "Closed", ["DELETE", "REOPEN"], 2, None),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_job_query_for_every_scenario(gw: Gateway, scenario: str) -> None:
    native_id = create_in(gw.store("gis"), scenario)
    body = await gw.gql(JOB, {"id": f"gis:{native_id}"})
    assert "errors" not in body
    found = body["data"]["job"]
    status, provider_status, actions, version, in_latest = EXPECTED[scenario]
    assert {k: found[k] for k in ("id", "source", "provider", "nativeId")} == {
        "id": f"gis:{native_id}",
        "source": "gis",
        "provider": "WORKFLOW_MANAGER",
        "nativeId": native_id,
    }
    assert (found["status"], found["providerStatus"]) == (status, provider_status)
    assert found["allowedActions"] == actions
    details = found["details"]
    assert details["__typename"] == "WorkflowManagerJobDetails"
    assert details["jobName"] == f"Scenario {scenario}"
    assert details["closed"] is (scenario == "closed")
    assert details["diagramVersion"] == version
    assert details["latestDiagramVersion"] == (None if scenario == "closed" else 2)
    assert details["currentStepInLatestDiagram"] is in_latest
    assert details["running"] is (scenario == "running")
    [step] = details["currentSteps"]
    assert (step["canSkip"], step["manualHold"]) == (False, False)
    assert step["stepId"] == ("s9" if scenario == "open-outdated-step" else "s1")
    assert (step["assignedType"], step["assignedTo"]) == ("User", "ana")


async def test_seeded_job_details(gw: Gateway) -> None:
    body = await gw.gql(JOB, {"id": "gis:j2Pq4"})
    details = body["data"]["job"]["details"]
    assert details == {
        "__typename": "WorkflowManagerJobDetails",
        "jobName": "Parcel edit 13",
        "description": "",
        "jobStatus": "Ready",
        "closed": False,
        "running": False,
        "priority": "Medium",
        "percentComplete": 50,
        "diagramId": "d1",
        "diagramVersion": 2,
        "latestDiagramVersion": 3,
        "currentStepInLatestDiagram": True,
        "jobTemplateId": "t-d1",
        "createdDate": "2024-03-02T10:15:00Z",
        "currentSteps": [
            {
                "stepId": "s2",
                "stepName": "QA review",
                "assignedType": "Group",
                "assignedTo": "qa-team",
                "canSkip": False,
                "manualHold": False,
            }
        ],
    }
