"""What each enum and enum value means, for GraphiQL's Docs pane and ``schema/schema.graphql``.

The domain's enums stay free of GraphQL; their descriptions are set here, on the schema
Strawberry built, and so reach both introspection and the printed SDL.
"""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLSchema

ENUMS: dict[str, tuple[str, dict[str, str]]] = {
    "JobStatus": (
        "One status vocabulary for every vendor; `providerStatus` keeps the vendor's own word.",
        {
            "PENDING": "Not started. Content Hub Created/Pending; BigChange new/unscheduled.",
            "OPEN": "Accepting work or data. Data Cloud Open; BigChange scheduled, sent, read, "
            "accepted; an open Workflow Manager job that is not running.",
            "QUEUED": "Closed to new data and waiting to be processed: Data Cloud UploadComplete.",
            "IN_PROGRESS": "Being worked on. Content Hub InProgress; Data Cloud InProgress; "
            "BigChange onTheWay/started; a running Workflow Manager job.",
            "SUSPENDED": "Put on hold: BigChange suspended.",
            "COMPLETED": "Finished well. Content Hub Completed (Success); Data Cloud JobComplete; "
            "BigChange completedOk.",
            "COMPLETED_WITH_ISSUES": "Finished, with problems noted: BigChange "
            "completedWithIssues.",
            "FAILED": "Finished badly. Content Hub Completed with condition Failure; Data Cloud "
            "Failed.",
            "CANCELLED": "Stopped before finishing. Content Hub Cancelled; BigChange cancelled "
            "or refused.",
            "ABORTED": "Stopped and its uploaded data deleted: Data Cloud Aborted.",
            "CLOSED": "A closed Workflow Manager job (REOPEN brings it back).",
        },
    ),
    "JobAction": (
        "A change a caller can ask for; `Job.allowedActions` lists those a job accepts now.",
        {
            "CANCEL": "Content Hub: cancel a Pending fetch job (cancelJob).",
            "CLOSE": "Data Cloud: Open → UploadComplete (closeJob); Workflow Manager: close "
            "(manageJobs).",
            "ABORT": "Data Cloud: Open → Aborted, deleting the uploaded data (abortJob).",
            "REOPEN": "Workflow Manager: reopen a closed job (manageJobs).",
            "UPGRADE": "Workflow Manager: move an open, idle job to its diagram's latest "
            "version (manageJobs).",
            "DELETE": "Workflow Manager: delete a job that is not running (manageJobs).",
            "SET_RESULT": "BigChange: set a started job's result (setJobResult).",
            "UPDATE": "BigChange: change a job's fields (updateJob).",
        },
    ),
    "JobErrorCode": (
        "Why a lookup or a change did not succeed; the message keeps the upstream's words.",
        {
            "INVALID_ID": "Not a `<source>:<native id>` of a configured source.",
            "NOT_FOUND": "The upstream says the job does not exist.",
            "UNSUPPORTED_ACTION": "The provider has no such operation (nothing was sent).",
            "INVALID_STATE": "The provider has it, but not in the job's current state (named "
            "in `providerStatus`).",
            "VALIDATION_FAILED": "The input breaks a rule; `fieldErrors` say which field.",
            "FORBIDDEN": "The caller, or the gateway's credentials at the upstream, may not.",
            "UNAUTHENTICATED": "The upstream refused the gateway's credentials, even renewed.",
            "RATE_LIMITED": "The upstream (or the gateway) asks to slow down.",
            "UPSTREAM_UNAVAILABLE": "The upstream failed or answered something unusable.",
            "UPSTREAM_TIMEOUT": "The upstream did not answer in time.",
            "OUTCOME_UNKNOWN": "A change may have reached the upstream and the gateway could "
            "not establish whether it took effect.",
        },
    ),
    "ManageAction": (
        "A Workflow Manager batch action (manageJobs).",
        {
            "CLOSE": "Close jobs that are not running.",
            "REOPEN": "Reopen closed jobs.",
            "UPGRADE": "Move open, idle jobs to their diagram's latest version.",
            "DELETE": "Delete jobs that are not running (with their attachments).",
        },
    ),
    "JobResultStatus": (
        "A BigChange job result's kind.",
        {
            "COMPLETED_OK": "completedOk: the result must be one of the job type's "
            "`positiveResults`.",
            "COMPLETED_WITH_ISSUES": "completedWithIssues: the result must be one of its "
            "`negativeResults`.",
        },
    ),
    "Provider": (
        "The vendor that holds a job.",
        {
            "DATA_CLOUD": "Salesforce Data Cloud Ingestion API bulk jobs.",
            "CONTENT_HUB": "Sitecore Content Hub fetch jobs.",
            "BIGCHANGE": "BigChange field-service jobs.",
            "WORKFLOW_MANAGER": "Esri ArcGIS Workflow Manager jobs.",
        },
    ),
}


def describe(schema: GraphQLSchema) -> None:
    """Set every known enum's and value's description on ``schema`` (a vendor registered from
    elsewhere keeps its value undescribed)."""
    for name, (about, values) in ENUMS.items():
        found = schema.type_map.get(name)
        if not isinstance(found, GraphQLEnumType):
            continue
        found.description = found.description or about
        for value_name, text in values.items():
            value = found.values.get(value_name)
            if value is not None and not value.description:
                value.description = text
