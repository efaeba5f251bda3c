"""Serve a sandbox fake over loopback HTTP in its own process (benchmarks, rehearsals).

``python -m hub.sandbox.serve TOOL --people N`` seeds the fake with the demo customers that fall
in TOOL, listens on 127.0.0.1 (a free port unless ``--port``), prints ``{"port": P}`` and serves
until killed. Besides the vendor's API it answers a small control API under ``/__sandbox/``:
``POST /__sandbox/edit {"fraction": 0.01, "seed": 1}`` changes that share of people as a user
would, ``POST /__sandbox/advance {"seconds": S}`` moves the fake's clock on, ``GET /__sandbox/stats``
counts the requests served per path.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from hub import plugins
from hub.sandbox import demo_data

# edits that other tools hold too, so they travel: a reading corrected in HubSpot, a lifecycle
# stage moved in Zendesk
EDITS = {
    "hubspot": ("contacts", lambda rng: {"firstname_kana": rng.choice(["ハナコ", "タロウ", "ケンジ", "ユミ", "サクラ"])}),
    "zendesk": ("users", lambda rng: {"user_fields": {"lifecycle": rng.choice(["lead", "customer"])}}),
}


def listen(port: int = 0) -> socket.socket:
    """A TCP socket bound on 127.0.0.1.

    Created with ``IPPROTO_TCP`` so that asyncio sets ``TCP_NODELAY`` on the connections it
    accepts (it does only when the protocol says TCP): uvicorn writes a response's head and body
    separately, and Nagle's algorithm meeting the client's delayed ACK would hold every body
    back ~40 ms.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", port))
    return sock


@contextmanager
def serve_in_thread(app: Any, *, lifespan: str = "on") -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yields its URL."""
    sock = listen()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def control_app(fake: Any) -> Any:
    """The fake's ASGI app plus the control API."""
    inner = fake.asgi()
    counts: Counter[str] = Counter()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/__sandbox/"):
            if scope["type"] == "http":
                counts[f"{scope['method']} {scope['path']}"] += 1
            await inner(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        args = json.loads(body or b"{}")
        if scope["path"] == "/__sandbox/edit":
            out = edit(fake, float(args.get("fraction", 0.01)), int(args.get("seed", 1)))
        elif scope["path"] == "/__sandbox/advance":
            fake.advance_clock(float(args.get("seconds", 0)))
            out = {"advanced": args.get("seconds", 0)}
        else:
            out = {"requests": dict(counts), "total": sum(counts.values())}
        payload = json.dumps(out).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    return app


def edit(fake: Any, fraction: float, seed: int) -> dict[str, Any]:
    """Change ``fraction`` of the people in the fake the way a user of the tool would."""
    stream, change = EDITS[fake.name]
    ids = [str(r["id"]) for r in fake.records(stream)]
    rng = random.Random(seed)
    picked = rng.sample(ids, max(1, int(len(ids) * fraction)))
    for rid in picked:
        fake.update(stream, rid, change(rng))
    return {"edited": len(picked), "stream": stream}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tool", choices=sorted(EDITS))
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-tickets", action="store_true")
    ap.add_argument(
        "--until-stdin-closes", action="store_true", help="exit when standard input closes (the parent process ended)"
    )
    args = ap.parse_args(argv)
    if args.until_stdin_closes:
        # a benchmark that dies must not leave its fakes (gigabytes at 1M people) behind
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    fake = plugins.default().sandbox(args.tool)()
    data = demo_data.generate(args.people, seed=args.seed)
    if args.no_tickets:
        data.zendesk_tickets.clear()
    demo_data.seed_one(data, args.tool, fake)
    sock = listen(args.port)
    port = sock.getsockname()[1]
    print(json.dumps({"port": port, "records": {s: len(fake.table(s)) for s in fake.streams}}), flush=True)
    config = uvicorn.Config(control_app(fake), log_level="warning", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
