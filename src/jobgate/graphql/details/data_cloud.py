"""The GraphQL type for a Data Cloud ingestion job's own fields (``Job.details``)."""

from __future__ import annotations

import strawberry

from jobgate.domain.data_cloud import DataCloudDetails


@strawberry.type(description="Salesforce Data Cloud ingestion job fields.")
class DataCloudJobDetails:
    object: str
    operation: str
    source_name: str | None
    content_type: str | None
    api_version: str | None
    created_by_id: str | None
    created_date: str | None
    system_modstamp: str | None
    content_url: str | None = strawberry.field(
        description="Where the job's data is uploaded (job-info answer only)."
    )
    retries: int | None = strawberry.field(description="Processing retries so far.")
    total_processing_time: int | None = strawberry.field(
        description="Milliseconds spent processing the job so far."
    )

    @classmethod
    def from_domain(cls, details: DataCloudDetails) -> DataCloudJobDetails:
        return cls(
            object=details.object,
            operation=details.operation,
            source_name=details.source_name,
            content_type=details.content_type,
            api_version=details.api_version,
            created_by_id=details.created_by_id,
            created_date=details.created_date,
            system_modstamp=details.system_modstamp,
            content_url=details.content_url,
            retries=details.retries,
            total_processing_time=details.total_processing_time,
        )


JOB_DETAILS = DataCloudJobDetails
