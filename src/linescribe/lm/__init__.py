"""Word n-gram language models: built from plain text (``linescribe lm build``), read from ARPA
files, and used by the ``beam_lm`` decoder.

    >>> from linescribe.lm import build_lm, load_lm
    >>> model, lexicon = build_lm(open("corpus.txt"), order=3)
    >>> model.write_arpa("english.arpa.gz")
    >>> load_lm("english").log10_prob(("my", "dear"), "sir")
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from linescribe.lm.arpa import BOS, EOS, UNK, LanguageModelError, NgramModel
from linescribe.lm.kneser_ney import count_ngrams, kneser_ney
from linescribe.lm.words import line_words

LM_DIR = Path(__file__).resolve().parents[1] / "pretrained" / "lm"
DEFAULT_LM = "english"
DEFAULT_LM_WEIGHT = 0.3
TUNED_LM_WEIGHTS = {"english": 0.3, "french": 0.2}
"""The ``beam_lm`` weight of each bundled LM when none is given, chosen on validation lines
(english on hooker val, french on copiste and poilus val; README "Decoders")."""
DEFAULT_OOV_PENALTY = (-1.0, -0.75)
TUNED_OOV_PENALTIES = {"english": (-1.0, -1.0), "french": (0.0, -0.75)}
"""What ``beam_lm`` charges a word its lexicon lacks (natural log): once, and per letter; per
bundled LM, chosen on the same validation lines (README "Decoders")."""


def bundled_lms() -> dict[str, Path]:
    """Name -> file of every language model shipped in the package (``<name>.arpa.gz``)."""
    return {path.name.removesuffix(".arpa.gz"): path for path in sorted(LM_DIR.glob("*.arpa.gz"))}


def resolve_lm_path(path_or_name: str | Path) -> Path:
    """An ARPA file from a path or the name of a bundled model (``english``). A name given as a
    string is the bundled model even where a file in the working directory has that name
    (``./english`` reads the file), so that the default decoder does not read whatever a user
    keeps under that name; a ``Path`` is the file when there is one."""
    bundled = bundled_lms()
    if isinstance(path_or_name, str) and path_or_name in bundled:
        return bundled[path_or_name]
    path = Path(path_or_name)
    if path.is_file():
        return path
    if str(path_or_name) in bundled:
        return bundled[str(path_or_name)]
    known = ", ".join(bundled) or "none bundled"
    raise LanguageModelError(f"{path_or_name}: no such language model file, and no bundled one of that name (bundled: {known})")


def bundled_lm_name(path_or_name: str | Path) -> str | None:
    """The bundled LM's name that ``path_or_name`` reads (given by name or by its file's path),
    or None for a user's own file: what picks the weights tuned for it."""
    try:
        path = resolve_lm_path(path_or_name).resolve()
    except LanguageModelError:
        return None
    return next((name for name, file in bundled_lms().items() if file.resolve() == path), None)


_LOADED: dict[tuple[Path, int, int], NgramModel] = {}


def load_lm(path_or_name: str | Path = DEFAULT_LM) -> NgramModel:
    """Read an ARPA model (``.arpa`` or ``.arpa.gz``) or a bundled one by name; loaded models are
    kept, so a second call with the same unchanged file costs nothing, and a call after the file
    was edited reads it again (decoders built before keep the model they loaded)."""
    path = resolve_lm_path(path_or_name).resolve()
    try:
        stat = path.stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (path, 0, 0)  # read_arpa names the file and the problem
    if key not in _LOADED:
        for stale in [known for known in _LOADED if known[0] == path]:
            del _LOADED[stale]
        _LOADED[key] = NgramModel.read_arpa(path)
    return _LOADED[key]


def read_lexicon(path: str | Path) -> set[str]:
    """A lexicon file: one word per line, optionally followed by a tab or spaces and a count. Words are
    stored as the LM spells them (``word_key``: accents composed, lower case)."""
    from linescribe.lm.words import word_key

    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()  # a byte-order mark is not a word
    except OSError as error:
        raise LanguageModelError(f"{path}: cannot read lexicon ({error.strerror})") from None
    except UnicodeDecodeError:
        raise LanguageModelError(f"{path}: the lexicon is not UTF-8 text") from None
    words = {word_key(line.split()[0]) for line in lines if line.strip()}
    if not words:
        raise LanguageModelError(f"{path}: the lexicon is empty")
    return words


def build_lm(
    lines: Iterable[str],
    order: int = 3,
    min_count: int = 1,
    max_vocab: int | None = None,
    prune: Sequence[int] | None = None,
) -> tuple[NgramModel, Counter[str]]:
    """A modified Kneser-Ney model of ``order`` from text, one sentence per line, and the word
    counts of its vocabulary (the lexicon).

    Words are what ``linescribe.lm.words`` calls words (letter runs, lower-cased). Words seen fewer
    than ``min_count`` times, or beyond the ``max_vocab`` most frequent, become ``<unk>``.
    ``prune[k - 1]`` is the smallest count a k-gram needs to be kept (k >= 2).
    """
    if order < 1:
        raise LanguageModelError(f"the order must be at least 1, got {order}")
    if max_vocab is not None and max_vocab < 1:  # an empty lexicon, which read_lexicon then refuses
        raise LanguageModelError(f"max_vocab must be at least 1, got {max_vocab}")
    sentences = [words for words in (line_words(line) for line in lines) if words]
    frequencies = Counter(word for sentence in sentences for word in sentence)
    vocabulary = [word for word, count in frequencies.most_common(max_vocab) if count >= min_count]
    if frequencies and not vocabulary:
        raise LanguageModelError(f"no word of the corpus is seen {min_count} times (min_count): the model would know no word")
    known = set(vocabulary)
    if len(known) < len(frequencies):
        sentences = [[word if word in known else UNK for word in sentence] for sentence in sentences]
    model = kneser_ney(count_ngrams(sentences, order), prune=prune)
    return model, Counter({word: frequencies[word] for word in vocabulary})


def write_lexicon(lexicon: Counter[str], path: str | Path) -> None:
    """One ``word<TAB>count`` line per word, most frequent first."""
    from linescribe.files import write_atomically

    text = "".join(f"{word}\t{count}\n" for word, count in sorted(lexicon.items(), key=lambda item: (-item[1], item[0])))
    write_atomically(Path(path), text.encode("utf-8"), durable=False)


__all__ = [
    "BOS",
    "DEFAULT_LM",
    "EOS",
    "UNK",
    "LanguageModelError",
    "NgramModel",
    "build_lm",
    "bundled_lm_name",
    "bundled_lms",
    "load_lm",
    "read_lexicon",
    "resolve_lm_path",
    "write_lexicon",
]
