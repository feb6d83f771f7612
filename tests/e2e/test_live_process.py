"""jobUpdated against the real `jobgate serve`: a WebSocket and an SSE client watch jobs; a
mutation's change reaches both; a stop signal completes both streams and the process exits."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path

import httpx
import orjson
import websockets

from tests.e2e.test_processes import DEMO_JOB, free_port, running
from tests.live.support import WATCH


def test_websocket_and_sse_clients_follow_jobs_and_complete_on_shutdown(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(tmp_path, "serve", "--port", str(port)) as process:
        process.wait_until_up(base)
        sse_lines: list[str] = []
        sse_open = threading.Event()

        def follow_sse() -> None:
            body = {"query": WATCH, "variables": {"ids": [DEMO_JOB]}}
            headers = {"accept": "text/event-stream"}
            with httpx.stream(
                "POST", base + "/graphql", json=body, headers=headers, timeout=30
            ) as r:
                for line in r.iter_lines():
                    sse_lines.append(line)
                    sse_open.set()

        reader = threading.Thread(target=follow_sse, daemon=True)
        reader.start()
        assert sse_open.wait(10), process.output()

        async def over_websocket() -> list[dict[str, object]]:
            url = f"ws://127.0.0.1:{port}/graphql"
            seen: list[dict[str, object]] = []
            async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send('{"type":"connection_init"}')
                assert orjson.loads(await ws.recv())["type"] == "connection_ack"
                payload = {"query": WATCH, "variables": {"ids": [DEMO_JOB]}}
                await ws.send(orjson.dumps({"type": "subscribe", "id": "w", "payload": payload}))
                seen.append(orjson.loads(await asyncio.wait_for(ws.recv(), 10)))
                close = f'mutation {{ closeJob(id: "{DEMO_JOB}") {{ job {{ status }} }} }}'
                mutation = {"query": close}
                async with httpx.AsyncClient(timeout=10) as client:
                    (await client.post(base + "/graphql", json=mutation)).raise_for_status()
                seen.append(orjson.loads(await asyncio.wait_for(ws.recv(), 5)))
                process.popen.send_signal(signal.SIGTERM)
                try:
                    while True:
                        seen.append(orjson.loads(await asyncio.wait_for(ws.recv(), 10)))
                except websockets.ConnectionClosed as closed:
                    seen.append({"closed": closed.rcvd.code if closed.rcvd else None})
            return seen

        seen = asyncio.run(over_websocket())
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert process.popen.wait(timeout=15) in (0, -signal.SIGTERM)
        reader.join(timeout=10)
    states = [
        m["payload"]["data"]["jobUpdated"]["job"]["providerStatus"]  # type: ignore[index]
        for m in seen
        if m.get("type") == "next"
    ]
    assert states == ["Open", "UploadComplete"]
    assert {"type": "complete", "id": "w"} in seen
    assert seen[-1] == {"closed": 1001}  # going away, after the operation completed
    text = "\n".join(sse_lines)
    assert '"providerStatus":"Open"' in text and '"providerStatus":"UploadComplete"' in text
    assert "event: complete" in text
