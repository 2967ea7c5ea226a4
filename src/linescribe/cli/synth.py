"""``linescribe synth``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-n", "--count", default=1000, show_default=True, type=click.IntRange(min=1), help="Number of lines to write."
)
@click.option(
    "--fonts",
    "fonts_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of .ttf/.otf handwriting fonts (optional fonts.tsv) used instead of the bundled ones.",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="UTF-8 text (lines or running text) cut into lines of 1-12 words, instead of the built-in English/French.",
)
@click.option(
    "--alphabet",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Alphabet file (one character per line): only texts written entirely in it are produced.",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Line i depends only on (seed, i).")
@click.option("--height", default=96, show_default=True, type=click.IntRange(min=16), help="Line height in pixels.")
def synth(
    out_dir: Path,
    count: int,
    fonts_dir: Path | None,
    corpus: Path | None,
    alphabet: Path | None,
    seed: int,
    height: int,
) -> None:
    """Write COUNT synthetic handwritten lines to OUT_DIR as NNNNNN.png + NNNNNN.gt.txt."""
    from linescribe.alphabet import Alphabet
    from linescribe.data.synth import LineSynthesizer, SynthConfig, write_dataset

    chars = set(Alphabet.from_file(str(alphabet)).chars) if alphabet else None
    synthesizer = LineSynthesizer(fonts_dir=fonts_dir, corpus=corpus, config=SynthConfig(height=height), alphabet=chars)
    written = write_dataset(out_dir, count, synthesizer, seed=seed)
    click.echo(f"wrote {written} lines ({len(synthesizer.fonts)} fonts) to {out_dir}")
