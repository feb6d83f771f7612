"""httpx-aiohttp's internals, in one place: the aiohttp session inside its transport.

Written against httpx-aiohttp 0.2 (``requirements.lock``): ``AiohttpTransport`` keeps the
``client=`` it was given (a session, or a callable that makes one) in ``self.client`` and makes
the session on first use with ``get_client()``. tests/internals checks that against the
installed version.
"""

from __future__ import annotations

import aiohttp
from httpx_aiohttp import AiohttpTransport


class SessionTransport(AiohttpTransport):
    """httpx-aiohttp's transport, whose subclasses send with the aiohttp session themselves."""

    def session(self) -> aiohttp.ClientSession:
        """The transport's aiohttp session, made on first use (inside the running loop)."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client
