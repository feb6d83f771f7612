"""GraphQL type for a BigChange job's own fields, with its job type's result options."""

from __future__ import annotations

import strawberry

from jobgate.domain.bigchange import BigChangeDetails


@strawberry.type(description="A BigChange custom field value.")
class BigChangeCustomField:
    id: strawberry.ID
    value: str | None


@strawberry.type(description="BigChange job fields, with the results `setJobResult` accepts.")
class BigChangeJobDetails:
    type_id: strawberry.ID | None
    job_type_name: str | None = strawberry.field(
        description="Null when the job type could not be read."
    )
    contact_id: strawberry.ID | None
    primary_contact_id: strawberry.ID | None = strawberry.field(
        description="The contact person (upstream `contactPersonId`)."
    )
    description: str | None
    reference: str | None
    order_number: str | None
    planned_duration: int | None = strawberry.field(description="Minutes.")
    result: str | None
    custom_fields: list[BigChangeCustomField]
    positive_results: list[str] | None = strawberry.field(
        description="Results accepted with COMPLETED_OK, matched exactly (case and spaces); "
        "null when the job type could not be read."
    )
    negative_results: list[str] | None = strawberry.field(
        description="Results accepted with COMPLETED_WITH_ISSUES, matched exactly; "
        "null when the job type could not be read."
    )

    @classmethod
    def from_domain(cls, details: BigChangeDetails) -> BigChangeJobDetails:
        job_type = details.job_type
        return cls(
            type_id=_id(details.type_id),
            job_type_name=None if job_type is None else job_type.name,
            contact_id=_id(details.contact_id),
            primary_contact_id=_id(details.primary_contact_id),
            description=details.description,
            reference=details.reference,
            order_number=details.order_number,
            planned_duration=details.planned_duration,
            result=details.result,
            custom_fields=[
                BigChangeCustomField(id=strawberry.ID(f.id), value=f.value)
                for f in details.custom_fields
            ],
            positive_results=None if job_type is None else list(job_type.positive_results),
            negative_results=None if job_type is None else list(job_type.negative_results),
        )


def _id(value: str | int | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


JOB_DETAILS = BigChangeJobDetails
