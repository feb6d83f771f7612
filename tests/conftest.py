from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests import harness


@pytest.fixture
async def gw() -> AsyncIterator[harness.Gateway]:
    """The gateway over every simulator, seeded with the demo jobs."""
    async with harness.gateway() as running:
        yield running
