"""Mutation inputs and their translation to domain requests (omitted vs null kept apart)."""

from __future__ import annotations

import strawberry

from jobgate.domain import CustomFieldChange, JobUpdate


@strawberry.input(description="A custom field to set; `value: null` unsets it.")
class CustomFieldInput:
    id: strawberry.ID
    value: str | None = None


@strawberry.input(description="Omitted = keep, null = unset, exactly as BigChange defines.")
class UpdateJobInput:
    planned_duration: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    reference: str | None = strawberry.UNSET
    primary_contact_id: strawberry.ID | None = strawberry.UNSET
    order_number: str | None = strawberry.UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.UNSET

    def to_domain(self) -> JobUpdate:
        changes: dict[str, str | int | None] = {}
        for name in (
            "planned_duration",
            "description",
            "reference",
            "primary_contact_id",
            "order_number",
        ):
            value = getattr(self, name)
            if value is not strawberry.UNSET:
                changes[name] = None if value is None else value
        custom = self.custom_fields
        custom_fields = (
            None
            if custom is strawberry.UNSET or custom is None
            else tuple(CustomFieldChange(id=str(c.id), value=c.value) for c in custom)
        )
        return JobUpdate(changes=changes, custom_fields=custom_fields)
