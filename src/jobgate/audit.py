"""The audit trail: one record per mutation and per job id — who changed what, how, and with
what outcome — on the ``jobgate.audit`` logger (JSON lines; credentials removed like every line).

A record says when (the log line's time), who (the caller's principal), what (the mutation, the
job id, the input it carried — free text included), which upstream calls were made for that job
(method, path and status of each attempt: the read before, the write, the read back) and the
truthful outcome: ``success``, ``deleted``, ``already applied``, or the contract error code
(``OUTCOME_UNKNOWN`` when the gateway could not tell). This is what a support desk reads after
"who cancelled this job?".
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Sequence
from typing import Any

from jobgate.config.settings import AuditSettings
from jobgate.domain import ActionRequest, AlreadyApplied, Deleted, Job, JobError
from jobgate.domain.actions import ActionOutcome
from jobgate.domain.principal import Principal
from jobgate.upstream.attempts import Attempt

log = logging.getLogger("jobgate.audit")
WORKERS_ENV = "JOBGATE_WORKERS"  # set by `jobgate serve --workers N` for its workers


def open_file(settings: AuditSettings) -> logging.Handler | None:
    """``[audit] file``: the trail also goes there, as JSON lines, rotated at ``max_bytes``
    keeping ``backups`` old files. Each of several workers writes its own file (``.<pid>``):
    one rotating file cannot be shared safely between processes."""
    if settings.file is None:
        return None
    from jobgate.logs import JsonFormatter

    path = settings.file
    if os.environ.get(WORKERS_ENV):
        path = f"{path}.{os.getpid()}"
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8"
    )
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)  # the trail is kept whatever the log level of the rest
    return handler


def close_file(handler: logging.Handler | None) -> None:
    if handler is not None:
        log.removeHandler(handler)
        handler.close()


def inputs(request: ActionRequest) -> dict[str, Any]:
    """What the caller asked for, as the record shows it."""
    shown: dict[str, Any] = {"action": request.action.value}
    if request.result_status is not None:
        shown["result_status"] = request.result_status.value
    if request.result is not None:
        shown["result"] = request.result
    if request.update is not None:
        shown["update"] = dict(request.update.changes)
        if request.update.custom_fields is not None:
            shown["custom_fields"] = {f.id: f.value for f in request.update.custom_fields}
    return shown


def outcome_of(outcome: ActionOutcome) -> tuple[str, str | None]:
    """(outcome, message) for the record."""
    if isinstance(outcome, AlreadyApplied):
        return "already applied", None
    if isinstance(outcome, Deleted):
        return "deleted", None
    if isinstance(outcome, Job):
        return "success", None
    assert isinstance(outcome, JobError)
    return outcome.code.value, outcome.message


def record(
    principal: Principal,
    mutation: str,
    request: ActionRequest,
    raw_ids: Sequence[str],
    outcomes: Sequence[ActionOutcome],
    made: Sequence[Attempt],
) -> None:
    asked = inputs(request)
    for raw_id, outcome in zip(raw_ids, outcomes, strict=True):
        source, _, native_id = raw_id.partition(":")
        result, message = outcome_of(outcome)
        calls = [
            f"{method} {path} {status}"
            for called, method, path, status in made
            if called == source and (native_id in path or request.batch)
        ]
        extra: dict[str, Any] = {
            "principal": principal.identity or principal.name,
            "mutation": mutation,
            "job_id": raw_id,
            "input": asked,
            "upstream_calls": calls,
            "outcome": result,
        }
        if message is not None:
            extra["error"] = message
        if isinstance(outcome, Job):
            extra["provider_status"] = outcome.provider_status
        log.info("job change", extra=extra)
