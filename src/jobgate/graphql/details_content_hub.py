"""The GraphQL type for a Content Hub fetch job's own fields (``Job.details``)."""

from __future__ import annotations

import strawberry

from jobgate.domain.content_hub import ContentHubDetails


@strawberry.type(description="Sitecore Content Hub fetch job fields.")
class ContentHubJobDetails:
    condition: str | None = strawberry.field(description="Pending, Success or Failure.")
    state_description: str | None
    scope: str | None
    file_count: int | None
    files_completed: int | None
    created_on: str | None
    started_on: str | None
    completed_on: str | None
    modified_on: str | None
    created_by: str | None = strawberry.field(description="Link to the user who created it.")

    @classmethod
    def from_domain(cls, details: ContentHubDetails) -> ContentHubJobDetails:
        return cls(
            condition=details.condition,
            state_description=details.state_description,
            scope=details.scope,
            file_count=details.file_count,
            files_completed=details.files_completed,
            created_on=details.created_on,
            started_on=details.started_on,
            completed_on=details.completed_on,
            modified_on=details.modified_on,
            created_by=details.created_by,
        )
