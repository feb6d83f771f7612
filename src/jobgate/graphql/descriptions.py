"""What each type, field, argument and enum value means, for GraphiQL's Docs pane and
``schema/schema.graphql``: the provider it applies to and the vendor field it comes from.

Descriptions written beside a field (``strawberry.field(description=...)``) stay there; the
rest — the domain's enums, which stay free of GraphQL, and the plain fields — are set here, on
the schema Strawberry built, and so reach both introspection and the printed SDL.
"""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, GraphQLSchema

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


TYPES = {
    "Query": "Read jobs by id, list them, and see the configured sources.",
    "Mutation": "Change jobs. Every change is checked against its provider's rules first, sent "
    "once, and reported only as the upstream confirmed it (or as read back).",
    "Subscription": "Follow jobs as they change.",
    "JobConnection": "One page of `searchJobs`.",
    "JobEdge": "One listed job and the cursor just after it.",
    "PageInfo": "Where the page ends, and whether more may follow.",
    "ManageJobsPayload": "What `manageJobs` did to each id.",
}

FIELDS = {
    # jobs, payloads, errors
    "Job.source": "The configured source (account) that holds the job: the id's prefix.",
    "Job.provider": "The vendor behind the source.",
    "Job.nativeId": "The job's id at its vendor: the id's part after the colon.",
    "Job.status": "The neutral status (JobStatus), from the provider's state table.",
    "Job.details": "The vendor's own fields, one type per provider.",
    "JobPayload.job": "The job as the upstream confirmed it (or as read back); null on error.",
    "JobPayload.error": "Why the change did not happen, or could not be confirmed.",
    "ManageJobResult.id": "The id as given.",
    "ManageJobResult.job": "The job after the change; null on error or after DELETE.",
    "ManageJobResult.error": "Why this id's change did not happen or is not known.",
    "JobError.code": "The contract code.",
    "JobError.detail": "More of the upstream's words, where it gave any.",
    "JobError.fieldErrors": "The input fields that were refused.",
    "FieldError.field": "The GraphQL input field (e.g. `description`).",
    "FieldError.messages": "Why, in the upstream's words.",
    "JobWarning.message": "What is not known, and which actions are therefore not offered.",
    "JobUpdate.id": "The id as given in `ids` (canonical form).",
    "JobUpdate.job": "The job's current state; null when `error` is set.",
    "JobUpdate.error": "Why the job cannot be had now (NOT_FOUND once it is gone).",
    "Source.name": "The source's name in the config file (the ids' prefix).",
    "Source.provider": "The vendor it reaches.",
    "Source.supportedActions": "The actions its provider has at all.",
    # listing
    "JobConnection.edges": "The jobs of this page, in order.",
    "JobConnection.pageInfo": "Where this page ends.",
    "JobConnection.sourceErrors": "Sources that could not be listed; the others were.",
    "JobEdge.node": "The job, as `job(id:)` would answer it.",
    "PageInfo.endCursor": "Pass as `after` for the next page; null when the page is empty.",
    "SourceError.source": "The source's name.",
    "SourceError.code": "The contract code (as for reads).",
    "SourceError.message": "The upstream's words, or why the source is not listed.",
    # BigChange
    "BigChangeJobDetails.typeId": "BigChange `typeId`: the job type.",
    "BigChangeJobDetails.contactId": "BigChange `contactId`: the customer contact.",
    "BigChangeJobDetails.description": "BigChange `description` (fixed once the job started).",
    "BigChangeJobDetails.reference": "BigChange `reference`.",
    "BigChangeJobDetails.orderNumber": "BigChange `orderNumber`.",
    "BigChangeJobDetails.result": "BigChange `result`, once set.",
    "BigChangeJobDetails.customFields": "BigChange `customFields`.",
    "BigChangeCustomField.id": "The custom field's id.",
    "BigChangeCustomField.value": "Its value; null when unset.",
    "CustomFieldInput.id": "The custom field's id.",
    "CustomFieldInput.value": "The new value; null clears the field.",
    "UpdateJobInput.plannedDuration": "Minutes. Omitted: kept.",
    "UpdateJobInput.description": "Omitted: kept. Refused once the job has started.",
    "UpdateJobInput.reference": "Omitted: kept; null: unset.",
    "UpdateJobInput.primaryContactId": "Omitted: kept; null: the contact's primary person. "
    "Refused once the job has started.",
    "UpdateJobInput.orderNumber": "Omitted: kept; null: unset.",
    "UpdateJobInput.customFields": "Omitted or empty: all kept; an entry with `value: null` "
    "clears that field.",
    # Content Hub
    "ContentHubJobDetails.scope": "Content Hub `scope` (echoed in the cancel request).",
    "ContentHubJobDetails.fileCount": "Content Hub `file_count`.",
    "ContentHubJobDetails.filesCompleted": "Content Hub `files_completed`.",
    "ContentHubJobDetails.startedOn": "Content Hub `started_on`.",
    "ContentHubJobDetails.completedOn": "Content Hub `completed_on`.",
    "Label.text": "The text in that culture.",
    # Data Cloud
    "DataCloudJobDetails.object": "Data Cloud `object`: the target object.",
    "DataCloudJobDetails.operation": "Data Cloud `operation`: upsert or delete.",
    "DataCloudJobDetails.sourceName": "Data Cloud `sourceName` (absent on some jobs).",
    "DataCloudJobDetails.contentType": "Data Cloud `contentType` (CSV).",
    "DataCloudJobDetails.apiVersion": "Data Cloud `apiVersion`, as sent (text or number).",
    "DataCloudJobDetails.createdById": "Data Cloud `createdById`.",
    "DataCloudJobDetails.createdDate": "Data Cloud `createdDate`, as sent.",
    "DataCloudJobDetails.systemModstamp": "Data Cloud `systemModstamp`: the last change.",
    # Workflow Manager
    "WorkflowManagerJobDetails.jobName": "Workflow Manager `jobName`.",
    "WorkflowManagerJobDetails.description": "Workflow Manager `description`.",
    "WorkflowManagerJobDetails.closed": "Workflow Manager `closed`.",
    "WorkflowManagerJobDetails.priority": "Workflow Manager `priority`.",
    "WorkflowManagerJobDetails.percentComplete": "Workflow Manager `percentComplete`.",
    "WorkflowManagerJobDetails.diagramId": "Workflow Manager `diagramId`.",
    "WorkflowManagerJobDetails.diagramVersion": "Workflow Manager `diagramVersion`: the "
    "version the job runs on.",
    "WorkflowManagerJobDetails.diagramName": "Workflow Manager `diagramName`.",
    "WorkflowManagerJobDetails.jobTemplateId": "Workflow Manager `jobTemplateId`.",
    "WorkflowManagerJobDetails.jobTemplateName": "Workflow Manager `jobTemplateName`.",
    "WorkflowManagerJobDetails.createdDate": "Workflow Manager `createdDate`, as sent.",
    "WorkflowManagerJobDetails.dueDate": "Workflow Manager `dueDate`.",
    "WorkflowManagerJobDetails.endDate": "Workflow Manager `endDate`.",
    "WorkflowManagerJobDetails.ownedBy": "Workflow Manager `ownedBy`.",
    "WorkflowManagerJobDetails.archived": "Workflow Manager `archived`.",
    "WorkflowManagerJobDetails.currentSteps": "Workflow Manager `currentSteps`.",
    "WorkflowStep.stepId": "The step's `stepId`.",
    "WorkflowStep.stepName": "The step's `stepName`.",
    "WorkflowStep.assignedTo": "The step's `assignedTo` (a user or group).",
}

