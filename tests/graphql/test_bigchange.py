"""updateJob, setJobResult and BigChange job details through the GraphQL app."""

from __future__ import annotations

from typing import Any

import pytest

from jobgate.simulators.faults import Fault
from tests.adapters.test_bigchange import JOB, RESULT, TYPES, Recorder
from tests.harness import Gateway

ERROR = "error { code message detail providerStatus upstreamStatus fieldErrors { field messages } }"
PAYLOAD = f"job {{ id status providerStatus allowedActions {{DETAILS}} }} {ERROR}"
DETAILS = """details { ... on BigChangeJobDetails { typeId jobTypeName contactId primaryContactId
  description reference orderNumber plannedDuration result customFields { id value }
  positiveResults negativeResults } }"""
UPDATE = "mutation($id: ID!, $input: UpdateJobInput!) { updateJob(id: $id, input: $input) { P } }"
RESULT_MUTATION = """mutation($id: ID!, $status: JobResultStatus!, $result: String!) {
  setJobResult(id: $id, status: $status, result: $result) { P } }"""


def payload(with_details: bool = False) -> str:
    return PAYLOAD.replace("{DETAILS}", DETAILS if with_details else "")


async def update_job(gw: Gateway, job_id: str, change: dict[str, Any]) -> dict[str, Any]:
    body = await gw.gql(UPDATE.replace(" P ", payload(True)), {"id": job_id, "input": change})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updateJob"]
    return result


async def set_result(gw: Gateway, job_id: str, status: str, text: str) -> dict[str, Any]:
    variables = {"id": job_id, "status": status, "result": text}
    body = await gw.gql(RESULT_MUTATION.replace(" P ", payload(True)), variables)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["setJobResult"]
    return result


async def test_details_carry_the_result_options(gw: Gateway) -> None:
    body = await gw.gql(
        "query($id: ID!) { job(id: $id) { provider status allowedActions " + DETAILS + " } }",
        {"id": "field:1009"},
    )
    assert body["data"]["job"] == {
        "provider": "BIGCHANGE",
        "status": "IN_PROGRESS",
        "allowedActions": ["SET_RESULT", "UPDATE"],
        "details": {
            "typeId": "5",
            "jobTypeName": "Boiler service",
            "contactId": "77",
            "primaryContactId": gw.store("field").contacts[77],
            "description": "Annual boiler service",
            "reference": "JOB-1",
            "orderNumber": None,
            "plannedDuration": 60,
            "result": None,
            "customFields": [{"id": "9", "value": "blue"}],
            "positiveResults": ["Fixed"],
            "negativeResults": ["No access", "Parts needed"],
        },
    }


EXPECTED = {
    "1001": ("new", "PENDING", ["UPDATE"]),
    "1002": ("scheduled", "OPEN", ["UPDATE"]),
    "1003": ("unscheduled", "PENDING", ["UPDATE"]),
    "1004": ("sent", "OPEN", ["UPDATE"]),
    "1005": ("read", "OPEN", ["UPDATE"]),
    "1006": ("accepted", "OPEN", ["UPDATE"]),
    "1007": ("refused", "CANCELLED", ["UPDATE"]),
    "1008": ("onTheWay", "IN_PROGRESS", ["UPDATE"]),
    "1009": ("started", "IN_PROGRESS", ["SET_RESULT", "UPDATE"]),
    "1010": ("suspended", "SUSPENDED", ["UPDATE"]),
    "1011": ("completedOk", "COMPLETED", ["UPDATE"]),
    "1012": ("completedWithIssues", "COMPLETED_WITH_ISSUES", ["UPDATE"]),
    "1013": ("cancelled", "CANCELLED", []),
}


async def test_status_and_allowed_actions_for_every_status(gw: Gateway) -> None:
    ids = [f"field:{n}" for n in EXPECTED] + ["field:1001", "field:424242", "field:abc"]
    body = await gw.gql(
        "query($ids: [ID!]!) { jobs(ids: $ids) { nativeId providerStatus status allowedActions } }",
        {"ids": ids},
    )
    assert "errors" not in body
    *jobs, again, missing, not_a_number = body["data"]["jobs"]
    seen = {j["nativeId"]: (j["providerStatus"], j["status"], j["allowedActions"]) for j in jobs}
    assert seen == EXPECTED
    assert again["nativeId"] == "1001" and missing is None and not_a_number is None
    faults = gw.faults["field"]
    assert faults.calls("GET", JOB) == 14  # distinct numeric ids only
    assert faults.calls("GET", TYPES) == 3  # distinct job types


