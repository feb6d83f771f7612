"""jobgate.internals.redis: redis-py's URL parser and its option table still answer as used."""

from __future__ import annotations

from jobgate.internals.redis import url_problem
from tests.internals.conftest import check_version


def test_written_against_the_installed_version() -> None:
    check_version("redis", "redis")


def test_url_options_are_checked_as_redis_py_reads_them() -> None:
    assert url_problem("redis://localhost:6379/0") is None
    assert url_problem("redis://localhost:6379/0?socket_timeout=2") is None
    unknown = url_problem("redis://localhost:6379/0?no_such_option=1")
    assert unknown == "unknown connection option 'no_such_option'"
    bad = url_problem("redis://localhost:6379/0?socket_timeout=soon")
    assert bad is not None and "socket_timeout" in bad and "localhost" not in bad
