"""Data Cloud job JSON for the static upstreams, shaped like the Data Cloud simulator's."""

from __future__ import annotations

from typing import Any

JOBS_PATH = "/api/v1/ingest/jobs"
SOURCE = "ingest"
TOKEN = "bench-static-token"


def native_ids(count: int) -> list[str]:
    return [f"7505e0000{n:06d}AAW" for n in range(1, count + 1)]


def job(native_id: str, n: int) -> dict[str, Any]:
    state = ("Open", "UploadComplete", "InProgress", "JobComplete")[n % 4]
    return {
        "id": native_id,
        "operation": "upsert",
        "object": "Contact",
        "sourceName": "crm",
        "createdById": "0055e000003PfMYAA0",
        "createdDate": "2026-11-02T09:15:00.000Z",
        "systemModstamp": "2026-11-02T09:15:00.000Z",
        "state": state,
        "contentType": "CSV",
        "apiVersion": "v1",
    }


def jobs(count: int) -> dict[str, dict[str, Any]]:
    return {jid: job(jid, n) for n, jid in enumerate(native_ids(count))}