ARGUMENTS = {
    "Query.job.id": "`<source>:<native id>`.",
    "Query.jobs.ids": "`<source>:<native id>` each; at most `[server] max_ids`.",
    "Query.searchJobs.filter": "Conditions, all of which must hold; none: every job.",
    "Query.searchJobs.first": "Jobs per page: 1 to `[server] max_page_size` (100).",
    "Query.searchJobs.after": "An `endCursor` or edge `cursor` this gateway gave for the same "
    "filter.",
    "Mutation.cancelJob.id": "A Content Hub job id.",
    "Mutation.closeJob.id": "A Data Cloud or Workflow Manager job id.",
    "Mutation.abortJob.id": "A Data Cloud job id.",
    "Mutation.manageJobs.action": "What to do to every job.",
    "Mutation.manageJobs.ids": "Workflow Manager job ids; at most `[server] max_ids`.",
    "Mutation.setJobResult.id": "A started BigChange job's id.",
    "Mutation.setJobResult.status": "Whether the result is positive or negative.",
    "Mutation.setJobResult.result": "One of the job type's results, exactly (case and spaces).",
    "Mutation.updateJob.id": "A BigChange job id.",
    "Mutation.updateJob.input": "The fields to change; omitted ones are kept.",
    "Subscription.jobUpdated.ids": "`<source>:<native id>` each; at most `[server] max_ids`.",
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
    for name, text in TYPES.items():
        if (kind := schema.type_map.get(name)) is not None and not kind.description:
            kind.description = text
    for path, text in FIELDS.items():
        type_name, _, field_name = path.partition(".")
        kind = schema.type_map.get(type_name)
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            member = kind.fields.get(field_name)
            if member is not None and not member.description:
                member.description = text
    for path, text in ARGUMENTS.items():
        type_name, field_name, argument_name = path.split(".")
        kind = schema.type_map.get(type_name)
        if isinstance(kind, GraphQLObjectType) and field_name in kind.fields:
            argument = kind.fields[field_name].args.get(argument_name)
            if argument is not None and not argument.description:
                argument.description = text
