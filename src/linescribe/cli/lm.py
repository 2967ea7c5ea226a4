"""``linescribe lm``: word n-gram language models for the ``beam_lm`` decoder."""

from __future__ import annotations

import os
from pathlib import Path

import click


def _parse_prune(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected counts separated by commas, such as 0,1,2; got {value!r}", param_hint="--prune") from None


@click.group()
def lm() -> None:
    """Build and inspect word n-gram language models."""


@lm.command()
@click.argument("corpus", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="ARPA file to write (.arpa, or .arpa.gz for a compressed one).")
@click.option("--order", default=3, show_default=True, help="n-gram order.")
@click.option("--min-count", default=1, show_default=True, help="Words seen fewer times become <unk>.")
@click.option("--max-vocab", type=click.IntRange(min=1), help="Keep only the most frequent words (the others become <unk>).")
@click.option("--prune", help="Smallest count an n-gram of each order needs, from unigrams up (0 keeps all; the last value holds for the "
                   "higher orders), e.g. 0,1,2 drops singleton 3-grams (lmplz --prune 0 0 1).")
@click.option("--lexicon", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the lexicon (default: OUTPUT with .lexicon.txt instead of .arpa[.gz]).")
def build(corpus: tuple[Path, ...], output: Path, order: int, min_count: int, max_vocab: int | None, prune: str | None, lexicon: Path | None) -> None:
    """Estimate a modified Kneser-Ney word n-gram model from CORPUS (plain UTF-8 text, one
    sentence per line) and write it as an ARPA file, with the lexicon of its words.

    Words are runs of letters (with inner apostrophes), lower-cased; digits and punctuation are
    left out, as the decoders never score them.
    """
    from linescribe.files import file_identity, refuse_writing_over
    from linescribe.lm import LanguageModelError, build_lm, write_lexicon

    if order < 1:
        raise click.BadParameter("must be at least 1", param_hint="--order")
    thresholds = _parse_prune(prune)

    def lines():
        for path in corpus:
            try:
                with open(path, encoding="utf-8") as handle:
                    yield from handle
            except UnicodeDecodeError as error:
                raise LanguageModelError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None

    if lexicon is None:
        lexicon = output.with_name(output.name.removesuffix(".gz").removesuffix(".arpa") + ".lexicon.txt")
    for target, option in ((output, "-o"), (lexicon, "--lexicon")):
        refuse_writing_over(target, corpus, option)
    existing = file_identity(output)
    if os.path.abspath(output) == os.path.abspath(lexicon) or (existing is not None and existing == file_identity(lexicon)):
        raise click.UsageError(f"-o and --lexicon name one file, {output}: the lexicon would replace the model")
    model, words = build_lm(lines(), order=order, min_count=min_count, max_vocab=max_vocab, prune=thresholds)
    model.write_arpa(output)
    write_lexicon(words, lexicon)
    sizes = ", ".join(f"{len(grams)} {k}-grams" for k, grams in enumerate(model.ngrams, start=1))
    click.echo(f"{output}: {sizes}; lexicon {lexicon}: {len(words)} words", err=True)


@lm.command()
@click.argument("model")
@click.argument("text", nargs=-1)
def score(model: str, text: tuple[str, ...]) -> None:
    """Print MODEL's log10 probability of each word of TEXT (a bundled name such as `english`, or
    an ARPA file) as the LM holds it: letter runs lower-cased, no sentence marks, unknown words as
    <unk>. The decoders score the words of a reading this way, except that they read a possessive
    or an elision through the word the lexicon knows (dog's as dog, l'homme as homme)."""
    from linescribe.lm import load_lm
    from linescribe.lm.words import line_words

    language_model = load_lm(model)
    context: tuple[str, ...] = ()
    total = 0.0
    for word in line_words(" ".join(text)):
        value = language_model.log10_prob(context, word)
        known = "" if word in language_model else "  (<unk>)"
        click.echo(f"{value:9.4f}  {word}{known}")
        total += value
        context = language_model.state(context, word)
    click.echo(f"{total:9.4f}  total")
