"""Receipt downloads: client CPU per download against a bare ``httpx.Client.get``.

A file server runs in its own process on loopback (HTTP/1.1 keep-alive) and serves a small
PDF at a long pre-signed link (an S3-style query string, like the ``files[].url`` of a Pleo
export item). In this process, ``download_file`` — the export's receipt path, with every
:class:`~pleo_erp.client.files.ReceiptPolicy` check, the deadline, the size cap, the digest
and the generated file name — fetches it ``--downloads`` times (default 2 000) through a
``PleoClient``'s ``httpx.Client``; a bare ``httpx.Client`` does the same ``GET`` and reads the
body. Rounds alternate between the two and the best round of each counts, so load from other
processes hits both alike. Reported: client CPU (``time.process_time``) and wall time per
download, and their ratios.

Run ``python benchmarks/bench_receipts.py`` (``nox -s bench`` runs it too).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.client.files import download_file

# The body: a small PDF, like the sandbox's receipts.
_PDF = b"%PDF-1.4\n" + b"0" * 2048 + b"\n%%EOF\n"

# An S3-style pre-signed query (what makes URL parsing expensive on the real links).
_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=ASIAEXAMPLEEXAMPLE12%2F20240501%2Feu-west-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20240501T100000Z&X-Amz-Expires=86400"
    "&X-Amz-Security-Token=" + "IQoJb3JpZ2luX2VjEXAMPLE%2F%2B" * 24 + "&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=" + "0123456789abcdef" * 4
)

_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = sys.stdin.buffer.read()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(_PDF)
    process.stdin.close()
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def _measure(fn: Callable[[int], None], downloads: int) -> tuple[float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(downloads):
        fn(i)
    return time.process_time() - cpu0, time.perf_counter() - wall0


def run(downloads: int = 2000, rounds: int = 5) -> dict[str, float]:
    """Best CPU and wall seconds per download for the SDK and for bare httpx."""
    process, origin = _start_server()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            httpx.Client() as bare,
            PleoClient(
                ApiKeyAuth("bench-key"), base_url=origin, requests_per_minute=None
            ) as client,
        ):
            urls = [f"{origin}/_files/{i:08d}.pdf?{_QUERY}" for i in range(downloads)]
            http = client.http_client

            def sdk(i: int) -> None:
                got = download_file(
                    urls[i],
                    Path(tmp) / f"{i}.pdf",
                    memory_limit=1024 * 1024,  # ExportConfig's default
                    http_client=http,
                    max_bytes=30 * 1024 * 1024,
                    allowed_content_types=frozenset({"application/pdf"}),
                    timeout=60.0,
                    deadline=60.0,
                )
                assert got.size == len(_PDF)

            def raw(i: int) -> None:
                response = bare.get(urls[i])
                assert len(response.read()) == len(_PDF)

            for fn in (sdk, raw):  # warm-up: connections, caches
                _measure(fn, 200)
            best: dict[str, float] = {}
            for _ in range(rounds):
                for name, fn in (("raw", raw), ("sdk", sdk)):
                    cpu, wall = _measure(fn, downloads)
                    best[f"{name}_cpu"] = min(best.get(f"{name}_cpu", cpu), cpu)
                    best[f"{name}_wall"] = min(best.get(f"{name}_wall", wall), wall)
    finally:
        process.terminate()
        process.wait(timeout=30)
    best["cpu_ratio"] = best["sdk_cpu"] / best["raw_cpu"]
    best["wall_ratio"] = best["sdk_wall"] / best["raw_wall"]
    return best


def main(argv: list[str] | None = None) -> None:
    """Print CPU and wall time per download, SDK against bare httpx."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--downloads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    r = run(args.downloads, args.rounds)
    n = args.downloads
    print(f"receipt downloads over loopback ({n} per round, best of {args.rounds} rounds)")
    for name, label in (("raw", "bare httpx.Client.get"), ("sdk", "download_file")):
        print(
            f"  {label:<22} {r[f'{name}_cpu'] / n * 1e6:7.1f} us CPU  "
            f"{r[f'{name}_wall'] / n * 1e6:7.1f} us wall  per download"
        )
    print(f"  ratio (sdk / bare): CPU {r['cpu_ratio']:.2f}x, wall {r['wall_ratio']:.2f}x")


if __name__ == "__main__":
    main()
