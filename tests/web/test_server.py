"""``linescribe serve`` as a real process: waitress on a free port, limits at the socket, and a
graceful stop on SIGTERM that finishes the request in progress."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import urlsplit

import pytest
from waitress import wasyncore

from linescribe.web import server

pytestmark = pytest.mark.slow  # servers, processes and minutes-long checks: left out of `make test-fast`

SIGNAL_AFTER_S = 0.15


def multipart(fields: dict[str, str], images: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "linescribe-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for filename, data in images:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def request(
    url: str, method: str = "GET", body: bytes | None = None, content_type: str = ""
) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request(method, parts.path, body=body, headers={"Content-Type": content_type} if content_type else {})
    response = connection.getresponse()
    answer = response.status, dict(response.getheaders()), response.read()
    connection.close()
    return answer


def test_serves_on_loopback_and_stops_gracefully_on_sigterm(start_server, png):
    process, url = start_server("--workers", "2")
    assert url.startswith("http://127.0.0.1:")
    status, headers, body = request(url + "/healthz")
    assert status == 200 and json.loads(body)["model"] == "default"
    assert headers["Server"] == "linescribe"

    images = [(f"{i}.png", png("the quick brown fox jumps")) for i in range(24)]
    body, content_type = multipart({"decoder": "beam_lm", "beam_width": "64"}, images)
    answers: list[tuple[int, dict, bytes]] = []
    slow = threading.Thread(
        target=lambda: answers.append(request(url + "/api/v1/recognize", "POST", body, content_type))
    )
    slow.start()
    time.sleep(SIGNAL_AFTER_S)
    process.send_signal(signal.SIGTERM)
    slow.join(timeout=60)
    assert process.wait(timeout=60) == 0
    status, _, answer = answers[0]
    assert status == 200 and len(json.loads(answer)["images"]) == 24
    # it ran longer than the time between sending it and SIGTERM, so it was in progress then
    assert json.loads(answer)["timing"]["total_ms"] > SIGNAL_AFTER_S * 1000
    assert "stopped" in process.stdout.read()
    assert "SIGTERM: finishing the requests in progress" in process.stderr.read()


LARGE_ANSWER = 8_000_000
LARGE_ANSWER_SERVER = f"""
import time
from flask import Flask
from linescribe.web.server import addresses, make_server, serve_until_stopped
app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 1000
@app.get("/large")
def large():
    time.sleep(0.5)
    return "x" * {LARGE_ANSWER}
server = make_server(app, "127.0.0.1", 0, 2)
print(addresses(server)[0], flush=True)
serve_until_stopped(server, grace_s=20)
print("stopped", flush=True)
"""


def test_an_answer_larger_than_the_socket_buffers_reaches_a_slow_client_after_sigterm():
    """Regression: waitress's loop, which sends what the threads answer, stopped with the signal;
    a client that read after the request had finished got 2.8 MB of a 5 MB answer."""
    process = subprocess.Popen([sys.executable, "-c", LARGE_ANSWER_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline().strip().rsplit(":", 1)[1])
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a slow reader: little room in flight
        client.connect(("127.0.0.1", port))
        client.sendall(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(ConnectionRefusedError):  # no new connections once stopping
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        time.sleep(0.5)  # read only once the request has finished
        client.settimeout(20)
        received = bytearray()
        while chunk := client.recv(1 << 20):
            received += chunk
        client.close()
        head, _, body = bytes(received).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and len(body) == LARGE_ANSWER
        assert process.wait(timeout=30) == 0 and process.stdout.read().strip() == "stopped"
    finally:
        process.kill()
        process.wait()


def test_bodies_far_over_the_limit_are_refused_before_they_are_read(start_server):
    _, url = start_server("--max-upload-mb", "0.1")
    status, _, body = request(url + "/api/v1/recognize", "POST", b"x" * 150_000, "multipart/form-data; boundary=x")
    assert status == 413 and json.loads(body)["error"].startswith("the request is too large")
    huge = urllib.request.Request(
        url + "/api/v1/recognize", method="POST", headers={"Content-Length": str(10**9), "Content-Type": "image/png"}
    )
    try:
        urllib.request.urlopen(huge, timeout=30)
    except urllib.error.HTTPError as refused:
        assert refused.code == 413
    else:
        raise AssertionError("a 1 GB body was accepted")


def test_a_stop_signal_during_a_connection_handler_is_not_swallowed():
    """waitress's loop logs and ignores exceptions raised while it handles a connection, except
    its ExitNow: a SIGTERM arriving then must still stop the server."""

    class ReadingConnection:
        def handle_read_event(self) -> None:
            server._stop(signal.SIGTERM, None)  # as if the signal arrived now

        def handle_error(self) -> None:
            raise AssertionError("the stop was handled as a connection error")

    with pytest.raises(server._Stop):
        wasyncore.read(ReadingConnection())


def test_serves_with_the_onnxruntime_backend(start_server, png):
    """Also: decoder flags serve the requests whose decoder takes them, whatever the default
    decoder (--lm and --beam-width were refused without --decoder beam_lm)."""
    process, url = start_server("--backend", "onnx", "--workers", "2", "--lm", "french", "--beam-width", "4")
    body, content_type = multipart({}, [("line.png", png("the cat sat on the mat"))])
    status, _, answer = request(url + "/api/v1/recognize", "POST", body, content_type)
    assert status == 200 and json.loads(answer)["text"] and json.loads(answer)["options"]["decoder"] == "greedy"
    body, content_type = multipart({"decoder": "beam_lm"}, [("line.png", png("the cat sat on the mat"))])
    status, _, answer = request(url + "/api/v1/recognize", "POST", body, content_type)
    assert status == 200 and json.loads(answer)["options"] == {"decoder": "beam_lm", "beam_width": 4, "spell": False, "layout": "line"}


def test_a_port_in_use_or_an_unknown_host_is_a_one_line_error(make_app):
    from linescribe.errors import LinescribeError
    from linescribe.web.server import make_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LinescribeError, match=f"cannot listen on 127.0.0.1:{port} \\(Address already in use\\)"):
            make_server(make_app(), "127.0.0.1", port)
    with pytest.raises(LinescribeError, match="cannot listen on no.such.host.invalid:0 \\(unknown host\\)"):
        make_server(make_app(), "no.such.host.invalid", 0)
