"""Every test here runs twice: on asyncio's own loop and on uvloop, which ``jobgate serve``
runs on (their transports differ: uvloop's is no ``asyncio.Transport`` subclass, calls
``connection_made`` a turn later, and its ``create_connection`` takes fewer options)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], Any]]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
