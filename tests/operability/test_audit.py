"""The audit trail: one `jobgate.audit` record per mutation and job id, field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from jobgate.config import ConfigError, ServerSettings, Settings, parse_settings
from jobgate.config.settings import AuditSettings
from jobgate.simulators.suite import build_vendors
from tests import harness
from tests.operability.test_logs import captured_logs, lines
from tests.security.support import WRITER_KEY, gateway, post


async def audited(query: str, **headers: str) -> list[dict[str, Any]]:
    async with harness.gateway() as gw:
        with captured_logs() as out:
            body = await gw.gql(query, **headers)
    assert "errors" not in body, body
    return [line for line in lines(out) if line["logger"] == "jobgate.audit"]


async def test_a_close_records_who_what_the_calls_and_the_outcome() -> None:
    [entry] = await audited('mutation { closeJob(id: "ingest:7505e000001NLkPAAW") { job { id } } }')
    assert entry["message"] == "job change"
    assert entry["principal"] == "anonymous"
    assert entry["mutation"] == "closeJob" and entry["job_id"] == "ingest:7505e000001NLkPAAW"
    assert entry["input"] == {"action": "CLOSE"}
    assert entry["outcome"] == "success" and entry["provider_status"] == "UploadComplete"
    assert entry["upstream_calls"] == [  # the check before the write, the write (confirmed)
        "GET /api/v1/ingest/jobs/7505e000001NLkPAAW 200",
        "PATCH /api/v1/ingest/jobs/7505e000001NLkPAAW 200",
    ]
    assert entry["time"] and entry["level"] == "info" and entry["request_id"]


async def test_a_refused_change_records_its_code_and_no_write() -> None:
    [entry] = await audited(
        'mutation { abortJob(id: "ingest:7505e000001NLkVAAW") { error { code } } }'
    )
    assert entry["mutation"] == "abortJob" and entry["outcome"] == "INVALID_STATE"
    assert "Aborted" in entry["error"]
    assert not any(call.startswith("PATCH ") for call in entry["upstream_calls"])


async def test_a_cancel_records_its_read_write_and_read_back() -> None:
    [entry] = await audited('mutation { cancelJob(id: "hub:6161") { job { status } } }')
    assert entry["input"] == {"action": "CANCEL"} and entry["outcome"] == "success"
    methods = [call.split()[0] for call in entry["upstream_calls"]]
    assert methods.count("PUT") == 1 and methods.count("GET") >= 2  # read, write, read back


async def test_a_result_and_an_update_record_their_input_text() -> None:
    [result] = await audited(
        'mutation { setJobResult(id: "field:1009", status: COMPLETED_OK, result: "Fixed") '
        "{ job { status } } }"
    )
    assert result["input"] == {
        "action": "SET_RESULT",
        "result_status": "COMPLETED_OK",
        "result": "Fixed",
    }
    assert result["outcome"] == "success"
    [update] = await audited(
        'mutation { updateJob(id: "field:1002", input: {reference: "R-9", '
        'customFields: [{id: "12", value: "A"}]}) { job { id } } }'
    )
    assert update["input"] == {
        "action": "UPDATE",
        "update": {"reference": "R-9"},
        "custom_fields": {"12": "A"},
    }


async def test_manage_jobs_records_one_entry_per_id() -> None:
    entries = await audited(
        'mutation { manageJobs(action: CLOSE, ids: ["gis:j1Xo9", "gis:j3Rw7", "oops"]) '
        "{ results { id } } }"
    )
    by_id = {e["job_id"]: e for e in entries}
    assert set(by_id) == {"gis:j1Xo9", "gis:j3Rw7", "oops"}
    assert by_id["gis:j1Xo9"]["outcome"] == "success"
    assert by_id["gis:j3Rw7"]["outcome"] == "INVALID_STATE"  # running: refused, nothing sent
    assert by_id["oops"]["outcome"] == "INVALID_ID"
    assert any("/jobs/manage" in c for c in by_id["gis:j1Xo9"]["upstream_calls"])
    assert all(e["mutation"] == "manageJobs" for e in entries)


async def test_the_record_names_the_authenticated_caller_and_no_credential() -> None:
    async with gateway() as gw:
        with captured_logs() as out:
            answer = await post(
                gw,
                'mutation { closeJob(id: "ingest:7505e000001NLkPAAW") { job { id } } }',
                {"x-api-key": WRITER_KEY},
            )
    assert answer.status_code == 200
    [entry] = [line for line in lines(out) if line["logger"] == "jobgate.audit"]
    assert entry["principal"] == "key:writer"
    assert WRITER_KEY not in out.getvalue()


async def test_the_trail_also_goes_to_a_rotating_file_when_configured(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    settings = Settings(
        server=ServerSettings(probe_sources=False),
        sources={},
        audit=AuditSettings(file=str(trail), max_bytes=400, backups=2),
    )
    app, _ = harness.app_over_faults(build_vendors(), settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            for job in ("ingest:7505e000001NLkPAAW", "ingest:7505e000001NLkQAAW"):
                query = f'mutation {{ closeJob(id: "{job}") {{ job {{ id }} }} }}'
                assert (await client.post("/graphql", json={"query": query})).status_code == 200
    files, records = _kept(tmp_path)
    assert 2 <= files <= 3  # 400 bytes a file, two backups: every record rotated along
    assert {r["job_id"] for r in records} == {
        "ingest:7505e000001NLkPAAW",
        "ingest:7505e000001NLkQAAW",
    }
    assert all(r["logger"] == "jobgate.audit" and r["outcome"] == "success" for r in records)


def _kept(folder: Path) -> tuple[int, list[dict[str, Any]]]:
    kept = sorted(folder.glob("audit.jsonl*"))
    return len(kept), [orjson.loads(line) for f in kept for line in f.read_text().splitlines()]


def test_the_audit_table_is_checked() -> None:
    base = {
        "sources": {"s": {"provider": "data-cloud", "base_url": "https://x.test", "token": "t"}}
    }
    loaded = parse_settings({**base, "audit": {"file": "/tmp/a.jsonl", "backups": 3}}, "f", {})
    assert loaded.audit == AuditSettings(file="/tmp/a.jsonl", backups=3)
    with pytest.raises(ConfigError, match=r"\[audit\] size: unknown key"):
        parse_settings({**base, "audit": {"size": 1}}, "f", {})
