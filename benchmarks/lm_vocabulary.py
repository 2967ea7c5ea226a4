"""Give an ARPA model the most frequent words of a language that its corpus never saw, as unigrams
(see README.md beside this file; needs ``pip install wordfreq``, which linescribe does not).

    python src/linescribe/pretrained/lm/add_wordfreq.py english.arpa.gz en 100000 -o english.arpa.gz

The bundled English trigram model was counted in 936 k words of novels: 11.5 % of the words of
the Hooker validation letters are unknown to it (names, places, plant names, modern words), and
the beam decoder penalises each of them. wordfreq's frequency lists (data CC BY-SA 4.0, Robyn
Speer) cover far more words. Each new word gets a unigram probability proportional to its
wordfreq frequency, calibrated on the words both lists share (the median ratio of the model's
probability to wordfreq's), and every unigram is then scaled so they sum to one again. Word pairs
and backoff weights are left as they are: a new word after any context backs off to its unigram,
as an unknown word did.
"""

from __future__ import annotations

import argparse
import math
import statistics

from linescribe.lm import NgramModel
from linescribe.lm.arpa import SPECIAL
from linescribe.lm.words import line_words


def add_frequent_words(model: NgramModel, frequencies: dict[str, float]) -> int:
    """Add the words of ``frequencies`` (word -> relative frequency) missing from ``model`` as
    unigrams, in place; the number added."""
    unigrams = model.ngrams[0]
    shared = [word for word in frequencies if (word,) in unigrams and frequencies[word] > 0]
    if not shared:
        raise SystemExit("the model and the word list share no word: wrong language?")
    scale = statistics.median(10 ** unigrams[(word,)][0] / frequencies[word] for word in shared)
    added = {word: scale * frequency for word, frequency in frequencies.items() if (word,) not in unigrams and frequency > 0}
    total = sum(10**logp for gram, (logp, _) in unigrams.items() if gram[0] != "<s>") + sum(added.values())
    shift = -math.log10(total)
    for gram, (logp, backoff) in list(unigrams.items()):
        if gram[0] != "<s>":
            unigrams[gram] = (logp + shift, backoff)
    for word, probability in sorted(added.items()):
        unigrams[(word,)] = (math.log10(probability) + shift, 0.0)
    return len(added)


def wordfreq_words(language: str, count: int) -> dict[str, float]:
    """The ``count`` most frequent words of wordfreq's list, as the LM spells words (lower case,
    letters with inner apostrophes), with their frequencies."""
    import wordfreq

    frequencies: dict[str, float] = {}
    for entry in wordfreq.top_n_list(language, count):
        words = line_words(entry)
        if len(words) == 1 and words[0] not in SPECIAL:
            frequencies.setdefault(words[0], wordfreq.word_frequency(entry, language))
    return frequencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arpa", help="the ARPA model to extend (.arpa or .arpa.gz)")
    parser.add_argument("language", help="wordfreq language code, e.g. en")
    parser.add_argument("count", type=int, help="how many of wordfreq's most frequent words to take")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    model = NgramModel.read_arpa(args.arpa)
    added = add_frequent_words(model, wordfreq_words(args.language, args.count))
    model.write_arpa(args.output)
    print(f"{args.output}: {added} words added, {len(model.ngrams[0])} unigrams")


if __name__ == "__main__":
    main()
