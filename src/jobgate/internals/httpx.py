"""httpx's internals, in one place: the client every source uses, with no cookies and a short
path for plain requests.

Written against httpx 0.28 (``requirements.lock``); tests/internals checks the internals used
here (the cookie jar a client consults, the request ``client.send`` would build) against the
installed version.

``httpx.AsyncClient.send`` runs an auth flow, redirect handling, event hooks, cookie merging
and an elapsed-time stream wrapper around every request: ~35 µs a call, a quarter of a job
read's cost in the benchmark. jobgate's clients add nothing but fixed headers (tokens are
signed in by the channel, ``credentials.py``), so ``UpstreamClient.dispatch`` builds the same
``httpx.Request`` itself and hands it straight to the transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing and sends nothing."""

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class UpstreamClient(httpx.AsyncClient):
    """An httpx client that keeps no cookies and sends plain requests straight to its transport.

    Every vendor here authenticates with headers; a cookie one caller's request received must
    not ride along on another caller's. It is also cheaper: httpx runs ``http.cookiejar`` on
    every response (~14 µs a call).
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self._direct = transport
        self._fixed_extensions = {"timeout": self.timeout.as_dict()}
        self.rebase(str(self.base_url))

    def rebase(self, base_url: str) -> None:
        """Send to ``base_url`` from now on (what client.send would add to every request is
        worked out once per base: the Host header from it, the client's own headers)."""
        self.base_url = httpx.URL(base_url)
        self._fixed_headers = httpx.Headers({"host": self.base_url.netloc.decode("ascii")})
        self._fixed_headers.update(self.headers)

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None

    async def dispatch(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        """Send one request and read its whole answer, as ``client.request`` would."""
        if params:
            return await self.request(method, url, params=params, content=content, headers=headers)
        # Copying ready Headers skips normalising every fixed header again (~10 µs a call).
        request = httpx.Request(
            method, url, headers=self._fixed_headers, content=content,
            extensions=self._fixed_extensions,
        )  # fmt: skip
        for name, value in headers.items():
            request.headers[name] = value
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response
