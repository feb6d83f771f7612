"""BigChange simulator state and rules: jobs, job types, OAuth clients and tokens, seed data.

Update rules follow the vendor doc: an omitted field keeps its value; null unsets reference,
orderNumber and contactPersonId (null resets it to the contact's primary person); customFields
omitted or [] keeps them, an entry with a null value unsets it; description and contactPersonId
cannot change once the job is started (started, suspended) or completed. Undocumented, adopted
here: a cancelled job takes no update, and resending a locked field's current value is no change.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

DEMO_CLIENT_ID = "jobgate-demo"
DEMO_CLIENT_SECRET = "demo-bigchange-secret-6Qv9tR"
DEMO_CUSTOMER_ID = "14532"
# A client without jobs:write, for "missing scope" answers.
READER_CLIENT_ID = "jobgate-reader"
READER_CLIENT_SECRET = "demo-bigchange-reader-secret"

STATUSES = (
    "new",
    "scheduled",
    "unscheduled",
    "sent",
    "read",
    "accepted",
    "refused",
    "onTheWay",
    "started",
    "suspended",
    "completedOk",
    "completedWithIssues",
    "cancelled",
)
# Named in the vendor's status history, "should not be visible from the API": a store can hold
# them (tests do) so that the gateway is shown to read them without failing.
LATE_STATUSES = ("lateStart", "lateFinish", "rescheduled")
RESULT_STATUSES = {"completedOk": "positiveResults", "completedWithIssues": "negativeResults"}
STARTABLE = {"scheduled", "sent", "read", "accepted", "onTheWay", "suspended"}
LOCKED = {"started", "suspended", "completedOk", "completedWithIssues"}
NULLABLE = {"reference", "orderNumber", "contactPersonId"}
TEXT_FIELDS = {"description", "reference", "orderNumber", "contactPersonId"}
LOCKED_MESSAGE = "Cannot be updated once the job has started"


class Refused(Exception):
    """An answer other than success: rendered as RFC 7807 problem+json by the app."""

    def __init__(self, status: int, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors


@dataclass
class Token:
    client_id: str
    scopes: frozenset[str]
    expires_at: float


def _job_types() -> dict[int, dict[str, Any]]:
    types = [
        (5, "Boiler service", ["Fixed"], ["No access", "Parts needed"]),
        (7, "Gas safety check", ["Pass", "Pass - advisories"], ["Fail - unsafe appliance"]),
        (9, "Drain unblock", ["Cleared"], ["Needs excavation", "No access"]),
    ]
    return {
        t: {"id": t, "name": n, "positiveResults": p, "negativeResults": ng}
        for t, n, p, ng in types
    }


def _contacts() -> dict[int, str]:
    """Contact id -> its primary person, whom a null contactPersonId resets to."""
    return {
        77: "6f1c0b52-4d2e-4a8f-9c1b-2f7d9e3a1c77",
        78: "0b9e4c1d-7a3f-4e62-8d15-c4a2f6b8e078",
        79: "c2d8a6f4-1e5b-4b9a-a3c7-5d9f0e2b4a79",
    }


def _clients() -> dict[str, tuple[str, frozenset[str]]]:
    return {
        DEMO_CLIENT_ID: (DEMO_CLIENT_SECRET, frozenset({"jobs:read", "jobs:write"})),
        READER_CLIENT_ID: (READER_CLIENT_SECRET, frozenset({"jobs:read"})),
    }


@dataclass
class BigChangeStore:
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    job_types: dict[int, dict[str, Any]] = field(default_factory=_job_types)
    contacts: dict[int, str] = field(default_factory=_contacts)
    custom_fields: dict[int, str] = field(
        default_factory=lambda: {9: "Boiler colour", 12: "Key safe code", 14: "Parking"}
    )
    clients: dict[str, tuple[str, frozenset[str]]] = field(default_factory=_clients)
    customer_id: str = DEMO_CUSTOMER_ID
    token_lifetime: float = 3600
    tokens: dict[str, Token] = field(default_factory=dict)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(2001))

    def add(
        self,
        status: str = "new",
        *,
        type_id: int = 5,
        contact_id: int = 77,
        description: str = "Annual boiler service",
        reference: str | None = None,
        contact_person_id: str | None = None,
        order_number: str | None = None,
        planned_duration: int = 60,
        custom_fields: list[dict[str, Any]] | None = None,
        result: str | None = None,
        job_id: int | None = None,
    ) -> dict[str, Any]:
        if status not in STATUSES and status not in LATE_STATUSES:
            raise ValueError(f"unknown BigChange status {status!r}")
        job_id = job_id if job_id is not None else next(self._serial)
        job = {
            "id": job_id,
            "typeId": type_id,
            "contactId": contact_id,
            "status": status,
            "plannedDuration": planned_duration,
            "description": description,
            "reference": reference if reference is not None else f"JOB-{job_id}",
            "contactPersonId": contact_person_id or self.contacts.get(contact_id),
            "orderNumber": order_number,
            "customFields": list(custom_fields or []),
            "result": result,
        }
        self.jobs[job_id] = job
        return job

    # --- OAuth -------------------------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str) -> tuple[str, Token] | None:
        known = self.clients.get(client_id)
        if known is None or not secrets.compare_digest(known[0], client_secret):
            return None
        value = "bc_" + secrets.token_urlsafe(24)
        token = Token(client_id, known[1], time.monotonic() + self.token_lifetime)
        self.tokens[value] = token
        return value, token

    def valid_token(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        return token if token is not None and time.monotonic() < token.expires_at else None

    def expire_tokens(self) -> None:
        """Make every issued token expire now (the gateway's cached one answers 401 next)."""
        for token in self.tokens.values():
            token.expires_at = 0.0

    # --- job rules -----------------------------------------------------------------------------

    def update(self, job: dict[str, Any], body: Any) -> None:
        """Apply a PATCH body all at once, or raise ``Refused`` and change nothing."""
        if not isinstance(body, dict):
            raise Refused(400, "The request body must be a JSON object.")
        if job["status"] == "cancelled":
            raise Refused(422, "A cancelled job cannot be updated.")
        errors: dict[str, list[str]] = {}
        changes: dict[str, Any] = {}
        for key, value in body.items():
            reason = self._field_problem(job, key, value)
            if reason is not None:
                errors.setdefault(key, []).append(reason)
            elif key == "contactPersonId" and value is None:
                changes[key] = self.contacts.get(job["contactId"])
            else:
                changes[key] = value
        for key in ("description", "contactPersonId"):
            if key in changes and job["status"] in LOCKED and changes[key] != job[key]:
                errors.setdefault(key, []).append(LOCKED_MESSAGE)
        if errors:
            raise Refused(422, "One or more fields cannot be updated.", errors)
        fields = {f["id"]: f for f in job["customFields"]}
        for entry in changes.pop("customFields", []):
            if entry["value"] is None:
                fields.pop(entry["id"], None)
            else:
                fields[entry["id"]] = {"id": entry["id"], "value": entry["value"]}
        job["customFields"] = list(fields.values())
        job.update(changes)

    def _field_problem(self, job: dict[str, Any], key: str, value: Any) -> str | None:
        if key == "plannedDuration":
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100_000
            return None if ok else "Must be a whole number of minutes, 0 or more."
        if key in TEXT_FIELDS:
            if value is None:
                return None if key in NULLABLE else "Cannot be null."
            return None if isinstance(value, str) else "Must be a string."
        if key == "customFields":
            if not isinstance(value, list):
                return "Must be a list."
            for entry in value:
                if not (
                    isinstance(entry, dict)
                    and isinstance(entry.get("id"), int)
                    and (entry.get("value") is None or isinstance(entry["value"], str))
                ):
                    return "Each entry needs a numeric id and a string or null value."
                if entry["id"] not in self.custom_fields:
                    return f"Unknown custom field {entry['id']}."
            return None
        return "Is not a field of a job update."

    def start(self, job: dict[str, Any]) -> None:
        if job["status"] not in STARTABLE:
            raise Refused(422, f"A job in status '{job['status']}' cannot be started.")
        job["status"] = "started"

    def set_result(self, job: dict[str, Any], body: Any) -> None:
        status = body.get("status") if isinstance(body, dict) else None
        result = body.get("result") if isinstance(body, dict) else None
        errors: dict[str, list[str]] = {}
        options_key = RESULT_STATUSES.get(status) if isinstance(status, str) else None
        if options_key is None:
            errors["status"] = ["Must be completedOk or completedWithIssues."]
        if not isinstance(result, str) or not result:
            errors["result"] = ["Must be a non-empty string."]
        if errors or options_key is None:
            raise Refused(400, "One or more validation errors occurred.", errors)
        if job["status"] != "started":
            raise Refused(422, "The job status must be started to set its result.")
        options = self.job_types.get(job["typeId"], {}).get(options_key, [])
        if result not in options:
            # The vendor doc: casing and whitespace must be an exact match.
            listed = ", ".join(options) or "none"
            raise Refused(
                422, "The result is not valid.", {"result": [f"Must be one of: {listed}"]}
            )
        job["status"], job["result"] = status, result


def seed(store: BigChangeStore) -> None:
    """Jobs in every status with stable ids (1001-1013 in STATUSES order) plus a few more."""
    add = store.add
    add("new", job_id=1001, description="Boiler making knocking noise", reference="JOB-1001")
    add("scheduled", job_id=1002, contact_id=78, planned_duration=90)
    add("unscheduled", job_id=1003, type_id=9, description="Blocked kitchen drain")
    add("sent", job_id=1004, order_number="PO-55120")
    add("read", job_id=1005, type_id=7, description="Landlord gas safety check", contact_id=79)
    add("accepted", job_id=1006, custom_fields=[{"id": 12, "value": "4471"}])
    add("refused", job_id=1007, type_id=9, description="Overflowing gully")
    add("onTheWay", job_id=1008, contact_id=78)
    add("started", job_id=1009, custom_fields=[{"id": 9, "value": "blue"}], reference="JOB-1")
    add("suspended", job_id=1010, type_id=7, description="Meter access needed")
    add("completedOk", job_id=1011, result="Fixed", order_number="PO-55007")
    add("completedWithIssues", job_id=1012, type_id=9, result="Needs excavation")
    add("cancelled", job_id=1013, description="Duplicate booking")
    add("started", job_id=1014, type_id=7, description="Annual gas safety check", contact_id=79)
    add("started", job_id=1015, type_id=9, description="Slow shower drain", planned_duration=45)
