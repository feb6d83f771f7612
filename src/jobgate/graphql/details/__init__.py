"""One GraphQL type per provider for ``Job.details``, each built from its domain details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from jobgate.domain import JobDetails
from jobgate.domain.bigchange import BigChangeDetails
from jobgate.domain.content_hub import ContentHubDetails
from jobgate.domain.data_cloud import DataCloudDetails
from jobgate.domain.workflow_manager import WorkflowManagerDetails
from jobgate.graphql.details.bigchange import BigChangeJobDetails
from jobgate.graphql.details.content_hub import ContentHubJobDetails
from jobgate.graphql.details.workflow_manager import WorkflowManagerJobDetails


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


JobDetailsUnion = Annotated[
    DataCloudJobDetails | ContentHubJobDetails | BigChangeJobDetails | WorkflowManagerJobDetails,
    strawberry.union("JobDetails", description="The provider's own fields for a job."),
]

# Domain details class -> how to build its GraphQL type. A new provider adds one line here.
_BUILDERS: dict[type[JobDetails], Callable[[Any], object]] = {
    DataCloudDetails: DataCloudJobDetails.from_domain,
    ContentHubDetails: ContentHubJobDetails.from_domain,
    BigChangeDetails: BigChangeJobDetails.from_domain,
    WorkflowManagerDetails: WorkflowManagerJobDetails.from_domain,
}


def details_from_domain(details: JobDetails) -> object:
    return _BUILDERS[type(details)](details)
