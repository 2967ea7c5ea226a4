"""Load test of ``linescribe serve``: N concurrent clients on loopback, each for a bounded time.

    python benchmarks/serve_load.py [--clients 1 4 16] [--seconds 10] [--workers 4] [--threads 1]
                                    [--decoder greedy] [--model default] [--images examples/lines]

The server runs in a subprocess (``python -m linescribe serve --port 0``), so it does not share a
GIL with the clients. Each client keeps one HTTP/1.1 connection open and posts one line image
after another, going round the PNG files of ``--images`` (by default the 6 bundled sample
lines: synthetic handwriting, 770-2100 x 96 pixels). Before each level every client sends one
request that is not counted. Prints, per level: requests, requests/s, p50/p95/p99 latency (ms)
and errors (answers other than 200, or failed connections; must be 0). The clients run on the
same machine as the server and take some of its CPU: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import http.client
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = "serve-load-boundary"


def multipart_body(image: Path, decoder: str) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="decoder"\r\n\r\n{decoder}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{image.name}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image.read_bytes()
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "linescribe",
        "serve",
        "--port",
        "0",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
    ]
    if args.model:
        command += ["--model", args.model]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    found = re.search(r"http://\S+", server.stdout.readline())
    if not found:
        server.kill()
        sys.exit("serve_load: the server did not start")
    return server, found.group(0)


class Client(threading.Thread):
    """Posts the bodies in turn on one keep-alive connection until ``deadline``."""

    def __init__(
        self, url: str, bodies: list[bytes], offset: int, start: threading.Barrier, deadline: list[float]
    ) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.bodies, self.offset, self.start_together, self.deadline = bodies, offset, start, deadline
        self.latencies: list[float] = []
        self.errors = 0
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> bool:
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.connection.request(
                "POST", "/api/v1/recognize", body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
            )
            response = self.connection.getresponse()
            response.read()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            self.connection = None
            return False

    def run(self) -> None:
        self.post(self.bodies[self.offset % len(self.bodies)])  # warm-up, not counted
        self.start_together.wait()
        sent = self.offset
        while time.perf_counter() < self.deadline[0]:
            started = time.perf_counter()
            ok = self.post(self.bodies[sent % len(self.bodies)])
            self.latencies.append(time.perf_counter() - started)
            self.errors += not ok
            sent += 1
        if self.connection is not None:
            self.connection.close()


def run_level(url: str, bodies: list[bytes], clients: int, seconds: float) -> dict[str, float]:
    deadline = [0.0]
    start = threading.Barrier(clients + 1, action=lambda: deadline.__setitem__(0, time.perf_counter() + seconds))
    workers = [Client(url, bodies, offset, start, deadline) for offset in range(clients)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    latencies = np.array([value for worker in workers for value in worker.latencies]) * 1000
    p50, p95, p99 = np.percentile(latencies, (50, 95, 99))
    return {
        "requests": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "errors": sum(worker.errors for worker in workers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16], help="concurrent clients, one level each")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each level")
    parser.add_argument("--workers", type=int, default=4, help="server worker threads (serve --workers)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per request (serve --threads)")
    parser.add_argument("--decoder", default="greedy")
    parser.add_argument("--model", help="model file or bundled name (default: the default model)")
    parser.add_argument("--images", type=Path, default=ROOT / "examples" / "lines", help="folder of PNG line images")
    args = parser.parse_args()
    images = sorted(args.images.glob("*.png"))
    if not images:
        sys.exit(f"serve_load: no PNG images in {args.images}")
    bodies = [multipart_body(image, args.decoder) for image in images]
    server, url = start_server(args)
    try:
        print(
            f"{len(images)} line images from {args.images}; decoder {args.decoder}; server: {args.workers} workers, "
            f"{args.threads} torch thread(s) per request; {args.seconds:g} s per level"
        )
        print("| clients | requests | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors |")
        print("|---|---|---|---|---|---|---|")
        failed = 0
        for clients in args.clients:
            level = run_level(url, bodies, clients, args.seconds)
            failed += level["errors"]
            print(
                f"| {clients} | {level['requests']} | {level['rate']:.1f} | {level['p50']:.0f} | {level['p95']:.0f} | "
                f"{level['p99']:.0f} | {level['errors']} |",
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            stopped = server.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            server.kill()
            stopped = False
    if failed:
        sys.exit(f"serve_load: {failed} requests failed")
    if not stopped:
        sys.exit("serve_load: the server did not stop cleanly on SIGTERM")


if __name__ == "__main__":
    main()
