"""GraphiQL's files come from the gateway: pinned, unmodified (each matches the integrity hash
in assets.json, which the page's tags also carry), with their licences, cacheable, gzipped for
clients that accept it, public even with [auth] on, and gone with ``[server] graphiql = false``.
(tests/e2e/test_graphiql_browser.py loads them in Chromium.)"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.resources
import json
import re
from typing import Any

import pytest

from jobgate.config import ServerSettings
from jobgate.web.ide import PAGE_SCRIPT
from tests.harness import gateway
from tests.security.support import gateway as guarded_gateway

FOLDER = importlib.resources.files("jobgate.web") / "graphiql"
MANIFEST: dict[str, Any] = json.loads((FOLDER / "assets.json").read_text())


def sri384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.mark.parametrize("asset", MANIFEST["assets"], ids=lambda a: a["file"])
def test_each_vendor_file_is_the_pinned_release_unmodified(asset: dict[str, str]) -> None:
    assert sri384((FOLDER / asset["file"]).read_bytes()) == asset["integrity"]


def test_every_package_shipped_has_its_licence() -> None:
    covered = set()
    for licence in MANIFEST["licences"]:
        text = (FOLDER / licence["file"]).read_text()
        assert "Permission is hereby granted, free of charge" in text  # MIT, all of them
        covered.update(licence.get("covers", [licence["package"]]))
    assert {asset["package"] for asset in MANIFEST["assets"]} <= covered


async def test_the_page_loads_only_the_gateways_own_files() -> None:
    async with guarded_gateway() as gw:  # [auth] on: the page and its files need no credential
        page = await gw.client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        tags = re.findall(r'(?:src|href)="([^"]+)"(?: integrity="([^"]+)")?', page.text)
        local = {url: integrity for url, integrity in tags if not url.startswith("data:")}
        assert not [url for url in local if "//" in url]  # nothing from another host
        expected = {f"graphiql/{a['file']}": a["integrity"] for a in MANIFEST["assets"]}
        assert local == {**expected, f"graphiql/{PAGE_SCRIPT}": ""}
        for url in local:
            answer = await gw.client.get("/" + url)
            assert answer.status_code == 200, url
            assert answer.headers["x-content-type-options"] == "nosniff"


async def test_files_are_gzipped_cached_and_nothing_else_is_served() -> None:
    async with gateway() as gw:
        plain = await gw.client.get("/graphiql/graphiql.min.js", headers={"accept-encoding": ""})
        assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
        assert plain.content == (FOLDER / "graphiql.min.js").read_bytes()
        assert "content-encoding" not in plain.headers
        raw = await gw.client.send(
            gw.client.build_request(
                "GET", "/graphiql/graphiql.min.js", headers={"accept-encoding": "gzip"}
            ),
            stream=True,
        )
        assert raw.headers["content-encoding"] == "gzip"
        wire = b"".join([chunk async for chunk in raw.aiter_raw()])
        assert len(wire) < len(plain.content) / 3
        assert gzip.decompress(wire) == plain.content
        etag = plain.headers["etag"]
        again = await gw.client.get("/graphiql/graphiql.min.js", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        css = await gw.client.get("/graphiql/graphiql.min.css")
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        for name in ("assets.json", "index.html", "..%2F..%2Fapp.py", "../ide.py", "nope.js"):
            answer = await gw.client.get(f"/graphiql/{name}")
            assert answer.status_code == 404, name


async def test_no_graphiql_no_files() -> None:
    async with gateway(server=ServerSettings(graphiql=False)) as gw:
        assert (await gw.client.get("/graphiql/graphiql.min.js")).status_code == 404
        page = await gw.client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
