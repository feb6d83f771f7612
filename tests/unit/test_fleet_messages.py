"""Messages between replicas: domain values round-trip; anything else is refused unrun."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from jobgate.domain import ErrorCode, JobError
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.fleet import decode
from tests.unit.test_watch import job


def test_a_job_comes_back_equal_with_this_process_provider() -> None:
    sent = replace(job("7505e000001NLkPAAW"), created_at=datetime(2026, 1, 2, tzinfo=UTC))
    replica, job_id, answer = decode(pickle.dumps(("r1", sent.id, sent)))
    assert (replica, job_id, answer) == ("r1", sent.id, sent)
    assert answer.provider is DATA_CLOUD
    error = JobError(ErrorCode.UPSTREAM_TIMEOUT, "slow")
    assert decode(pickle.dumps(("r1", "x:1", error)))[2] == error


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(("r", "x:1", os.system)),
        pickle.dumps(("r", "x:1", pickle.Unpickler)),
        b"not a pickle",
        pickle.dumps(["only", "two"]),
        pickle.dumps((1, 2, 3)),
        b"\x80" * 2_000_000,
    ],
)
def test_anything_else_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode(payload)
