"""Every shape of upstream error body becomes a contract error that keeps the upstream's words."""

from __future__ import annotations

import httpx
import pytest

from jobgate.domain import ErrorCode, FieldError
from jobgate.upstream.errors import code_for_status, error_from_response


def answer(
    status: int, content: bytes = b"", content_type: str = "application/json"
) -> httpx.Response:
    return httpx.Response(status, content=content, headers={"content-type": content_type})


def test_salesforce_error_array() -> None:
    error = error_from_response(
        "ingest",
        answer(400, b'[{"errorCode":"InvalidJobState","message":"The job state is invalid."}]'),
    )
    assert error.code is ErrorCode.VALIDATION_FAILED
    assert error.message == "The job state is invalid."
    assert error.upstream_code == "InvalidJobState"
    assert error.upstream_status == 400


def test_several_array_entries_are_joined() -> None:
    body = b'[{"errorCode":"A","message":"one"},{"errorCode":"B","message":"two"}]'
    error = error_from_response("ingest", answer(400, body))
    assert error.message == "one; two"
    assert error.upstream_code == "A"


def test_problem_json_with_field_errors() -> None:
    body = (
        b'{"type":"https://example.com/probs/validation","title":"Validation failed",'
        b'"status":422,"detail":"The job could not be updated","instance":"/v1/jobs/123",'
        b'"errors":{"description":["Cannot be updated once the job has started"]}}'
    )
    error = error_from_response("field", answer(422, body, "application/problem+json"))
    assert error.code is ErrorCode.VALIDATION_FAILED
    assert error.message == "The job could not be updated"
    assert error.detail == "Validation failed"
    assert error.field_errors == (
        FieldError("description", ("Cannot be updated once the job has started",)),
    )


def test_content_hub_message() -> None:
    error = error_from_response(
        "hub", answer(403, b'{"Message":"Only the \'Job.State\' property can be changed."}')
    )
    assert error.code is ErrorCode.FORBIDDEN
    assert error.message == "Only the 'Job.State' property can be changed."


def test_arcgis_error_object() -> None:
    body = (
        b'{"error":{"message":"User does not have the privilege jobClose.",'
        b'"type":"PrivilegeError","details":[{"message":"jobClose"}]}}'
    )
    error = error_from_response("gis", answer(400, body))
    assert error.message == "User does not have the privilege jobClose."
    assert error.upstream_code == "PrivilegeError"
    assert error.detail == "jobClose"


def test_plain_text_is_kept_and_trimmed() -> None:
    error = error_from_response("x", answer(502, b"Bad Gateway\n" + b"x" * 1000, "text/plain"))
    assert error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert error.message.startswith("Bad Gateway")
    assert len(error.message) <= 300


def test_empty_body_says_so() -> None:
    error = error_from_response("ingest", answer(503))
    assert error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert error.message == "Source 'ingest' answered HTTP 503 with no body."


def test_binary_garbage_never_raises() -> None:
    error = error_from_response("ingest", answer(500, b"\xff\xfe\x00\x81garbage"))
    assert error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert "unreadable body" in error.message


def test_control_characters_are_removed() -> None:
    error = error_from_response("x", answer(400, b'{"message":"bad\\u0000\\u001b[31m thing"}'))
    assert "\x00" not in error.message and "\x1b" not in error.message


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, ErrorCode.VALIDATION_FAILED),
        (401, ErrorCode.UNAUTHENTICATED),
        (403, ErrorCode.FORBIDDEN),
        (404, ErrorCode.NOT_FOUND),
        (409, ErrorCode.INVALID_STATE),
        (422, ErrorCode.VALIDATION_FAILED),
        (429, ErrorCode.RATE_LIMITED),
        (500, ErrorCode.UPSTREAM_UNAVAILABLE),
        (502, ErrorCode.UPSTREAM_UNAVAILABLE),
        (503, ErrorCode.UPSTREAM_UNAVAILABLE),
        (504, ErrorCode.UPSTREAM_TIMEOUT),
    ],
)
def test_status_codes(status: int, code: ErrorCode) -> None:
    assert code_for_status(status) is code
