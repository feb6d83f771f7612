"""redis-py's internals, in one place: how it reads a ``redis://`` URL's options.

Written against redis-py 8.1 (``requirements.lock``); tests/internals checks ``parse_url`` and
its table of query options against the installed version.
"""

from __future__ import annotations

from collections.abc import Callable

# What redis-py's URL parser may answer besides the query options it knows.
_URL_PARTS = frozenset({"host", "port", "db", "username", "password", "path", "connection_class"})


def url_problem(url: str) -> str | None:
    """What redis-py would only trip over when it first connects: a bad or unknown option in
    the URL's query, in words that never repeat the URL (it may hold a password)."""
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url

    parse: Callable[[str], dict[str, object]] = parse_url  # redis-py leaves it unannotated
    try:
        parsed = parse(url)
    except ValueError as exc:  # redis-py's message names the option, never the URL
        return str(exc)
    unknown = sorted(set(parsed) - _URL_PARTS - set(URL_QUERY_ARGUMENT_PARSERS))
    return f"unknown connection option {unknown[0]!r}" if unknown else None
