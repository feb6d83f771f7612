"""The GraphQL requests the bench sends, as ready-to-send JSON bodies, and how to check answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

# What a client typically asks of a job; provider-neutral so that any source can answer it.
JOB_FIELDS = "id status providerStatus allowedActions details { __typename }"


def body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return orjson.dumps(payload)


def q0() -> str:
    return "{ __typename }"


def q_job(job_id: str) -> str:
    return f'{{ job(id: "{job_id}") {{ {JOB_FIELDS} }} }}'


def q_aliased(job_ids: Sequence[str]) -> str:
    """One ``job`` field per id, aliased j0, j1, …: the DataLoader batches them."""
    fields = " ".join(f'j{i}: job(id: "{jid}") {{ {JOB_FIELDS} }}' for i, jid in enumerate(job_ids))
    return f"{{ {fields} }}"


def q_job_variables(job_id: str) -> tuple[str, dict[str, Any]]:
    """Q1 as a client sends it: one document, the id in a variable."""
    return f"query Job($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}", {"id": job_id}


def q_aliased_variables(job_ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Q20 as a client sends it: one document for any twenty ids, the ids in variables."""
    params = ", ".join(f"$j{i}: ID!" for i in range(len(job_ids)))
    fields = " ".join(f"j{i}: job(id: $j{i}) {{ {JOB_FIELDS} }}" for i in range(len(job_ids)))
    return f"query Jobs({params}) {{ {fields} }}", {f"j{i}": jid for i, jid in enumerate(job_ids)}


def q_jobs(job_ids: Sequence[str]) -> str:
    ids = ", ".join(f'"{jid}"' for jid in job_ids)
    return f"{{ jobs(ids: [{ids}]) {{ {JOB_FIELDS} }} }}"


def q_search(sources: Sequence[str] | None, first: int) -> tuple[str, dict[str, Any]]:
    """One searchJobs page: ``first`` jobs from ``sources`` (None: every source)."""
    query = (
        "query Search($filter: JobFilter, $first: Int) { searchJobs(filter: $filter, "
        f"first: $first) {{ edges {{ cursor node {{ {JOB_FIELDS} }} }} "
        "pageInfo { hasNextPage endCursor } sourceErrors { source code message } } }"
    )
    chosen = None if sources is None else {"sources": list(sources)}
    return query, {"filter": chosen, "first": first}


def mutation(field: str, job_id: str) -> str:
    return (
        f'mutation {{ {field}(id: "{job_id}") '
        "{ job { id status providerStatus } error { code message } } }"
    )


def answer_problem(raw: bytes, *, expect_jobs: int | None = None) -> str | None:
    """Why a GraphQL answer is not a clean success, or None when it is.

    ``expect_jobs``: how many non-null jobs the answer must hold (a missing job is a bench bug).
    """
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not JSON"
    if not isinstance(answer, dict):
        return "not a JSON object"
    if answer.get("errors"):
        first = answer["errors"][0]
        code = (first.get("extensions") or {}).get("code", "")
        return f"GraphQL error {code}: {first.get('message', '')}"[:200]
    data = answer.get("data")
    if not isinstance(data, dict):
        return "no data"
    for value in data.values():
        if isinstance(value, dict) and value.get("error"):
            return f"payload error {value['error'].get('code')}: {value['error'].get('message')}"
        if isinstance(value, dict) and value.get("sourceErrors"):
            first = value["sourceErrors"][0]
            return f"source error {first.get('source')} {first.get('code')}: {first.get('message')}"
    if expect_jobs is not None:
        found = sum(1 for job in _jobs_in(data) if job is not None)
        if found != expect_jobs:
            return f"expected {expect_jobs} jobs, got {found}"
    return None


def _jobs_in(data: dict[str, Any]) -> list[Any]:
    jobs: list[Any] = []
    for value in data.values():
        if isinstance(value, dict) and isinstance(value.get("edges"), list):
            jobs.extend(edge.get("node") for edge in value["edges"])
        elif isinstance(value, list):
            jobs.extend(value)
        else:
            jobs.append(value)
    return jobs


def has_errors(raw: bytes) -> bool:
    """The cheap check used under load: does the answer carry GraphQL or payload errors?"""
    return b'"errors":[' in raw or b'"error":{' in raw or b'"sourceErrors":[{' in raw
