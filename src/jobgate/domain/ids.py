"""Global job ids: ``<source>:<native id>``."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from jobgate.domain.errors import ErrorCode, JobError

# Native ids end up in upstream URL paths: allow only characters that need no escaping,
# so that no id can walk the path (``ingest:../admin``) or smuggle a query string.
_NATIVE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
MAX_ID_LENGTH = 200


@dataclass(frozen=True, slots=True)
class JobId:
    source: str
    native_id: str

    def __str__(self) -> str:
        return f"{self.source}:{self.native_id}"


def parse_job_id(raw: str, sources: Container[str]) -> JobId | JobError:
    """Split a global id, or say precisely why it is not one."""
    shown = raw if len(raw) <= 80 else raw[:77] + "..."
    if len(raw) > MAX_ID_LENGTH:
        return JobError(ErrorCode.INVALID_ID, f"Job id is longer than {MAX_ID_LENGTH} characters.")
    source, sep, native_id = raw.partition(":")
    if not sep:
        return JobError(
            ErrorCode.INVALID_ID, f"Job id {shown!r} has no source prefix ('<source>:<id>')."
        )
    if source not in sources:
        return JobError(ErrorCode.INVALID_ID, f"Job id {shown!r} names unknown source {source!r}.")
    if not _NATIVE_ID.fullmatch(native_id):
        return JobError(
            ErrorCode.INVALID_ID,
            f"Job id {shown!r} has an invalid native id: use letters, digits, '_', '.' or '-'.",
        )
    return JobId(source, native_id)
