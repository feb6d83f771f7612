"""The upstream attempts one piece of work made, for the audit trail (``jobgate.audit``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# (source, method, path, status) of each attempt while a collection is open.
Attempt = tuple[str, str, str, str]
attempts_var: ContextVar[list[Attempt] | None] = ContextVar("jobgate_attempts", default=None)


def note_attempt(source: str, method: str, path: str, status: int | str) -> None:
    """Called by the guard for every attempt; kept only while a collection is open."""
    found = attempts_var.get()
    if found is not None:
        found.append((source, method, path, str(status)))


@contextmanager
def attempts() -> Iterator[list[Attempt]]:
    """Collect the upstream attempts made inside (tasks started inside share the list)."""
    found: list[Attempt] = []
    token = attempts_var.set(found)
    try:
        yield found
    finally:
        attempts_var.reset(token)
