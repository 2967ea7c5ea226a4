"""Fixtures for the web app: the bundled default model loaded once, a fresh app per test, rendered
line images as upload bytes, and real servers (``linescribe serve``) in subprocesses."""

from __future__ import annotations

import io
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from generated import render_line


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """As ``linescribe serve`` runs by default (--threads 1); restored after each module."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def service():
    from linescribe.web import ModelService

    return ModelService.load()


@pytest.fixture
def make_app(service):
    """create_app with the shared service; keyword arguments set the limits."""
    from linescribe.web import create_app

    return lambda **limits: create_app(service, **limits)


@pytest.fixture
def client(make_app):
    return make_app().test_client()


def _png_bytes(text: str = "the cat sat on the mat", size: int = 32) -> bytes:
    buffer = io.BytesIO()
    render_line(text, size=size).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def png() -> Callable[..., bytes]:
    """``png(text, size)``: a rendered line (tests/generated.render_line) as PNG bytes."""
    return _png_bytes


Server = tuple[subprocess.Popen, str]


@pytest.fixture(scope="module")
def start_server() -> Iterator[Callable[..., Server]]:
    """Starts ``linescribe serve --port 0 ARGS`` and returns (process, base URL) once it listens;
    servers still running at the end of the module are terminated."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> Server:
        process = subprocess.Popen(
            [sys.executable, "-m", "linescribe", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
        try:
            first = lines.get(timeout=120)
        except queue.Empty:
            pytest.fail("linescribe serve did not start within 120 s")
        found = re.search(r"http://\S+", first)
        if not found:
            process.kill()
            pytest.fail(f"linescribe serve did not start: {first}{process.stderr.read()}")
        return process, found.group(0)

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
