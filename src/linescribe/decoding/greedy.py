"""Best-path decoding: the most likely class per frame, repeats merged, blanks dropped."""

from __future__ import annotations

import torch

from linescribe.alphabet import BLANK_ID, Alphabet
from linescribe.decoding.hypothesis import Hypothesis


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, alphabet: Alphabet) -> list[Hypothesis]:
    """log_probs (T,N,C), lengths (N,) -> one Hypothesis per line.

    A character's confidence is the highest frame probability among the frames that produced it;
    the line's confidence is the mean of its characters' (1.0 for an empty line: nothing was
    claimed).
    """
    best_log_probs, best_ids = log_probs.detach().float().max(dim=-1)
    best_probs = best_log_probs.exp().T.cpu().numpy()
    best_ids = best_ids.T.cpu().numpy()
    hypotheses = []
    for line, length in enumerate(lengths.tolist()):
        ids, probs = best_ids[line, :length], best_probs[line, :length]
        chars: list[str] = []
        confidences: list[float] = []
        previous = BLANK_ID
        for class_id, prob in zip(ids.tolist(), probs.tolist()):
            if class_id != BLANK_ID:
                if class_id != previous:
                    chars.append(alphabet.chars[class_id - 1])
                    confidences.append(prob)
                else:
                    confidences[-1] = max(confidences[-1], prob)
            previous = class_id
        confidence = sum(confidences) / len(confidences) if confidences else 1.0
        hypotheses.append(Hypothesis("".join(chars), confidence, tuple(confidences)))
    return hypotheses
