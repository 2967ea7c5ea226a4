"""The ``linescribe`` command. Each verb is a module; heavy imports happen inside the verbs so
that ``--help`` answers at once and ``predict`` never loads Lightning."""

from __future__ import annotations

import io
import logging
import os
import sys
from typing import Any

import click

from linescribe import __version__
from linescribe.errors import LinescribeError


TRAINING_PACKAGES = ("torch", "lightning", "safetensors", "tensorboard", "onnx")
"""Installed by ``linescribe[train]``, not by the core install, which reads lines with onnxruntime."""


class ErrorReportingGroup(click.Group):
    """Turns a LinescribeError, a file the system refuses to read or write, or a verb that needs
    PyTorch where it is not installed, into one line on stderr and exit status 2: no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LinescribeError as error:
            click.echo(f"linescribe: error: {error}", err=True)
            sys.exit(2)
        except OSError as error:
            if error.filename is None:  # not about a file (a socket, a library): a bug to report
                raise
            reason = error.strerror or type(error).__name__
            if isinstance(error, FileExistsError) and not os.path.isdir(error.filename):
                reason = "a file is there, where a folder is needed"  # mkdir(parents=True) through a file
            click.echo(f"linescribe: error: {error.filename}: {reason}", err=True)
            sys.exit(2)
        except ModuleNotFoundError as error:
            if error.name not in TRAINING_PACKAGES:
                raise
            verb = ctx.invoked_subcommand or "this command"
            click.echo(f"linescribe: error: {verb} needs {error.name}, which is not installed: pip install "
                       "'linescribe[train]' (this install can predict, eval, serve, synth and info)", err=True)
            sys.exit(2)


@click.group(cls=ErrorReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="linescribe")
@click.option("-v", "--verbose", is_flag=True, help="Show debug messages.")
def main(verbose: bool) -> None:
    """Read handwritten text lines: train, evaluate and run CNN + BiLSTM + CTC recognizers."""
    for stream in (sys.stdout, sys.stderr):  # a console or file in cp1252 cannot hold ␣ or ∅: escaped, not a traceback
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s")


def _register() -> None:
    from linescribe.cli import adapt as adapt_verb
    from linescribe.cli import eval as eval_verb
    from linescribe.cli import export as export_verb
    from linescribe.cli import info, predict, synth, train
    from linescribe.cli import lm as lm_verb
    from linescribe.cli import serve

    main.add_command(train.train)
    main.add_command(adapt_verb.adapt)
    main.add_command(eval_verb.evaluate)
    main.add_command(export_verb.export)
    main.add_command(predict.predict)
    main.add_command(info.info)
    main.add_command(synth.synth)
    main.add_command(lm_verb.lm)
    main.add_command(serve.serve)


_register()
