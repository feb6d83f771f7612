"""GraphQL errors for failed lookups in queries: ``extensions.code`` carries the contract code."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from jobgate.domain import JobError

# A GraphQL error code of the contract that is not a JobErrorCode: a searchJobs cursor this
# gateway did not issue for this filter.
INVALID_CURSOR = "INVALID_CURSOR"


class JobLookupError(GraphQLError):
    """A query's failed lookup: the field is null and this error says why."""

    def __init__(self, error: JobError) -> None:
        extensions: dict[str, Any] = {"code": error.code.value}
        if error.upstream_status is not None:
            extensions["upstreamStatus"] = error.upstream_status
        if error.upstream_code is not None:
            extensions["upstreamCode"] = error.upstream_code
        super().__init__(error.message, extensions=extensions)
        self.job_error = error


def is_expected(error: GraphQLError) -> bool:
    """Errors safe to show as they are: syntax/validation errors and contract lookup errors."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)
