"""Turn an upstream's error answer into a contract ``JobError`` that keeps the upstream's words.

Each vendor shapes errors its own way; this module reads all of them:

* Salesforce: a JSON array ``[{"errorCode": .., "message": ..}]``
* BigChange: RFC 7807 ``application/problem+json`` with optional ``errors{field: [..]}``
* Content Hub: ``{"Message": ..}``
* ArcGIS: ``{"error": {"message": .., "type"/"code": .., "details": [..]}}``
* anything else: plain text (trimmed), an empty body, or bytes that are not text at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson

from jobgate.domain import ErrorCode, FieldError, JobError

MAX_MESSAGE = 500
# An error body longer than this is not parsed: its start is shown as text.
MAX_PROBLEM_BYTES = 256_000
# How much of an upstream answer the gateway reads at most, unless a source says otherwise.
DEFAULT_MAX_ANSWER_BYTES = 4_000_000


class AnswerTooLarge(httpx.TransportError):
    """The upstream's answer was longer than the source's ``max_answer_bytes``: reading stopped
    there and the connection was closed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer was larger than {limit} bytes")
        self.limit = limit


_STATUS_CODES = {
    400: ErrorCode.VALIDATION_FAILED,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    408: ErrorCode.UPSTREAM_TIMEOUT,
    409: ErrorCode.INVALID_STATE,
    410: ErrorCode.NOT_FOUND,
    422: ErrorCode.VALIDATION_FAILED,
    429: ErrorCode.RATE_LIMITED,
    504: ErrorCode.UPSTREAM_TIMEOUT,
}


def code_for_status(status: int) -> ErrorCode:
    if status in _STATUS_CODES:
        return _STATUS_CODES[status]
    if 400 <= status < 500:
        return ErrorCode.VALIDATION_FAILED
    return ErrorCode.UPSTREAM_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class UpstreamProblem:
    """What an error body said, whatever its shape."""

    message: str | None
    upstream_code: str | None = None
    detail: str | None = None
    field_errors: tuple[FieldError, ...] = ()


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` made printable and cut to ``limit`` characters; a huge text is cut first."""
    longer = len(text) > limit
    text = "".join(ch if ch.isprintable() else " " for ch in text[: limit + 1]).strip()
    return text[: limit - 3] + "..." if longer or len(text) > limit else text


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return clip(value)
    return None


def _from_array(items: list[object]) -> UpstreamProblem:
    messages: list[str] = []
    codes: list[str] = []
    for item in items:
        if isinstance(item, dict):
            if (m := _text(item.get("message"))) is not None:
                messages.append(m)
            if (c := _text(item.get("errorCode"))) is not None:
                codes.append(c)
        elif (m := _text(item)) is not None:
            messages.append(m)
    return UpstreamProblem(
        message="; ".join(messages) or None, upstream_code=codes[0] if codes else None
    )


def _field_errors(errors: object) -> tuple[FieldError, ...]:
    if not isinstance(errors, dict):
        return ()
    found: list[FieldError] = []
    for name, reasons in errors.items():
        if isinstance(reasons, list):
            texts = tuple(t for r in reasons if (t := _text(r)) is not None)
        else:
            texts = tuple(t for t in [_text(reasons)] if t is not None)
        found.append(FieldError(field=clip(str(name), 100), messages=texts))
    return tuple(found)


def _from_object(body: dict[str, object]) -> UpstreamProblem:
    error = body.get("error")
    if isinstance(error, dict):  # ArcGIS WorkflowJsonExceptionDTO
        code = error.get("type", error.get("code"))
        details = error.get("details")
        detail_texts = (
            [t for d in details if (t := _text(d if isinstance(d, str) else _dict_message(d)))]
            if isinstance(details, list)
            else []
        )
        return UpstreamProblem(
            message=_text(error.get("message")),
            upstream_code=None if code is None else clip(str(code), 100),
            detail="; ".join(detail_texts) or None,
        )
    if "Message" in body:  # Content Hub
        return UpstreamProblem(message=_text(body.get("Message")))
    if "title" in body or "detail" in body or "errors" in body:  # RFC 7807
        title, detail = _text(body.get("title")), _text(body.get("detail"))
        return UpstreamProblem(
            message=detail or title,
            upstream_code=_text(body.get("type")),
            detail=title if detail else None,
            field_errors=_field_errors(body.get("errors")),
        )
    return UpstreamProblem(
        message=_text(body.get("message")) or _text(error),
        upstream_code=_text(body.get("errorCode") or body.get("code")),
    )


def _dict_message(value: object) -> str | None:
    if isinstance(value, dict):
        return _text(value.get("message") or value.get("description"))
    return None


def read_problem(response: httpx.Response) -> UpstreamProblem:
    """Read whatever error body the upstream sent; never raises."""
    raw = response.content
    if not raw.strip():
        return UpstreamProblem(message=None)
    if len(raw) > MAX_PROBLEM_BYTES:
        start = raw[:1000].decode("utf-8", "replace")
        return UpstreamProblem(message=clip(start, 300), detail=f"The body was {len(raw)} bytes.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return UpstreamProblem(message=None, detail="the body is not text")
        return UpstreamProblem(message=clip(text, 300))
    if isinstance(body, list):
        return _from_array(body)
    if isinstance(body, dict):
        return _from_object(body)
    return UpstreamProblem(message=_text(body))


def error_from_response(
    source: str, response: httpx.Response, code: ErrorCode | None = None
) -> JobError:
    """The contract error for a non-success answer, keeping the upstream's own words."""
    problem = read_problem(response)
    status = response.status_code
    message = problem.message or (
        f"Source '{source}' answered HTTP {status}"
        + (" with no body." if not response.content.strip() else " with an unreadable body.")
    )
    return JobError(
        code=code or code_for_status(status),
        message=message,
        upstream_status=status,
        upstream_code=problem.upstream_code,
        detail=problem.detail,
        field_errors=problem.field_errors,
    )
