"""The GraphQL type for a Content Hub fetch job's own fields (``Job.details``)."""

from __future__ import annotations

import strawberry

from jobgate.domain.content_hub import ContentHubDetails, label_text


@strawberry.type(description="One culture's text of a Content Hub Labels value.")
class Label:
    culture: str = strawberry.field(description="The culture, e.g. `en-US`.")
    text: str | None


@strawberry.type(description="Sitecore Content Hub fetch job fields.")
class ContentHubJobDetails:
    condition: str | None = strawberry.field(
        description="Pending, Success or Failure (other values are kept as sent)."
    )
    state_description: str | None = strawberry.field(
        description="The state's description: the `en-US` text of the Labels value (else its "
        "first text), or the plain string the upstream sent."
    )
    state_description_labels: list[Label] | None = strawberry.field(
        description="Every culture's text when `state_description` is a Labels value."
    )
    scope: str | None
    file_count: int | None
    files_completed: int | None
    started_on: str | None
    completed_on: str | None
    owner: str | None = strawberry.field(description="Link to the user entity that owns the job.")

    @classmethod
    def from_domain(cls, details: ContentHubDetails) -> ContentHubJobDetails:
        described = details.state_description
        count = details.file_count
        return cls(
            condition=details.condition,
            state_description=label_text(described),
            state_description_labels=(
                None
                if described is None or isinstance(described, str)
                else [Label(culture=c, text=t) for c, t in described]
            ),
            scope=details.scope,
            file_count=int(count) if isinstance(count, str) else count,
            files_completed=details.files_completed,
            started_on=details.started_on,
            completed_on=details.completed_on,
            owner=details.owner,
        )


JOB_DETAILS = ContentHubJobDetails
