"""The upstream client keeps no cookies: one caller's upstream session never reaches another."""

from __future__ import annotations

import httpx
import pytest

from jobgate.config import SourceSettings
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.upstream.channel import build_channel


async def test_cookies_set_by_an_upstream_are_not_sent_back() -> None:
    seen: list[str | None] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={}, headers={"set-cookie": "session=abc; Path=/"})

    settings = SourceSettings(
        name="ingest", provider=DATA_CLOUD, base_url="http://up", token="t" * 20
    )
    http = build_channel(settings, httpx.MockTransport(upstream))
    try:
        await http.get("/a")
        await http.get("/b")
    finally:
        await http.aclose()
    assert seen == [None, None]
    assert not http.client.cookies


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:3901",
        "HTTPS://Tenant.Example.COM:443",
        "https://workflow.arcgis.com/ORG/ITEM",
        "http://example.com:80/api/",
        "http://[::1]:8080",
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/ingest/jobs/7505e000001NLkSAAW",
        "api/fetchjobs/1.5-x_y~z",
        "/jobs/../admin",
        "/jobs/.hidden",
        "/jobs/a b",
        "/jobs/é",
        "/jobs/a%2Fb",
        "/jobs/1?x=y",
        "",
    ],
)
async def test_an_attempts_url_is_the_one_httpx_would_build(base: str, path: str) -> None:
    """Plain paths skip httpx's URL parser (CallGuard._url); the URL sent must not change."""
    settings = SourceSettings(name="ingest", provider=DATA_CLOUD, base_url=base, token="t" * 20)
    http = build_channel(settings, httpx.MockTransport(lambda request: httpx.Response(200)))
    try:
        built = http.guard._url(path)
        expected = http.guard._url.parsed(path)  # what httpx makes of the base and the path
        assert str(built) == str(expected)
        if isinstance(built, str):  # only for paths httpx sends as written
            assert "/." not in built and " " not in built and "%" not in built
    finally:
        await http.aclose()
