"""CSRF prevention in the manner of Apollo Router: refuse what a browser sends without preflight.

A page on another site can make a browser send a GET, or a POST whose Content-Type is
``text/plain``, ``application/x-www-form-urlencoded`` or ``multipart/form-data``, without asking
the server first (no CORS preflight). Such a request is refused unless it carries a header that
no browser adds on its own, which forces a preflight when set cross-site:
``apollo-require-preflight``, ``x-apollo-operation-name``, the configured ``csrf_header``
(``x-jobgate-csrf``), or a credential (``x-api-key``, ``Authorization: Bearer ...``): browsers
attach cookies and Basic credentials by themselves, never a bearer token or an API key.
"""

from __future__ import annotations

from starlette.datastructures import Headers

SIMPLE_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
APOLLO_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")

MESSAGE = (
    "This request has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Send it as a POST with Content-Type: application/json, or add a non-empty "
    "'{header}' header (or 'apollo-require-preflight', or your credential)."
)


def needs_preflight_header(method: str, headers: Headers) -> bool:
    """Whether a browser could have sent this request cross-site without a preflight."""
    if method != "POST":
        return True  # GET (and HEAD) never carry a Content-Type that forces a preflight
    content_type = headers.get("content-type")
    if content_type is None:
        return True
    essence = content_type.split(";", 1)[0].strip().lower()
    return essence in SIMPLE_CONTENT_TYPES


def has_preflight_header(headers: Headers, csrf_header: str) -> bool:
    for name in (*APOLLO_HEADERS, csrf_header.lower(), "x-api-key"):
        if headers.get(name, "").strip():
            return True
    scheme = headers.get("authorization", "").strip().partition(" ")[0]
    return scheme.lower() == "bearer"


def csrf_refusal(method: str, headers: Headers, csrf_header: str) -> str | None:
    """The refusal message, or None when the request is safe to run."""
    if needs_preflight_header(method, headers) and not has_preflight_header(headers, csrf_header):
        return MESSAGE.format(header=csrf_header)
    return None
