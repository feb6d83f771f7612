"""GraphiQL, served whole by the gateway: the page at ``GET /graphql`` (a browser asking for
HTML) and its files under ``/graphiql/``, so that it works on a host with no internet access.

The vendor files in ``web/graphiql/`` are unmodified copies of pinned npm releases, listed with
their Subresource Integrity hashes in ``assets.json`` (``scripts/graphiql-assets`` fetches them
again and checks them). The page's tags carry those hashes, so a browser refuses a file that was
changed; ``jobgate-graphiql.js`` is the page's own script. The page's Content-Security-Policy
lets it load nothing from anywhere but the gateway.

Files are read on first request and kept (GraphiQL's script is 3.5 MB, 0.7 MB gzipped); the
gzipped form is made once, on the first request that accepts it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import importlib.resources
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSET_PATH = "graphiql/"  # relative to the page (/graphql), so it also works under a prefix
PAGE_SCRIPT = "jobgate-graphiql.js"

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}

# Everything from the gateway itself. GraphiQL and CodeMirror set style attributes, hence
# 'unsafe-inline' for styles only; 'self' covers the same origin's ws:/wss: (CSP 3).
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_ASSET_CACHE = "public, max-age=3600"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6, mtime=0)


def _folder() -> Any:
    return importlib.resources.files("jobgate.web") / "graphiql"


class GraphiQL:
    """The page and its files. Built by the app factory when ``[server] graphiql`` is on."""

    def __init__(self) -> None:
        self.manifest: dict[str, Any] = json.loads((_folder() / "assets.json").read_text())
        self.page_html = self._page()
        self.names = frozenset(
            [a["file"] for a in self.manifest["assets"]]
            + [lic["file"] for lic in self.manifest["licences"]]
            + [PAGE_SCRIPT]
        )
        self._assets: dict[str, Asset] = {}

    def _page(self) -> str:
        css, js = [], []
        for asset in self.manifest["assets"]:
            href = html.escape(ASSET_PATH + asset["file"])
            integrity = html.escape(asset["integrity"])
            if asset["file"].endswith(".css"):
                css.append(f'<link rel="stylesheet" href="{href}" integrity="{integrity}" />')
            else:
                js.append(f'<script src="{href}" integrity="{integrity}"></script>')
        template: str = (_folder() / "index.html").read_text()
        return template.replace("<!--assets:css-->", "\n    ".join(css)).replace(
            "<!--assets:js-->", "\n    ".join(js)
        )

    def page(self) -> Response:
        return HTMLResponse(self.page_html, headers=_PAGE_HEADERS)

    def asset(self, name: str) -> Asset | None:
        if name not in self.names:
            return None
        found = self._assets.get(name)
        if found is None:
            body = (_folder() / name).read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode()
            media_type = _TYPES[name[name.rfind(".") :]]
            found = self._assets[name] = Asset(body, media_type, f'"{digest}"')
        return found

    async def serve(self, request: Request) -> Response:
        """``GET /graphiql/{name}``: one of the page's files, 404 for anything else."""
        asset = self.asset(request.path_params["name"])
        if asset is None:
            return Response("Not Found", 404, media_type="text/plain")
        headers = {
            "ETag": asset.etag,
            "Cache-Control": _ASSET_CACHE,
            "X-Content-Type-Options": "nosniff",
            "Vary": "Accept-Encoding",
        }
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)