@pytest.mark.parametrize(
    ("change", "sent"),
    [
        ({"orderNumber": "PO-1"}, {"orderNumber": "PO-1"}),
        ({"reference": None, "customFields": []}, {"reference": None, "customFields": []}),
        ({"customFields": [{"id": "12", "value": None}]},
         {"customFields": [{"id": 12, "value": None}]}),
        (
            {"plannedDuration": 45, "primaryContactId": None, "customFields": None},
            {"plannedDuration": 45, "contactPersonId": None},
        ),
    ],
)  # fmt: skip
async def test_update_job_sends_omitted_null_and_empty_as_given(
    gw: Gateway, change: dict[str, Any], sent: dict[str, Any]
) -> None:
    faults = gw.faults["field"]
    recorder = faults.inner = Recorder(faults.inner)
    outcome = await update_job(gw, "field:1006", change)
    assert outcome["error"] is None
    assert recorder.bodies("PATCH") == [sent]
    details = outcome["job"]["details"]
    if "orderNumber" in change:
        assert details["orderNumber"] == "PO-1"
    if "reference" in change:
        assert details["reference"] is None
        assert details["customFields"] == [{"id": "12", "value": "4471"}]  # [] keeps them
    if change.get("customFields"):
        assert details["customFields"] == []  # value null unsets it
    if "plannedDuration" in change:
        assert details["plannedDuration"] == 45


@pytest.mark.parametrize("native", ["1009", "1010", "1011", "1012"])
@pytest.mark.parametrize(
    ("change", "field"),
    [({"description": "New"}, "description"), ({"primaryContactId": "p-2"}, "primaryContactId")],
)
async def test_locked_fields_refused_without_a_patch(
    gw: Gateway, native: str, change: dict[str, Any], field: str
) -> None:
    outcome = await update_job(gw, f"field:{native}", change)
    assert outcome["job"] is None
    error = outcome["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert [f["field"] for f in error["fieldErrors"]] == [field]
    assert error["providerStatus"] == EXPECTED[native][0]
    assert gw.faults["field"].calls("PATCH") == 0


async def test_upstream_refusal_arrives_with_field_errors_and_detail(gw: Gateway) -> None:
    outcome = await update_job(gw, "field:1001", {"description": None})
    assert outcome["error"] == {
        "code": "VALIDATION_FAILED",
        "message": "One or more fields cannot be updated.",
        "detail": "Unprocessable Entity",
        "providerStatus": None,
        "upstreamStatus": 422,
        "fieldErrors": [{"field": "description", "messages": ["Cannot be null."]}],
    }


async def test_invalid_custom_field_id_and_cancelled_job(gw: Gateway) -> None:
    bad = await update_job(gw, "field:1001", {"customFields": [{"id": "colour", "value": "x"}]})
    assert bad["error"]["code"] == "VALIDATION_FAILED"
    assert bad["error"]["fieldErrors"][0]["field"] == "customFields"
    cancelled = await update_job(gw, "field:1013", {"reference": "R"})
    assert cancelled["error"]["code"] == "INVALID_STATE"
    assert gw.faults["field"].calls("PATCH") == 0


@pytest.mark.parametrize(
    ("status", "text", "state", "neutral"),
    [
        ("COMPLETED_OK", "Fixed", "completedOk", "COMPLETED"),
        ("COMPLETED_WITH_ISSUES", "No access", "completedWithIssues", "COMPLETED_WITH_ISSUES"),
    ],
)
async def test_set_job_result(
    gw: Gateway, status: str, text: str, state: str, neutral: str
) -> None:
    outcome = await set_result(gw, "field:1009", status, text)
    assert outcome["error"] is None
    job = outcome["job"]
    assert (job["providerStatus"], job["status"], job["allowedActions"]) == (
        state,
        neutral,
        ["UPDATE"],
    )
    assert job["details"]["result"] == text
    assert gw.store("field").jobs[1009]["status"] == state


@pytest.mark.parametrize("text", ["fixed", "Fixed ", " Fixed", "FIXED", "Fixed\t"])
async def test_set_job_result_needs_an_exact_match(gw: Gateway, text: str) -> None:
    outcome = await set_result(gw, "field:1009", "COMPLETED_OK", text)
    error = outcome["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["fieldErrors"] == [
        {
            "field": "result",
            "messages": [
                "Must be exactly one of the positive results (case and spaces count): 'Fixed'."
            ],
        }
    ]
    assert gw.faults["field"].calls("PUT", RESULT) == 0


@pytest.mark.parametrize(
    "native", [n for n, (state, _, _) in EXPECTED.items() if state != "started"]
)
async def test_set_job_result_needs_a_started_job(gw: Gateway, native: str) -> None:
    outcome = await set_result(gw, f"field:{native}", "COMPLETED_OK", "Fixed")
    assert outcome["error"]["code"] == "INVALID_STATE"
    assert outcome["error"]["providerStatus"] == EXPECTED[native][0]
    assert gw.faults["field"].calls("PUT") == 0


async def test_lost_answer_is_settled_by_reading_back(gw: Gateway) -> None:
    gw.faults["field"].add(Fault("PUT", RESULT, "drop-after"))
    outcome = await set_result(gw, "field:1014", "COMPLETED_OK", "Pass")
    assert outcome["error"] is None and outcome["job"]["providerStatus"] == "completedOk"
    assert gw.faults["field"].calls("PUT") == 1


async def test_source_lists_bigchange_actions(gw: Gateway) -> None:
    body = await gw.gql("{ sources { name provider supportedActions } }")
    field = next(s for s in body["data"]["sources"] if s["name"] == "field")
    assert field == {
        "name": "field",
        "provider": "BIGCHANGE",
        "supportedActions": ["SET_RESULT", "UPDATE"],
    }
