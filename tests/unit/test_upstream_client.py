"""The upstream client keeps no cookies: one caller's upstream session never reaches another."""

from __future__ import annotations

import httpx

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
