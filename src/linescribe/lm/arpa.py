"""A word n-gram model in backoff form, read from and written to the ARPA text format.

    \\data\\
    ngram 1=4
    ngram 2=3

    \\1-grams:
    -0.69897  the  -0.30103      log10 p(the), log10 backoff(the)
    ...
    \\2-grams:
    -0.30103  the cat            log10 p(cat | the)
    \\end\\

``p(w | h)`` is the listed value when ``h w`` is listed; otherwise ``backoff(h) * p(w | h')``,
where ``h'`` drops the oldest word of ``h`` (a context that is not listed has backoff 1).
Files ending in ``.gz`` are read and written gzip-compressed.
"""

from __future__ import annotations

import gzip
import io
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from linescribe.errors import LinescribeError
from linescribe.lm.words import word_key

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SPECIAL = frozenset({BOS, EOS, UNK})
NEVER = -99.0  # log10 probability ARPA files give <s>, which is never predicted
_BLANKS = " \t\r"
_FIELD_SEPARATOR = re.compile("[ \t]+")
_NGRAM_COUNT = re.compile("ngram[ \t]")

Ngram = tuple[str, ...]


class LanguageModelError(LinescribeError):
    """A language model or lexicon file that is missing or not in the expected format."""


class NgramModel:
    """Backoff n-gram probabilities: ``ngrams[k - 1]`` maps each listed k-gram to
    ``(log10 p(last word | the others), log10 backoff as a context)``."""

    def __init__(self, ngrams: Sequence[dict[Ngram, tuple[float, float]]]) -> None:
        if not ngrams or not ngrams[0]:
            raise LanguageModelError("a language model needs at least one unigram")
        self.ngrams = list(ngrams)
        self.order = len(self.ngrams)
        self._unigrams = self.ngrams[0]
        self._cache: dict[tuple[Ngram, str], float] = {}

    @property
    def vocabulary(self) -> set[str]:
        """The words the model knows, without ``<s>``, ``</s>`` and ``<unk>``."""
        return {gram[0] for gram in self._unigrams if gram[0] not in SPECIAL}

    def __contains__(self, word: str) -> bool:
        return (word,) in self._unigrams

    def state(self, context: Iterable[str], word: str) -> Ngram:
        """The context after ``word``: the last ``order - 1`` words, unknown ones as ``<unk>``."""
        if self.order == 1:
            return ()
        word = word if (word,) in self._unigrams else UNK
        return (*context, word)[-(self.order - 1) :]

    def log10_prob(self, context: Ngram, word: str) -> float:
        """log10 p(word | context); ``context`` holds the preceding words, oldest first (only the
        last ``order - 1`` count). An unknown word is scored as ``<unk>``; a model without
        ``<unk>`` gives it ``-99``."""
        context = tuple(context)[-(self.order - 1) :] if self.order > 1 else ()
        key = (context, word)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if (word,) not in self._unigrams:
            word = UNK
        context = tuple(w if (w,) in self._unigrams else UNK for w in context)
        backoff = 0.0
        result = None
        for start in range(len(context) + 1):
            history = context[start:]
            entry = self.ngrams[len(history)].get((*history, word))
            if entry is not None:
                result = backoff + entry[0]
                break
            if history:
                listed = self.ngrams[len(history) - 1].get(history)
                if listed is not None:
                    backoff += listed[1]
        if result is None:
            result = backoff + NEVER
        if len(self._cache) > 1_000_000:
            self._cache.clear()
        self._cache[key] = result
        return result

    def sentence_log10_prob(self, words: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """log10 probability of a word sequence, with or without sentence boundaries."""
        context: Ngram = (BOS,) if bos else ()
        total = 0.0
        for word in [*words, EOS] if eos else words:
            total += self.log10_prob(context, word)
            context = self.state(context, word)
        return total

    # -- ARPA files --------------------------------------------------------------------------

    @classmethod
    def read_arpa(cls, path: str | Path) -> NgramModel:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise LanguageModelError(f"{path}: cannot read language model ({error.strerror})") from None
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (EOFError, OSError, zlib.error) as error:  # truncated or damaged download
                raise LanguageModelError(f"{path}: damaged gzip file ({error})") from None
        try:
            # a byte-order mark is not a word; words are composed (NFC) as they are folded, after
            # the counts are checked, so that café written both ways is one word, not a count error
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise LanguageModelError(f"{path}: not a UTF-8 ARPA file (a binary KenLM model? pass the .arpa file)") from None
        # only "\n" ends a line and only space and tab part fields, as in KenLM and SRILM: a
        # no-break space inside a French token (« mot, 100 000) is part of the word
        return cls._parse_arpa([line.strip(_BLANKS) for line in text.split("\n")], path)

    @classmethod
    def _parse_arpa(cls, lines: list[str], path: Path) -> NgramModel:
        position = 0
        while position < len(lines) and lines[position] != "\\data\\":
            position += 1
        if position == len(lines):
            raise LanguageModelError(f"{path}: not an ARPA language model (no \\data\\ section)")
        declared: dict[int, int] = {}
        position += 1
        while position < len(lines) and (not lines[position] or _NGRAM_COUNT.match(lines[position])):
            if lines[position]:
                order_text, _, count_text = lines[position][6:].partition("=")
                try:
                    declared[int(order_text)] = int(count_text)
                except ValueError:
                    raise LanguageModelError(f"{path}:{position + 1}: expected 'ngram N=COUNT', got {lines[position]!r}") from None
            position += 1
        if not declared or sorted(declared) != list(range(1, max(declared) + 1)):
            raise LanguageModelError(f"{path}: the \\data\\ section does not declare orders 1..N")
        ngrams: list[dict[Ngram, tuple[float, float]]] = [{} for _ in declared]
        order = 0
        for number, line in enumerate(lines[position:], start=position + 1):
            if not line:
                continue
            if line.startswith("\\"):
                if line == "\\end\\":
                    break
                if not (line.endswith("-grams:") and line[1:-7].isdigit()):
                    raise LanguageModelError(f"{path}:{number}: unexpected section {line!r}")
                order = int(line[1:-7])
                if order not in declared:
                    raise LanguageModelError(f"{path}:{number}: section {line!r} was not declared in \\data\\")
                continue
            fields = _FIELD_SEPARATOR.split(line)
            if order == 0 or len(fields) not in (order + 1, order + 2):
                raise LanguageModelError(f"{path}:{number}: expected 'log10prob {order} words [backoff]', got {line!r}")
            try:
                log_prob = float(fields[0])
                backoff = float(fields[order + 1]) if len(fields) == order + 2 else 0.0
            except ValueError:
                raise LanguageModelError(f"{path}:{number}: not a number in {line!r}") from None
            if not (log_prob <= 0.0 and backoff < math.inf):  # NaN fails both: beams would rank by chance
                raise LanguageModelError(f"{path}:{number}: not a log10 probability (at most 0) and backoff in {line!r}")
            # -inf (KenLM writes it for <s>) as the finite NEVER: beams weigh log-probabilities by
            # lm_weight, and 0 * -inf is NaN, which ranks them by chance
            ngrams[order - 1][tuple(fields[1 : order + 1])] = (max(log_prob, NEVER), max(backoff, NEVER))
        for order, count in declared.items():
            if len(ngrams[order - 1]) != count:
                raise LanguageModelError(
                    f"{path}: \\data\\ declares {count} {order}-grams but the file lists {len(ngrams[order - 1])}"
                )
        if not ngrams[0]:
            raise LanguageModelError(f"{path}: no unigrams: a language model needs at least one word")
        return cls(_case_folded(ngrams))

    def arpa_text(self) -> str:
        out = io.StringIO()
        out.write("\\data\\\n")
        for order, grams in enumerate(self.ngrams, start=1):
            out.write(f"ngram {order}={len(grams)}\n")
        for order, grams in enumerate(self.ngrams, start=1):
            out.write(f"\n\\{order}-grams:\n")
            highest = order == self.order
            for gram in sorted(grams):
                log_prob, backoff = grams[gram]
                words = " ".join(gram)
                if highest or gram[-1] == EOS:
                    out.write(f"{_number(log_prob)}\t{words}\n")
                else:
                    out.write(f"{_number(log_prob)}\t{words}\t{_number(backoff)}\n")
        out.write("\n\\end\\\n")
        return out.getvalue()

    def write_arpa(self, path: str | Path) -> None:
        from linescribe.files import write_atomically

        data = self.arpa_text().encode("utf-8")
        if str(path).endswith(".gz"):
            data = gzip.compress(data, compresslevel=9, mtime=0)
        write_atomically(Path(path), data, durable=False)


def _case_folded(ngrams: list[dict[Ngram, tuple[float, float]]]) -> list[dict[Ngram, tuple[float, float]]]:
    """The n-grams with their words as the decoders look them up (``word_key``: composed accents,
    lower case, plain apostrophes); an ARPA file from another tool (KenLM's ``lmplz``) usually keeps
    case, and ``London`` would be scored as ``<unk>``. Variants that fold together are merged: the
    probabilities of a word's variants after the same history are added (``The`` and ``the``,
    or ``café`` composed and decomposed, are one word now). Of the variants of a history only the
    likeliest is kept, with its continuations and its backoff (a rare ``THE`` that is never a
    context must not lend ``the`` its backoff of 1, and continuations of ``A`` and ``a`` taken
    together would make a distribution that sums to more than 1)."""
    if all(gram[0] in SPECIAL or gram[0] == word_key(gram[0]) for gram in ngrams[0]):
        return ngrams
    folded = []
    chosen: dict[Ngram, Ngram] = {(): ()}  # folded (k-1)-gram kept -> its likeliest variant as written
    for grams in ngrams:
        sums: dict[Ngram, list[float]] = {}  # folded n-gram -> log10 p of its variants after the chosen history
        likeliest: dict[Ngram, tuple[Ngram, float, float]] = {}  # folded n-gram -> (variant, log10 p, backoff)
        for gram, (log_prob, backoff) in grams.items():
            key = tuple(word if word in SPECIAL else word_key(word) for word in gram)
            if chosen.get(key[:-1]) != gram[:-1]:
                continue  # another variant's history, or one left out below
            sums.setdefault(key, []).append(log_prob)
            if key not in likeliest or log_prob > likeliest[key][1]:
                likeliest[key] = (gram, log_prob, backoff)
        folded.append({key: (_log10_sum(probs), likeliest[key][2]) for key, probs in sums.items()})
        chosen = {key: variant for key, (variant, _, _) in likeliest.items()}
    return folded


def _log10_sum(values: list[float]) -> float:
    """log10 of the sum of 10**value, without underflow (all -inf: -inf)."""
    peak = max(values)
    if peak == -math.inf:
        return peak
    return peak + math.log10(sum(10.0 ** (value - peak) for value in values))


def _number(value: float) -> str:
    if value == 0.0:
        return "0"
    if math.isinf(value) or value <= NEVER:
        return str(NEVER)
    return f"{value:.7g}"
