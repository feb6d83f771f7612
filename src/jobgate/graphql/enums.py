"""Register the domain enums with Strawberry under their contract names.

The domain classes stay free of Strawberry; this module marks them as GraphQL enums, so the
GraphQL types can use ``JobStatus`` and friends directly. Import it before building types.
"""

from __future__ import annotations

import strawberry

from jobgate.domain import ErrorCode, JobAction, JobResultStatus, JobStatus, ManageAction, Provider

strawberry.enum(Provider, name="Provider")
strawberry.enum(JobStatus, name="JobStatus")
strawberry.enum(JobAction, name="JobAction")
strawberry.enum(ErrorCode, name="JobErrorCode")
strawberry.enum(ManageAction, name="ManageAction")
strawberry.enum(JobResultStatus, name="JobResultStatus")
