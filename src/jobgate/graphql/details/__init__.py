"""``Job.details``: one GraphQL type per registered vendor (its ``graphql`` module's
``JOB_DETAILS``), joined in the ``JobDetails`` union.

The union is made when this package is first imported, from the vendors registered by then
(``jobgate.vendors``); ``build_schema`` refuses to run if the registry changed since.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeAlias, Union, cast

import strawberry

from jobgate.domain import Job, Provider
from jobgate.vendors import VENDORS


class DetailsModule(Protocol):
    """What a vendor's GraphQL module offers: a Strawberry type with ``from_domain``."""

    JOB_DETAILS: Any


def _types() -> dict[Provider, Any]:
    return {
        vendor.provider: cast(DetailsModule, vendor.load("graphql")).JOB_DETAILS
        for vendor in VENDORS
    }


_TYPES = _types()
# The providers the schema's enum and union were made for, in registry order.
SCHEMA_PROVIDERS: tuple[Provider, ...] = tuple(_TYPES)
_BUILDERS: dict[Provider, Callable[[Any], object]] = {
    provider: kind.from_domain for provider, kind in _TYPES.items()
}

if TYPE_CHECKING:
    JobDetailsUnion: TypeAlias = object
else:
    JobDetailsUnion = Annotated[
        Union[tuple(_TYPES.values())],  # noqa: UP007  (built from a list of types)
        strawberry.union("JobDetails", description="The provider's own fields for a job."),
    ]


def details_from_domain(job: Job) -> object:
    return _BUILDERS[job.provider](job.details)
