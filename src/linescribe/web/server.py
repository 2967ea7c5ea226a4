"""Running the app under waitress, a production WSGI server (pure Python, threads, no fork).

Uploads stay in memory here too: waitress buffers request bodies over 512 KB in a temporary
file unless told otherwise. Bodies well over the app's limit are refused by waitress from their
Content-Length, before they are read, so a client cannot make the server buffer a gigabyte.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

from flask import Flask
from waitress import create_server, wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.wasyncore import ExitNow

from linescribe.errors import LinescribeError

log = logging.getLogger(__name__)

GRACE_SECONDS = 30.0
"""How long a stopping server waits for the requests in progress."""

LOOP_TIMEOUT = 0.1
"""Seconds a stopping server's loop waits for its sockets before it looks again whether the
requests are done (a thread that finishes does not wake it)."""

BODY_MARGIN = 1_000_000
"""Bytes over MAX_CONTENT_LENGTH that waitress still reads, so that a body slightly too large
gets the app's JSON answer; larger ones get waitress's plain-text 413."""


def make_server(
    app: Flask, host: str = "127.0.0.1", port: int = 8000, workers: int = 4
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server for ``app`` on host:port (port 0: a free one) with ``workers`` threads;
    it listens at once, ``run()`` serves."""
    max_body = app.config["MAX_CONTENT_LENGTH"] + BODY_MARGIN
    try:
        return create_server(
            app,
            host=host,
            port=port,
            threads=workers,
            max_request_body_size=max_body,
            inbuf_overflow=max_body,
            ident="linescribe",
        )
    except OSError as error:  # the port is taken, or not ours to bind
        raise LinescribeError(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    except ValueError:  # waitress: a host name that does not resolve
        raise LinescribeError(f"cannot listen on {host}:{port} (unknown host)") from None


def addresses(server: BaseWSGIServer | MultiSocketServer) -> list[str]:
    """The URLs the server listens on (the real port when 0 was asked for)."""
    if isinstance(server, MultiSocketServer):
        listening = [(host, port) for host, port in server.effective_listen]
    else:
        listening = [(server.effective_host, server.effective_port)]
    return [f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}" for host, port in listening]


class _Stop(ExitNow):
    """Raised by the signal handler to leave waitress's loop. An ExitNow, because the loop
    swallows (logs) any other exception raised while it handles a connection; not a
    KeyboardInterrupt, which waitress would handle itself with a fixed 5 s grace."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def serve_until_stopped(server: BaseWSGIServer | MultiSocketServer, grace_s: float = GRACE_SECONDS) -> None:
    """Serve until SIGTERM or SIGINT (Ctrl-C); then stop taking connections, let the requests
    being served finish and their answers reach the clients (up to ``grace_s`` in all), drop
    those still queued, and return. A second signal stops at once."""
    previous = {number: signal.signal(number, _stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    except _Stop as stop:
        log.info("%s: finishing the requests in progress (up to %g s)", stop, grace_s)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _finish(server, grace_s)


def _finish(server: BaseWSGIServer | MultiSocketServer, grace_s: float) -> None:
    """Close the listening sockets, then run waitress's loop until the worker threads have
    finished their requests and every answer is sent, or ``grace_s`` has passed; then close
    everything. The loop must go on: it sends the answers (the threads only hand them to it),
    and an answer larger than the sockets' buffers was cut off when it stopped."""
    socket_map = server.map if isinstance(server, MultiSocketServer) else server._map
    dispatcher = server.task_dispatcher
    try:
        for listener in [entry for entry in socket_map.values() if isinstance(entry, BaseWSGIServer)]:
            wasyncore.dispatcher.close(listener)  # not listener.close(): its trigger wakes the loop
        dispatcher.set_thread_count(0)  # each thread stops after the request it serves
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and (
            dispatcher.threads or any(getattr(entry, "total_outbufs_len", 0) for entry in list(socket_map.values()))
        ):
            wasyncore.loop(timeout=LOOP_TIMEOUT, map=socket_map, use_poll=server.adj.asyncore_use_poll, count=1)
    finally:
        dispatcher.shutdown(timeout=0)  # drops the requests still queued
        wasyncore.close_all(socket_map)
