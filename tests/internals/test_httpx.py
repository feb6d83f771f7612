"""jobgate.internals.httpx: the direct dispatch sends what ``client.request`` would, and the
client keeps no cookies."""

from __future__ import annotations

import httpx

from jobgate.internals.httpx import UpstreamClient, whole_response
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


async def test_a_whole_response_is_what_reading_the_body_would_give() -> None:
    """whole_response sets Response._content (what Response.read() keeps) by hand."""
    headers = [(b"Content-Type", b"application/json; charset=utf-8"), (b"X-A", b"1")]
    body = '{"name": "Zoë"}'.encode()
    made = whole_response(404, "Gone", [(k, k.lower(), v) for k, v in headers], body)
    read = httpx.Response(404, headers=headers, stream=httpx.ByteStream(body))
    await read.aread()
    for response in (made, read):
        assert response.status_code == 404 and response.is_error
        assert response.content == body and response.text == '{"name": "Zoë"}'
        assert response.json() == {"name": "Zoë"} and response.headers["x-a"] == "1"
        assert response.is_closed and response.is_stream_consumed
        assert await response.aread() == body  # reading again is harmless
    assert made.reason_phrase == "Gone"
    assert made.headers.raw == read.headers.raw and made.headers == read.headers
    assert made.headers.get_list("content-type") == ["application/json; charset=utf-8"]
