"""``linescribe serve``."""

from __future__ import annotations

from typing import Any

import click

from linescribe.cli.options import FiniteFloat, backend_option, batch_size_option, chosen_decoding, decoding_options, model_option
from linescribe.decoding.options import DECODER_KEYWORDS


@click.command()
@model_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. 0.0.0.0 opens the server to the network; it has no authentication.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free port).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Requests served at once (waitress threads), all sharing the one loaded model.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Threads of the network (onnxruntime or torch) per request. Requests already run in parallel, so 1 is fastest on a small CPU.",
)
@click.option(
    "--max-upload-mb",
    type=FiniteFloat(0.01, 10_000),
    default=10.0,
    show_default=True,
    help="Largest request body (all its images together), in MB.",
)
@batch_size_option("Lines per forward pass when a request holds several images.")
@backend_option
@decoding_options
def serve(
    model: str | None,
    host: str,
    port: int,
    workers: int,
    threads: int,
    max_upload_mb: float,
    batch_size: int,
    backend: str,
    **decoding: Any,
) -> None:
    """Serve the web page and the HTTP API (POST /api/v1/recognize, GET /healthz).

    The decoder options set the defaults; each request may choose its decoder, beam width, LM
    weight, word bonus and spelling correction (the LM and lexicon files stay the server's).
    --lm, --lexicon and the other decoder options apply to the requests whose decoder takes
    them, whatever --decoder says (e.g. a greedy server whose beam_lm requests use --lm french).
    Stops on Ctrl-C or SIGTERM after finishing the requests in progress."""
    from linescribe.web import ModelService, create_app
    from linescribe.web.server import addresses, make_server, serve_until_stopped

    # --lm, --lexicon, --beam-width, ... serve the requests whose decoder takes them, whatever the
    # default decoder: a greedy French server's decoder=beam_lm requests read with --lm french
    decoder_options = {name: decoding.pop(name) for name in DECODER_KEYWORDS if decoding.get(name) is not None}
    service = ModelService.load(
        model,
        backend=backend,
        threads=threads,
        defaults=chosen_decoding(serving=True, **decoding),
        speller=decoding["speller"],
        batch_size=batch_size,
        decoder_options=decoder_options,
    )
    server = make_server(create_app(service, max_upload_mb=max_upload_mb), host, port, workers)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"linescribe: warning: listening on {host}: anyone who can reach this machine can use the server", err=True
        )
    for url in addresses(server):
        click.echo(
            f"linescribe: serving model {service.name!r} on {url} ({workers} workers); Ctrl-C or SIGTERM stops it"
        )
    serve_until_stopped(server)
    click.echo("linescribe: stopped")
