"""GraphiQL in a real browser with no network: headless Chromium (Debian's package, driven by
Playwright's Python client; no browser download) loads ``/graphql`` from a real ``jobgate
serve``, with every request to anywhere but the gateway refused, runs the README's first query
through the editor and reads the result pane; and, with ``[auth]`` on, runs a subscription with
the credential typed into the Headers pane (GraphiQL sends it as the WebSocket's
``connection_init`` payload).

``scripts/test`` installs Debian's ``chromium`` when it runs as root; elsewhere, without a
Chromium, these tests are skipped and say why.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_processes import DEMO_JOB, free_port, running, simulated_upstreams

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt install chromium)")

README = Path(__file__).resolve().parents[2] / "README.md"
# What the probe of this machine kind found Chromium needs on a closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".graphiql-response .CodeMirror"
KEY = "graphiql-browser-test-key-0123456789"


def readme_query() -> str:
    """The README's first GraphQL example (the one under "Try it in GraphiQL")."""
    found = re.search(r"```graphql\n(.*?)```", README.read_text(), re.S)
    assert found is not None
    return found.group(1)


class Browser:
    """One page, with every request that is not to ``origin`` refused and recorded."""

    def __init__(self, page: Any, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.refused: list[str] = []
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None,
        )

    def route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")

    def open(self) -> None:
        self.page.goto(self.origin + "/graphql")
        self.page.wait_for_selector(EDITOR, timeout=30_000)

    def set_editor(self, selector: str, text: str) -> None:
        self.page.evaluate(
            "([selector, text]) => document.querySelector(selector).CodeMirror.setValue(text)",
            [selector, text],
        )

    def run(self, query: str, until: str) -> dict[str, Any]:
        """Run ``query`` with the play button; the result pane's JSON once it holds ``until``."""
        self.set_editor(EDITOR, query)
        # GraphiQL parses the editor's text a moment after it changes (debounced); only then
        # does it know that a document is a subscription, and send it over its WebSocket.
        self.page.wait_for_timeout(600)
        self.page.click(".graphiql-execute-button")
        self.page.wait_for_function(
            """([selector, text]) => {
                const pane = document.querySelector(selector);
                return pane !== null && pane.CodeMirror.getValue().includes(text);
            }""",
            arg=[RESULT, until],
            timeout=30_000,
        )
        text = self.page.evaluate(
            "selector => document.querySelector(selector).CodeMirror.getValue()", RESULT
        )
        result: dict[str, Any] = json.loads(text)
        return result


@pytest.fixture
def chromium() -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(chromium: Any, origin: str) -> Browser:
    context = chromium.new_context()
    page = Browser(context.new_page(), origin)
    context.route("**/*", page.route)
    page.open()
    return page


def test_graphiql_runs_the_readme_query_with_no_network(tmp_path: Path, chromium: Any) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with running(tmp_path, "serve", "--port", str(port)) as process:
        process.wait_until_up(origin)
        page = open_page(chromium, origin)
        # The page's tags carry each file's integrity hash: a changed file would not run.
        assert page.page.locator("script[integrity]").count() == 4
        result = page.run(readme_query(), until='"jobs"')
    jobs = result["data"]["jobs"]
    assert [job and job["id"] for job in jobs] == [
        "hub:6161", "field:1009", "ingest:7505e000001NLkPAAW", "gis:j3Rw7", None,
    ]  # fmt: skip
    assert {job["provider"] for job in jobs[:4]} == {
        "CONTENT_HUB", "BIGCHANGE", "DATA_CLOUD", "WORKFLOW_MANAGER",
    }  # fmt: skip
    assert jobs[1]["details"]["__typename"] == "BigChangeJobDetails"
    assert page.refused == []  # it asked for nothing outside the gateway
    assert page.problems == []


def test_graphiql_subscribes_with_the_headers_pane_credential(
    tmp_path: Path, chromium: Any
) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with simulated_upstreams(tmp_path) as config:
        config.write_text(
            config.read_text()
            + f'\n[[auth.api_keys]]\nname = "browser"\nkey = "{KEY}"\n'
            + 'scopes = ["jobs:read"]\n'
        )
        with running(tmp_path, "serve", "--config", str(config), "--port", str(port)) as gw:
            gw.wait_until_up(origin)
            page = open_page(chromium, origin)
            refused = page.run("{ sources { name } }", until="UNAUTHENTICATED")
            assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            page.page.get_by_text("Headers", exact=True).click()
            page.set_editor(HEADERS_EDITOR, json.dumps({"x-api-key": KEY}))
            watch = f'subscription {{ jobUpdated(ids: ["{DEMO_JOB}"]) {{ id job {{ status }} }} }}'
            update = page.run(watch, until=DEMO_JOB)
    assert update == {"data": {"jobUpdated": {"id": DEMO_JOB, "job": {"status": "OPEN"}}}}
    assert page.refused == []
    # The refused query is the one error the console saw (GraphiQL logs nothing for it).
    assert [p for p in page.problems if "401" not in p] == []
