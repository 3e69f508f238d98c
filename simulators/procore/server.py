"""Running the simulator under uvicorn: `serve(sim)` for tests (a free loopback port, in a
thread), `python -m simulators.procore` (behind `make procore-sim`) for a person."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from .app import create_app
from .simulator import ProcoreSimulator


@contextmanager
def serve(sim: ProcoreSimulator, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `sim` on host:port (0: a free port) in a background thread; yields the base URL
    ("http://127.0.0.1:PORT") and stops the server on leaving."""
    config = uvicorn.Config(
        create_app(sim),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Procore simulator did not start")
        time.sleep(0.01)
    try:
        bound = server.servers[0].sockets[0].getsockname()[1]  # the port uvicorn bound
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.procore",
        description="A Procore REST API simulator (test equipment, not Procore).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fixture", help="a JSON fixture (default: the one beside this module)")
    parser.add_argument("--rate-limit", type=int, help="requests per window (default 3600)")
    parser.add_argument("--rate-window", type=float, help="window in seconds (default 3600)")
    parser.add_argument("--token-ttl", type=float, help="token lifetime in seconds (default 5400)")
    args = parser.parse_args(argv)
    sim = ProcoreSimulator(
        args.fixture,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        token_ttl=args.token_ttl,
    )
    print(f"Procore simulator on http://{args.host}:{args.port} (control API under /_sim)")
    uvicorn.run(create_app(sim), host=args.host, port=args.port, log_level="info")
