"""Starlette's internals, in one place: a Response made without ``Response.__init__``.

Written against Starlette 1.10 (``requirements.lock``); tests/internals checks that the answer
has exactly the headers and attributes Starlette's own ``Response`` gives it.
"""

from __future__ import annotations

from starlette.responses import Response

_CONTENT_TYPES = {
    kind: f"{kind}; charset=utf-8"
    for kind in ("application/json", "application/graphql-response+json")
}


class JSONAnswer(Response):
    """A JSON answer, its headers made directly: the same ones Starlette's ``Response(body,
    status_code=, media_type=, headers=)`` makes (``headers``, then content-length and
    content-type), without its general-purpose checks."""

    def __init__(self, body: bytes, status: int, media_type: str, headers: dict[str, str]) -> None:
        self.status_code = status
        self.media_type = _CONTENT_TYPES.get(media_type) or f"{media_type}; charset=utf-8"
        self.background = None
        self.body = body
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        raw.append((b"content-type", self.media_type.encode("latin-1")))
        self.raw_headers = raw
