"""Interpolated modified Kneser-Ney estimation (Chen & Goodman 1998), as KenLM's ``lmplz`` does it.

For an n-gram model of order N, with every sentence padded as ``<s> w1 ... wm </s>``:

* **Adjusted counts** ``a(g)``: the raw count for N-grams and for n-grams that start with ``<s>``;
  for other lower-order n-grams, the number of distinct words seen just before them
  (``N1+(• g)``, the continuation count).
* **Discounts** per order k, from the counts-of-counts ``n_r`` of the adjusted counts of that order:
  ``Y = n1 / (n1 + 2 n2)``, ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``, ``D3+ = 3 - 4Y n4/n3``
  (``D_FALLBACK`` when a count-of-counts is zero or a discount falls outside (0, r), as
  ``lmplz --discount_fallback``).
* **Probabilities**, for a context ``h`` with total ``S(h) = sum_w a(h w)``:
  ``p(w | h) = (a(h w) - D(a(h w))) / S(h) + gamma(h) p(w | h')`` with
  ``gamma(h) = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / S(h)``, where ``N_r(h)`` counts the words
  with ``a(h w) = r`` (3 or more for N3+). Unigrams interpolate with the uniform distribution over
  the vocabulary (every word but ``<s>``, with ``<unk>``). ``gamma(h)`` is the backoff weight of
  ``h`` in the ARPA file.
* **Pruning** (optional): n-grams of order k >= 2 whose raw count is below ``prune[k - 1]`` are
  left out; their whole adjusted count goes to ``gamma(h)``, so every p(. | h) still sums to 1.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from linescribe.lm.arpa import (
    BOS,
    EOS,
    NEVER,
    UNK,
    LanguageModelError,
    Ngram,
    NgramModel,
)


@dataclass(frozen=True)
class Discounts:
    """D1, D2, D3+ of one order."""

    d1: float
    d2: float
    d3: float

    def __call__(self, count: int) -> float:
        if count <= 0:
            return 0.0
        return self.d1 if count == 1 else self.d2 if count == 2 else self.d3


D_FALLBACK = Discounts(0.5, 1.0, 1.5)


def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> list[Counter[Ngram]]:
    """Raw counts of every k-gram (k = 1..order) of each sentence padded with ``<s>`` and ``</s>``;
    ``counts[k - 1]`` holds the k-grams. Empty sentences are skipped."""
    counts: list[Counter[Ngram]] = [Counter() for _ in range(order)]
    for sentence in sentences:
        if not sentence:
            continue
        padded = (BOS, *sentence, EOS)
        for k in range(1, order + 1):
            target = counts[k - 1]
            for start in range(len(padded) - k + 1):
                target[padded[start : start + k]] += 1
    return counts


def adjusted_counts(counts: Sequence[Counter[Ngram]]) -> list[dict[Ngram, int]]:
    """Kneser-Ney adjusted counts of every order (see the module docstring)."""
    order = len(counts)
    adjusted: list[dict[Ngram, int]] = [{} for _ in range(order)]
    adjusted[order - 1] = dict(counts[order - 1])
    for k in range(order - 1, 0, -1):
        left_extensions: Counter[Ngram] = Counter(gram[1:] for gram in counts[k])
        adjusted[k - 1] = {
            gram: (count if gram[0] == BOS else left_extensions[gram]) for gram, count in counts[k - 1].items()
        }
    return adjusted


def estimate_discounts(adjusted: Iterable[int]) -> Discounts:
    """D1, D2, D3+ from the counts-of-counts of one order's adjusted counts."""
    n = Counter(count for count in adjusted if 1 <= count <= 4)
    n1, n2, n3, n4 = n[1], n[2], n[3], n[4]
    if min(n1, n2, n3, n4) == 0:
        return D_FALLBACK
    y = n1 / (n1 + 2 * n2)
    discounts = Discounts(1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not (0 < discounts.d1 < 1 and 0 < discounts.d2 < 2 and 0 < discounts.d3 < 3):
        return D_FALLBACK
    return discounts


def prune_thresholds(prune: Sequence[int] | None, order: int) -> list[int]:
    """The smallest count kept at each order from a ``prune`` list as the user gives it: one per
    order or fewer (the last repeats), 0 meaning 1; words are pruned by ``min_count`` instead."""
    given = list(prune or [])
    if len(given) > order:
        raise LanguageModelError(f"pruning thresholds: {len(given)} given for a model of order {order}")
    if any(value < 0 for value in given):
        raise LanguageModelError(f"pruning thresholds must not be negative, got {given}")
    if given and given[0] > 1:
        raise LanguageModelError(
            f"pruning thresholds: the first, {given[0]}, would prune words; leave it 0 and drop rare words with --min-count"
        )
    kept = [max(1, value) for value in given] or [1]
    return kept + [kept[-1]] * (order - len(kept))


def kneser_ney(
    counts: Sequence[Counter[Ngram]],
    prune: Sequence[int] | None = None,
    discounts: Sequence[Discounts] | None = None,
) -> NgramModel:
    """An interpolated modified Kneser-Ney model from raw counts (``count_ngrams``).

    ``prune[k - 1]``: the smallest raw count a k-gram needs to be kept (k >= 2; 0 and 1 keep all;
    must not decrease with k, so that every kept n-gram keeps its prefix and suffix; the last one
    given holds for the higher orders, as in KenLM's lmplz, whose values are one less: its t prunes
    counts up to t, ours keeps counts from it). ``discounts`` overrides the
    estimated ones (one per order).
    """
    order = len(counts)
    if order < 1 or not counts[0]:
        raise LanguageModelError("the corpus has no words: cannot build a language model")
    thresholds = prune_thresholds(prune, order)
    if any(later < earlier for earlier, later in pairwise(thresholds)):
        raise LanguageModelError(f"pruning thresholds must not decrease with the order, got {thresholds}")
    adjusted = adjusted_counts(counts)
    adjusted[0].pop((BOS,), None)  # <s> is a context, never a predicted word
    adjusted[0].setdefault((UNK,), 0)
    if discounts is None:
        discounts = [estimate_discounts(level.values()) for level in adjusted]
    ngrams: list[dict[Ngram, tuple[float, float]]] = [{} for _ in range(order)]
    gammas: list[dict[Ngram, float]] = [{} for _ in range(order)]  # gammas[k-1][h]: context of k-grams

    # Unigrams: interpolated with the uniform distribution over the vocabulary.
    total = sum(adjusted[0].values())
    gamma0 = sum(discounts[0](count) for count in adjusted[0].values()) / total
    uniform = gamma0 / len(adjusted[0])
    probabilities: dict[Ngram, float] = {}
    for gram, count in adjusted[0].items():
        probabilities[gram] = (count - discounts[0](count)) / total + uniform

    for k in range(2, order + 1):
        discount = discounts[k - 1]
        level = adjusted[k - 1]
        context_total: defaultdict[Ngram, float] = defaultdict(float)
        context_mass: defaultdict[Ngram, float] = defaultdict(float)  # discounted or pruned
        kept: list[Ngram] = []
        for gram, count in level.items():
            history = gram[:-1]
            context_total[history] += count
            if counts[k - 1][gram] >= thresholds[k - 1]:
                kept.append(gram)
                context_mass[history] += discount(count)
            else:
                context_mass[history] += count
        gamma = {history: context_mass[history] / context_total[history] for history in context_total}
        gammas[k - 1] = gamma
        lower = probabilities
        probabilities = {}
        for gram in kept:
            history = gram[:-1]
            count = level[gram]
            probabilities[gram] = (count - discount(count)) / context_total[history] + gamma[history] * lower[gram[1:]]
        ngrams[k - 2] = {gram: (_log10(p), 0.0) for gram, p in lower.items()}
        ngrams[k - 1] = {gram: (_log10(p), 0.0) for gram, p in probabilities.items()}
    if order == 1:
        ngrams[0] = {gram: (_log10(p), 0.0) for gram, p in probabilities.items()}

    # <s> is listed (it starts every context) but never predicted.
    ngrams[0][(BOS,)] = (NEVER, 0.0)
    for k in range(1, order):
        for gram, (log_prob, _) in ngrams[k - 1].items():
            gamma = gammas[k].get(gram)
            if gamma is not None and gram[-1] != EOS:
                ngrams[k - 1][gram] = (log_prob, _log10(gamma))
    return NgramModel(ngrams)


def _log10(value: float) -> float:
    return math.log10(value) if value > 0 else NEVER
