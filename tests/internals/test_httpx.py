"""jobgate.internals.httpx: the direct dispatch sends what ``client.request`` would, and the
client keeps no cookies."""

from __future__ import annotations

import httpx

from jobgate.internals.httpx import UpstreamClient
from tests.internals.conftest import check_version


def test_written_against_the_installed_version() -> None:
    check_version("httpx", "httpx")


async def test_direct_dispatch_sends_what_the_client_would() -> None:
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True}, headers={"set-cookie": "s=1; Path=/"})

    options = {
        "base_url": "http://up.test/base",
        "headers": {"Customer-Id": "7"},
        "timeout": httpx.Timeout(4.0, connect=1.0),
    }
    client = UpstreamClient(transport=httpx.MockTransport(upstream), **options)
    plain = httpx.AsyncClient(transport=httpx.MockTransport(upstream), **options)
    body, headers = b'{"a":1}', {"Authorization": "Bearer t", "Content-Type": "application/json"}
    try:
        url = httpx.URL("http://up.test/base/jobs/1")
        direct = await client.dispatch("PUT", url, content=body, headers=headers)
        await plain.request("PUT", "/jobs/1", content=body, headers=headers)
        await client.dispatch("GET", url, headers={})
    finally:
        await client.aclose()
        await plain.aclose()
    ours, theirs, again = seen
    assert direct.json() == {"ok": True} and direct.request is ours
    assert (ours.method, ours.url, ours.content) == (theirs.method, theirs.url, theirs.content)
    assert dict(ours.headers) == dict(theirs.headers)
    assert ours.extensions == theirs.extensions
    assert "cookie" not in again.headers, "a cookie the upstream set is never sent back"
    assert not client.cookies
