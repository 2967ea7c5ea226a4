"""The server under hostile or careless clients: concurrent oversize uploads, clients that send
slowly, and a bounded soak of mixed valid and invalid uploads (no 5xx, memory stable)."""

from __future__ import annotations

import json
import os
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from test_server import multipart, request

pytestmark = pytest.mark.slow  # servers, processes and minutes-long checks: left out of `make test-fast`

SOAK_SECONDS = float(os.environ.get("LINESCRIBE_SOAK_SECONDS", "20"))


def _resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _first_traceback(log: str) -> str:
    """The end of the first traceback in a server log (its innermost frames and the error), or
    the log's end when it has none."""
    if "Traceback" not in log:
        return log[-3000:]
    lines = log[log.find("Traceback") :].splitlines()
    end = next((number for number, line in enumerate(lines[1:], 1) if not line.startswith(" ")), len(lines) - 1)
    return "\n".join(lines[: end + 1])[-3000:]


def test_concurrent_oversize_uploads_are_all_refused_and_the_server_keeps_serving(start_server, png):
    process, url = start_server("--workers", "2", "--max-upload-mb", "0.2")
    too_big, content_type = multipart({}, [("big.png", os.urandom(300_000))])
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: request(url + "/api/v1/recognize", "POST", too_big, content_type), range(32)))
    assert {status for status, _, _ in answers} == {413}
    body, content_type = multipart({}, [("line.png", png("the cat sat"))])
    status, _, answer = request(url + "/api/v1/recognize", "POST", body, content_type)
    assert status == 200 and json.loads(answer)["text"]


def test_slow_clients_cannot_hold_all_workers(start_server, png):
    """waitress reads requests in its I/O loop and hands a worker only complete ones, so clients
    that trickle their bodies occupy no worker thread."""
    process, url = start_server("--workers", "2")
    host, port = urlsplit(url).hostname, urlsplit(url).port
    trickling = []
    for _ in range(8):  # four times the workers
        slow = socket.create_connection((host, port), timeout=30)
        slow.sendall(b"POST /api/v1/recognize HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n--b\r\n")
        trickling.append(slow)
    try:
        body, content_type = multipart({}, [("line.png", png("the cat sat"))])
        started = time.monotonic()
        status, _, answer = request(url + "/api/v1/recognize", "POST", body, content_type)
        assert status == 200 and json.loads(answer)["text"]
        assert time.monotonic() - started < 15
    finally:
        for slow in trickling:
            slow.close()


def test_soak_of_mixed_uploads_gives_no_5xx_and_stable_memory(start_server, png):
    process, url = start_server("--workers", "4", "--max-upload-mb", "1")
    good = png("a line of handwriting")
    truncated = good[: len(good) // 2]
    html_name = '<img src=x onerror=alert(1)>.png'
    cases = [
        ({}, [("line.png", good)]),
        ({"decoder": "beam"}, [("../../etc/passwd", good)]),
        ({}, [(html_name, good)]),
        ({}, [("empty.png", b"")]),
        ({}, [("cut.png", truncated)]),
        ({}, [("text.png", b"not an image at all")]),
        ({"decoder": "nonsense"}, [("line.png", good)]),
        ({}, [("big.png", os.urandom(1_100_000))]),
    ]
    bodies = [multipart(fields, files) for fields, files in cases]
    rng = random.Random(0)

    def client(deadline: float) -> list[int]:
        statuses = []
        while time.monotonic() < deadline:
            body, content_type = rng.choice(bodies)
            status, _, answer = request(url + "/api/v1/recognize", "POST", body, content_type)
            statuses.append(status)
            if status == 200:
                names = [image["name"] for image in json.loads(answer)["images"]]
                assert all("/" not in name for name in names)
        return statuses

    request(url + "/api/v1/recognize", "POST", *bodies[0])  # warm up before measuring memory
    first_half = time.monotonic() + SOAK_SECONDS / 2
    with ThreadPoolExecutor(4) as pool:
        statuses = [s for result in pool.map(client, [first_half] * 4) for s in result]
    memory_half = _resident_kib(process.pid)
    with ThreadPoolExecutor(4) as pool:
        statuses += [s for result in pool.map(client, [time.monotonic() + SOAK_SECONDS / 2] * 4) for s in result]
    memory_end = _resident_kib(process.pid)
    if any(status >= 500 for status in statuses):
        process.terminate()
        log = process.communicate(timeout=30)[1]
        pytest.fail(f"5xx answers {sorted(set(statuses))}; server log: {_first_traceback(log)}")
    assert statuses
    assert {200, 400, 413, 415, 422} <= set(statuses)
    assert memory_end < memory_half * 1.10 + 20_000  # no growth beyond noise in the second half
