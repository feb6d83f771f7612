"""closeJob and abortJob on Data Cloud through the GraphQL app; the other mutations refuse."""

from __future__ import annotations

import pytest

from jobgate.simulators.faults import Fault
from tests.harness import Gateway

PAYLOAD = "job { id status providerStatus allowedActions } error { code message providerStatus }"
PATCH = r".*/api/v1/ingest/jobs/[^/]+"


@pytest.mark.parametrize(
    ("mutation", "state", "status"),
    [("closeJob", "UploadComplete", "QUEUED"), ("abortJob", "Aborted", "ABORTED")],
)
async def test_close_and_abort(gw: Gateway, mutation: str, state: str, status: str) -> None:
    body = await gw.gql(
        f'mutation {{ {mutation}(id: "ingest:7505e000001NLkPAAW") {{ {PAYLOAD} }} }}'
    )
    assert body["data"][mutation] == {
        "job": {
            "id": "ingest:7505e000001NLkPAAW",
            "status": status,
            "providerStatus": state,
            "allowedActions": [],
        },
        "error": None,
    }
    assert gw.store("ingest").jobs["7505e000001NLkPAAW"]["state"] == state


async def test_refused_state_sends_no_write(gw: Gateway) -> None:
    body = await gw.gql(f'mutation {{ closeJob(id: "ingest:7505e000001NLkVAAW") {{ {PAYLOAD} }} }}')
    payload = body["data"]["closeJob"]
    assert payload["job"] is None
    assert payload["error"]["code"] == "INVALID_STATE"
    assert payload["error"]["providerStatus"] == "Aborted"
    assert "Aborted" in payload["error"]["message"]
    assert gw.faults["ingest"].calls("PATCH") == 0


@pytest.mark.parametrize(
    "mutation",
    [
        'cancelJob(id: "ingest:7505e000001NLkPAAW")',
        'setJobResult(id: "ingest:7505e000001NLkPAAW", status: COMPLETED_OK, result: "Fixed")',
        'updateJob(id: "ingest:7505e000001NLkPAAW", input: {description: "x"})',
    ],
)
async def test_other_mutations_are_unsupported_without_a_call(gw: Gateway, mutation: str) -> None:
    body = await gw.gql(f"mutation {{ m: {mutation} {{ {PAYLOAD} }} }}")
    assert body["data"]["m"]["error"]["code"] == "UNSUPPORTED_ACTION"
    assert gw.faults["ingest"].calls("GET") == gw.faults["ingest"].calls("PATCH") == 0


async def test_manage_jobs_on_data_cloud_is_unsupported(gw: Gateway) -> None:
    body = await gw.gql(
        'mutation { manageJobs(action: CLOSE, ids: ["ingest:7505e000001NLkPAAW", "bad"]) '
        "{ results { id job { id } error { code } } } }"
    )
    assert body["data"]["manageJobs"]["results"] == [
        {"id": "ingest:7505e000001NLkPAAW", "job": None, "error": {"code": "UNSUPPORTED_ACTION"}},
        {"id": "bad", "job": None, "error": {"code": "INVALID_ID"}},
    ]


@pytest.mark.parametrize("bad", ["nocolon", "nowhere:1", "ingest:%2e%2e"])
async def test_invalid_id_goes_in_the_payload(gw: Gateway, bad: str) -> None:
    body = await gw.gql("mutation($id: ID!) { abortJob(id: $id) { " + PAYLOAD + " } }", {"id": bad})
    assert "errors" not in body
    assert body["data"]["abortJob"]["error"]["code"] == "INVALID_ID"


async def test_write_failure_is_reported_with_upstream_words(gw: Gateway) -> None:
    gw.faults["ingest"].add(
        Fault(
            "PATCH",
            PATCH,
            "status",
            status=500,
            body=b'[{"errorCode":"UNKNOWN_EXCEPTION","message":"An unexpected error occurred."}]',
        )
    )
    body = await gw.gql(f'mutation {{ abortJob(id: "ingest:7505e000001NLkQAAW") {{ {PAYLOAD} }} }}')
    error = body["data"]["abortJob"]["error"]
    assert error["code"] == "UPSTREAM_UNAVAILABLE"
    # The upstream's words, then what reading the job back showed: a 5xx may follow a change.
    assert error["message"] == (
        "An unexpected error occurred. Read back, the job does not show the abort: state 'Open'."
    )
    assert gw.faults["ingest"].calls("PATCH") == 0  # the fault answered; nothing reached it
