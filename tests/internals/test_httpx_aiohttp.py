"""jobgate.internals.httpx_aiohttp: the transport's aiohttp session is made once, on first use."""

from __future__ import annotations

import aiohttp

from jobgate.internals.httpx_aiohttp import SessionTransport
from tests.internals.conftest import check_version


def test_written_against_the_installed_version() -> None:
    check_version("httpx-aiohttp", "httpx_aiohttp")


async def test_the_session_is_made_from_the_factory_once() -> None:
    made: list[aiohttp.ClientSession] = []

    def factory() -> aiohttp.ClientSession:
        made.append(aiohttp.ClientSession())
        return made[-1]

    transport = SessionTransport(client=factory)
    try:
        first = transport.session()
        assert transport.session() is first and made == [first]
    finally:
        await transport.aclose()
    assert first.closed, "the parent's aclose closes the session it made"
