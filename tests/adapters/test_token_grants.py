"""Each vendor's way of handing out tokens, as the gateway uses it against the simulators."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jobgate.domain import ErrorCode, Job, JobError
from jobgate.domain.content_hub import CONTENT_HUB
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.domain.workflow_manager import WORKFLOW_MANAGER
from jobgate.providers.base import HttpProvider
from jobgate.simulators import content_hub, data_cloud, workflow_manager
from jobgate.simulators.faults import FaultyTransport
from jobgate.upstream.grants import origin
from tests.harness import adapter, vendor


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


def record(faults: FaultyTransport) -> Recorder:
    recorder = Recorder(faults.inner)
    faults.inner = recorder
    return recorder


def forms(recorder: Recorder, suffix: str) -> list[dict[str, list[str]]]:
    return [parse_qs(r.content.decode()) for r in recorder.requests if r.url.path.endswith(suffix)]


async def test_content_hub_renews_with_its_refresh_token_then_the_password_again() -> None:
    sim = vendor(CONTENT_HUB)
    async with adapter(sim) as (provider, faults):
        recorder = record(faults)
        assert isinstance(await provider.read_jobs(["6168"]), list)
        sim.store.tokens.expire_all()
        [job] = await provider.read_jobs(["6168"])  # 401, renewed with the refresh token
        assert isinstance(job, Job)
        sim.store.tokens.expire_all()
        sim.store.refresh_tokens.clear()  # the refresh token is refused too now
        [job] = await provider.read_jobs(["6168"])
        assert isinstance(job, Job)
    grants = [form["grant_type"] for form in forms(recorder, "/oauth/token")]
    assert grants == [["password"], ["refresh_token"], ["refresh_token"], ["password"]]
    first = forms(recorder, "/oauth/token")[0]
    assert first["username"] == [content_hub.DEMO_USERNAME]
    assert first["client_id"] == [content_hub.DEMO_CLIENT_ID]


async def test_content_hub_wrong_password_is_unauthenticated_in_its_words() -> None:
    sim = vendor(CONTENT_HUB)
    async with adapter(sim, password="not-the-password-at-all") as (provider, _):
        [error] = await provider.read_jobs(["6168"])
    assert isinstance(error, JobError) and error.code is ErrorCode.UNAUTHENTICATED
    assert error.message == "The user name or password is incorrect."
    assert error.upstream_code == "invalid_grant"
    assert "not-the-password-at-all" not in repr(error)


async def test_data_cloud_exchanges_a_fresh_salesforce_token_and_uses_its_instance_url() -> None:
    sim = vendor(DATA_CLOUD)
    async with adapter(sim) as (provider, faults):
        assert isinstance(provider, HttpProvider)
        assert provider.http.client.base_url == "", "no base_url configured: learnt from the token"
        recorder = record(faults)
        [job] = await provider.read_jobs(["7505e000001NLkPAAW"])
        sim.store.tokens.expire_all()
        [again] = await provider.read_jobs(["7505e000001NLkPAAW"])
    assert isinstance(job, Job) and isinstance(again, Job)
    core = forms(recorder, "/services/oauth2/token")
    exchanges = forms(recorder, "/services/a360/token")
    assert [f["grant_type"] for f in core] == [["client_credentials"]] * 2
    assert [f["grant_type"] for f in exchanges] == [["urn:salesforce:grant-type:external:cdp"]] * 2
    # Every exchange uses a Salesforce token of its own: Salesforce exchanges one only once.
    assert exchanges[0]["subject_token"] != exchanges[1]["subject_token"]
    [read] = [r for r in recorder.requests if r.url.path.endswith("/jobs/7505e000001NLkPAAW")][:1]
    assert str(read.url).startswith("http://simulators.test/data-cloud/api/v1/ingest/")


@pytest.mark.parametrize(
    ("sent", "base"),
    [
        ("tenant.c360a.salesforce.com", "https://tenant.c360a.salesforce.com"),
        ("https://tenant.c360a.salesforce.com/", "https://tenant.c360a.salesforce.com"),
        ("http://127.0.0.1:8100/data-cloud", "http://127.0.0.1:8100/data-cloud"),
    ],
)
def test_an_instance_url_without_a_scheme_is_https(sent: str, base: str) -> None:
    assert origin(sent) == base


def rsa_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def test_data_cloud_jwt_bearer_flow(tmp_path: Path) -> None:
    private, public = rsa_key_pair()
    sim = vendor(DATA_CLOUD)
    sim.store.jwt_keys[data_cloud.DEMO_CLIENT_ID] = public
    overrides = {
        "client_secret": None,
        "private_key": private,
        "private_key_file": str(tmp_path / "key.pem"),
        "username": data_cloud.DEMO_USERNAME,
    }
    async with adapter(sim, **overrides) as (provider, faults):
        recorder = record(faults)
        [job] = await provider.read_jobs(["7505e000001NLkPAAW"])
    assert isinstance(job, Job)
    [core] = forms(recorder, "/services/oauth2/token")
    assert core["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert "client_secret" not in core and len(core["assertion"][0].split(".")) == 3
    other, _ = rsa_key_pair()
    async with adapter(sim, **{**overrides, "private_key": other}) as (provider, _):
        [refused] = await provider.read_jobs(["7505e000001NLkPAAW"])
    assert isinstance(refused, JobError) and refused.code is ErrorCode.UNAUTHENTICATED
    assert refused.message == "The assertion does not verify."


async def test_workflow_manager_asks_arcgis_for_an_app_token_in_json() -> None:
    sim = vendor(WORKFLOW_MANAGER)
    async with adapter(sim) as (provider, faults):
        recorder = record(faults)
        [job] = await provider.read_jobs(["j1Xo9"])
    assert isinstance(job, Job)
    [form] = forms(recorder, "/sharing/rest/oauth2/token")
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": [workflow_manager.DEMO_CLIENT_ID],
        "client_secret": [workflow_manager.DEMO_CLIENT_SECRET],
        "f": ["json"],
    }
    read = next(r for r in recorder.requests if r.url.path.endswith("/jobs/j1Xo9"))
    assert read.headers["authorization"].startswith("Bearer wm_")


async def test_workflow_manager_refused_app_is_unauthenticated_in_arcgis_words() -> None:
    sim = vendor(WORKFLOW_MANAGER)
    async with adapter(sim, client_id="someOtherApp") as (provider, _):
        [error] = await provider.read_jobs(["j1Xo9"])
    assert isinstance(error, JobError) and error.code is ErrorCode.UNAUTHENTICATED
    assert error.message == "Invalid client_id" and error.upstream_code == "invalid_client_id"
