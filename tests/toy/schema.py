"""Toy Jobs' own fields in GraphQL (``Job.details``)."""

from __future__ import annotations

import strawberry

from tests.toy.rules import ToyDetails


@strawberry.type(description="Toy Jobs' job fields.")
class ToyJobDetails:
    title: str | None

    @classmethod
    def from_domain(cls, details: ToyDetails) -> ToyJobDetails:
        return cls(title=details.title)


JOB_DETAILS = ToyJobDetails
