"""Run the sandbox alone: ``python -m pleo_erp.testing.sandbox --port 8765``.

Prints the base URL, the demo company id and an API key (a sandbox credential, valid only
against this process), then serves until interrupted. The clock follows real time, so
tokens, jobs and receipt links expire as they would at Pleo, and webhook timestamps pass a
receiver's tolerance check.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence

from pleo_erp.testing.sandbox._clock import SandboxClock
from pleo_erp.testing.sandbox._sandbox import PleoSandbox

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pleo_erp.testing.sandbox",
        description="Serve a local Pleo sandbox over HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed for ids and demo data")
    parser.add_argument("--volume", type=int, default=None, help="add a bulk job of N items")
    parser.add_argument("--no-demo", action="store_true", help="start without the demo company")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="delay every answer by this many milliseconds (models network/API latency)",
    )
    parser.add_argument(
        "--validate-responses",
        choices=("full", "sample", "off"),
        default="sample",
        help="response validation (default sample: cheap on big pages)",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stop: threading.Event | None = None,
    out: Callable[[str], None] | None = None,
) -> int:
    """Parse ``argv``, seed, serve until ``stop`` is set or Ctrl-C; return the exit code."""
    args = _parser().parse_args(argv)
    write = out or (lambda line: print(line, flush=True))
    sandbox = PleoSandbox(
        seed=args.seed,
        clock=SandboxClock.system(),
        validate_responses=args.validate_responses,
        record_requests=False,
    )
    if not args.no_demo:
        sandbox.seed_demo(volume=args.volume)
    stop_event = stop or threading.Event()
    if args.latency_ms < 0:
        _parser().error("--latency-ms must be >= 0")
    with sandbox.serve(args.host, args.port, latency=args.latency_ms / 1000) as base_url:
        write(f"Pleo sandbox listening on {base_url}")
        write(f"company id: {sandbox.demo_company_id or '(none: --no-demo)'}")
        write(f"API key: {sandbox.api_key}")
        write(f"OAuth client id: {sandbox.oauth_client_id}")
        write(f"OAuth client secret: {sandbox.oauth_client_secret}")
        try:
            while not stop_event.wait(0.5):
                pass
        except KeyboardInterrupt:
            write("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
