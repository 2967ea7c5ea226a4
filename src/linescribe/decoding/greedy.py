"""Best-path decoding: the most likely class per frame, repeats merged, blanks dropped."""

from __future__ import annotations

from typing import Any

import numpy as np

from linescribe.alphabet import BLANK_ID, Alphabet
from linescribe.decoding.frames import frame_array
from linescribe.decoding.hypothesis import Hypothesis, line_confidence


def greedy_decode(log_probs: Any, lengths: Any, alphabet: Alphabet) -> list[Hypothesis]:
    """log_probs (T,N,C), lengths (N,) (numpy arrays or torch tensors) -> one Hypothesis per line.

    A character's confidence is the highest frame probability among the frames that produced it,
    and its frames are the run of them; the line's confidence is ``line_confidence``'s.
    """
    log_prob_frames = frame_array(log_probs)
    best_ids = log_prob_frames.argmax(axis=-1)
    best_probs = np.exp(np.take_along_axis(log_prob_frames, best_ids[..., None], axis=-1)[..., 0]).T
    best_ids = best_ids.T
    hypotheses = []
    for line, length in enumerate(lengths.tolist()):
        ids, probs = best_ids[line, :length], best_probs[line, :length]
        chars: list[str] = []
        confidences: list[float] = []
        frames: list[tuple[int, int]] = []
        previous = BLANK_ID
        for frame, (class_id, prob) in enumerate(zip(ids.tolist(), probs.tolist())):
            if class_id != BLANK_ID:
                if class_id != previous:
                    chars.append(alphabet.chars[class_id - 1])
                    confidences.append(prob)
                    frames.append((frame, frame + 1))
                else:
                    confidences[-1] = max(confidences[-1], prob)
                    frames[-1] = (frames[-1][0], frame + 1)
            previous = class_id
        confidence = line_confidence(confidences, log_prob_frames[:length, line])
        hypotheses.append(Hypothesis("".join(chars), confidence, tuple(confidences), char_frames=tuple(frames)))
    return hypotheses
