"""Rebuild ``french.arpa.gz``, the bundled French word model (see README.md beside this file).

    python src/linescribe/pretrained/lm/make_french_lm.py src/linescribe/pretrained/lm/french.arpa.gz

A unigram model: the word frequencies that pyspellchecker 0.9.1 (MIT) ships for French
(``spellchecker/resources/fr.json.gz``, 139,905 words counted in OpenSubtitles 2018). No French
running text of a permissive licence was at hand to count word pairs in; word frequencies
alone already steer the beam towards real French words.
"""

from __future__ import annotations

import math
import sys

from linescribe.decoding.spell import word_counts
from linescribe.lm import BOS, EOS, UNK, NgramModel

END_PROBABILITY = 0.05
"""Share of the probability mass given to the end of a line (the decoder scores it at line ends)."""

UNKNOWN_PROBABILITY = 1e-7
"""Probability of a word outside the list, below that of its rarest words (count 10 in about 590 million)."""


def french_unigram_model() -> NgramModel:
    counts = word_counts("fr")
    total = sum(counts.values())
    words = 1.0 - END_PROBABILITY - UNKNOWN_PROBABILITY
    unigrams = {(word,): (math.log10(count / total * words), 0.0) for word, count in sorted(counts.items())}
    unigrams[(BOS,)] = (-99.0, 0.0)  # the start of a line is given, never predicted
    unigrams[(EOS,)] = (math.log10(END_PROBABILITY), 0.0)
    unigrams[(UNK,)] = (math.log10(UNKNOWN_PROBABILITY), 0.0)
    return NgramModel([unigrams])


if __name__ == "__main__":
    french_unigram_model().write_arpa(sys.argv[1])
