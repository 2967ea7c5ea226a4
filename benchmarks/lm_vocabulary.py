"""Does a larger English vocabulary help beam_lm? The bundled English trigram model plus the most
frequent words of wordfreq's list, as unigrams, scored on a validation split.

    pip install wordfreq     # not a linescribe dependency; its data is CC BY-SA 4.0 (Robyn Speer)
    python benchmarks/lm_vocabulary.py [--split hooker/val] [--words 100000] [--weights 1 0.1 0.01 0.001]

The bundled model was counted in 936 k words of novels: 11.5 % of the words of the Hooker
validation letters are unknown to it (names, places, plant names), and beam_lm penalises each.
Each added word gets a unigram probability proportional to its wordfreq frequency, calibrated on
the words both lists share (the median ratio of the model's probability to wordfreq's) and
multiplied by ``weight``; every unigram is then scaled so they sum to one again. Word pairs and
backoff weights stay as they are: a new word after any context backs off to its unigram, as an
unknown word did. The network runs once; every row decodes the same log-probabilities (beam
width 16, the tuned lm_weight 0.3).
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch
from decoders import run_network, score

from linescribe.decoding import build_decoder
from linescribe.lm import NgramModel, resolve_lm_path
from linescribe.lm.arpa import SPECIAL
from linescribe.lm.words import line_words
from linescribe.modelfile.weights import load_model_file
from linescribe.modelfile import resolve_model_path


def add_frequent_words(model: NgramModel, frequencies: dict[str, float], weight: float = 1.0) -> int:
    """Add the words of ``frequencies`` (word -> relative frequency) missing from ``model`` as
    unigrams, in place, at ``weight`` times their calibrated probability; the number added."""
    unigrams = model.ngrams[0]
    shared = [word for word in frequencies if (word,) in unigrams and frequencies[word] > 0]
    if not shared:
        raise SystemExit("the model and the word list share no word: wrong language?")
    scale = statistics.median(10 ** unigrams[(word,)][0] / frequencies[word] for word in shared)
    added = {word: weight * scale * frequency for word, frequency in frequencies.items() if (word,) not in unigrams and frequency > 0}
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
    parser.add_argument("--split", default="hooker/val", help="dataset/split folder under ../shared/data/lines")
    parser.add_argument("--words", type=int, default=100000, help="how many of wordfreq's most frequent English words")
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 0.1, 0.01, 0.001])
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model_file(resolve_model_path(None))
    output = run_network(model, args.split, 0)
    words = [word for line in output.references for word in line_words(line)]
    frequencies = wordfreq_words("en", args.words)
    print(f"{args.split}: {len(output.references)} lines, {len(words)} words; default model, beam_lm width 16, lm_weight 0.3")
    print("| LM | words unknown to it | CER | WER |\n|---|---|---|---|")
    rows = [("english (bundled)", None)] + [(f"english + {args.words:,} wordfreq words at weight {w:g}", w) for w in args.weights]
    for label, weight in rows:
        lm = NgramModel.read_arpa(resolve_lm_path("english"))
        if weight is not None:
            add_frequent_words(lm, frequencies, weight)
        unknown = sum(word not in lm for word in words) / len(words)
        rates, _ = score(output, build_decoder("beam_lm", lm=lm, lm_weight=0.3), model.alphabet)
        print(f"| {label} | {unknown:.1%} | {rates.cer:.2%} | {rates.wer:.2%} |", flush=True)


if __name__ == "__main__":
    main()
