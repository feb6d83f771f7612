"""Register the domain enums with Strawberry under their contract names, and make ``Provider``.

The domain classes stay free of Strawberry; this module marks them as GraphQL enums, so the
GraphQL types can use ``JobStatus`` and friends directly. Import it before building types.
The domain's providers are values, not an enum: ``ProviderEnum`` has one member per registered
vendor (``graphql.details.SCHEMA_PROVIDERS``), named by ``Provider.name``.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from jobgate.domain import ErrorCode, JobAction, JobResultStatus, JobStatus, ManageAction, Provider
from jobgate.graphql.details import SCHEMA_PROVIDERS

strawberry.enum(JobStatus, name="JobStatus")
strawberry.enum(JobAction, name="JobAction")
strawberry.enum(ErrorCode, name="JobErrorCode")
strawberry.enum(ManageAction, name="ManageAction")
strawberry.enum(JobResultStatus, name="JobResultStatus")

if TYPE_CHECKING:

    class ProviderEnum(Enum):
        """For the type checker; at run time, one member per registered vendor."""

else:
    ProviderEnum = strawberry.enum(
        Enum("Provider", [(p.name, p.name) for p in SCHEMA_PROVIDERS]), name="Provider"
    )

_MEMBERS: dict[Provider, ProviderEnum] = {p: ProviderEnum[p.name] for p in SCHEMA_PROVIDERS}


def provider_enum(provider: Provider) -> ProviderEnum:
    """The GraphQL enum value of a provider the schema was built with."""
    return _MEMBERS[provider]
