"""jobgate.internals.starlette: an answer made without Response.__init__ is Starlette's own."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from jobgate.internals.starlette import JSONAnswer
from tests.internals.conftest import check_version

JSON = "application/json"


def test_written_against_the_installed_version() -> None:
    check_version("starlette", "starlette")


def test_json_answer_has_the_headers_starlette_would_make() -> None:
    body = orjson.dumps({"data": {"__typename": "Query"}})
    for status, media_type, headers in [
        (200, JSON, {"X-Request-Id": "r-1"}),
        (400, "application/graphql-response+json", {"X-Request-Id": "r-2"}),
        (405, JSON, {"Allow": "GET, POST", "X-Request-Id": "r-3"}),
    ]:
        ours = JSONAnswer(body, status, media_type, headers)
        theirs = Response(
            body, status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers
        )
        assert ours.raw_headers == theirs.raw_headers
        assert (ours.status_code, ours.body, ours.background) == (status, body, None)
        assert ours.headers["content-type"] == f"{media_type}; charset=utf-8"
        # Every attribute Starlette's own constructor sets, set here too.
        missing = set(vars(theirs)) - set(vars(ours)) - {"_headers"}
        assert not missing, f"Starlette's Response now sets {missing}: see internals/starlette.py"
