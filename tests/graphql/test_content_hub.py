"""Content Hub jobs through the GraphQL app: the job query and cancelJob."""

from __future__ import annotations

import pytest

from tests.harness import Gateway

PAYLOAD = "job { id status providerStatus allowedActions } error { code message providerStatus }"
PUT = r".*/api/fetchjobs/\d+"
DETAILS = """details { __typename ... on ContentHubJobDetails { condition stateDescription
  stateDescriptionLabels { culture text } scope fileCount filesCompleted startedOn completedOn
  owner } }"""
JOB = (
    "query($id: ID!) { job(id: $id) { id source provider nativeId status providerStatus "
    f"allowedActions {DETAILS} }} }}"
)


@pytest.mark.parametrize(
    ("native_id", "status", "state", "actions", "condition"),
    [
        ("6160", "PENDING", "Created", [], "Pending"),
        ("6161", "PENDING", "Pending", ["CANCEL"], "Pending"),
        ("6162", "IN_PROGRESS", "InProgress", [], "None"),
        ("6163", "COMPLETED", "Completed", [], "Success"),
        ("6164", "FAILED", "Completed", [], "Failure"),
        ("6165", "CANCELLED", "Cancelled", [], "Cancelled"),
        ("6167", "PENDING", "Pending", ["CANCEL"], "Pending"),
        ("6168", "PENDING", "Pending", ["CANCEL"], "Pending"),
    ],
)
async def test_job_query_for_every_status(
    gw: Gateway, native_id: str, status: str, state: str, actions: list[str], condition: str
) -> None:
    body = await gw.gql(JOB, {"id": f"hub:{native_id}"})
    assert "errors" not in body
    job = body["data"]["job"]
    stored = gw.store("hub").jobs[int(native_id)]
    assert {k: job[k] for k in ("id", "source", "provider", "nativeId")} == {
        "id": f"hub:{native_id}",
        "source": "hub",
        "provider": "CONTENT_HUB",
        "nativeId": native_id,
    }
    assert (job["status"], job["providerStatus"], job["allowedActions"]) == (status, state, actions)
    described = stored["state_description"]
    assert job["details"] == {
        "__typename": "ContentHubJobDetails",
        "condition": condition,
        "stateDescription": described if not isinstance(described, dict) else described["en-US"],
        "stateDescriptionLabels": (
            [{"culture": c, "text": t} for c, t in described.items()]
            if isinstance(described, dict)
            else None
        ),
        "scope": stored["scope"],
        "fileCount": int(stored["file_count"]),
        "filesCompleted": stored["files_completed"],
        "startedOn": stored["started_on"],
        "completedOn": stored["completed_on"],
        "owner": "https://tenant.contenthub.test/api/entities/6",
    }


@pytest.mark.parametrize("bad", ["hub:9999", "hub:not-a-number"])
async def test_missing_job_is_null(gw: Gateway, bad: str) -> None:
    assert await gw.gql(JOB, {"id": bad}) == {"data": {"job": None}}


@pytest.mark.parametrize("native_id", ["6161", "6168"])
async def test_cancel_a_pending_job(gw: Gateway, native_id: str) -> None:
    body = await gw.gql(f'mutation {{ cancelJob(id: "hub:{native_id}") {{ {PAYLOAD} }} }}')
    assert body["data"]["cancelJob"] == {
        "job": {
            "id": f"hub:{native_id}",
            "status": "CANCELLED",
            "providerStatus": "Cancelled",
            "allowedActions": [],
        },
        "error": None,
    }
    assert gw.store("hub").jobs[int(native_id)]["state"] == "Cancelled"
    assert gw.faults["hub"].calls("PUT", PUT) == 1


@pytest.mark.parametrize(
    ("native_id", "state"),
    [
        ("6160", "Created"),
        ("6162", "InProgress"),
        ("6163", "Completed"),
        ("6164", "Completed"),
        ("6165", "Cancelled"),
    ],
)
async def test_cancel_refused_without_a_put(gw: Gateway, native_id: str, state: str) -> None:
    body = await gw.gql(f'mutation {{ cancelJob(id: "hub:{native_id}") {{ {PAYLOAD} }} }}')
    payload = body["data"]["cancelJob"]
    assert payload["job"] is None
    assert payload["error"]["code"] == "INVALID_STATE"
    assert payload["error"]["providerStatus"] == state
    assert f"'{state}'" in payload["error"]["message"]
    assert gw.faults["hub"].calls("PUT") == 0


async def test_cancel_answered_204_but_not_applied_is_an_error(gw: Gateway) -> None:
    gw.store("hub").ignore_cancels.add(6168)
    body = await gw.gql(f'mutation {{ cancelJob(id: "hub:6168") {{ {PAYLOAD} }} }}')
    payload = body["data"]["cancelJob"]
    assert payload["job"] is None
    assert payload["error"]["code"] == "OUTCOME_UNKNOWN"
    assert "accepted the cancel (HTTP 204)" in payload["error"]["message"]
    assert "does not show the cancel: state 'Pending'" in payload["error"]["message"]
    assert payload["error"]["providerStatus"] == "Pending"
    assert gw.store("hub").jobs[6168]["state"] == "Pending"
    assert gw.faults["hub"].calls("PUT", PUT) == 1


async def test_cancel_unknown_job_is_not_found(gw: Gateway) -> None:
    body = await gw.gql(f'mutation {{ cancelJob(id: "hub:9999") {{ {PAYLOAD} }} }}')
    assert body["data"]["cancelJob"]["error"]["code"] == "NOT_FOUND"
    assert gw.faults["hub"].calls("PUT") == 0


@pytest.mark.parametrize("mutation", ['closeJob(id: "hub:6168")', 'abortJob(id: "hub:6168")'])
async def test_other_mutations_are_unsupported(gw: Gateway, mutation: str) -> None:
    body = await gw.gql(f"mutation {{ m: {mutation} {{ {PAYLOAD} }} }}")
    assert body["data"]["m"]["error"]["code"] == "UNSUPPORTED_ACTION"
    assert gw.faults["hub"].calls("GET") == gw.faults["hub"].calls("PUT") == 0


async def test_hub_is_listed_as_a_source(gw: Gateway) -> None:
    await gw.app.state.gateway.providers["hub"].probe()  # a source is healthy once reached
    body = await gw.gql("{ sources { name provider healthy supportedActions } }")
    hub = next(s for s in body["data"]["sources"] if s["name"] == "hub")
    assert hub == {
        "name": "hub",
        "provider": "CONTENT_HUB",
        "healthy": True,
        "supportedActions": ["CANCEL"],
    }
