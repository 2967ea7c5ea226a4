"""Where in the frames each character of a text was written: the most likely CTC path (Viterbi)
that spells a given text, and the character confidences and frames read off it.

Beam decoders, the LM and the speller can choose a text that is not the frame-wise best one;
aligning that text to the network's output says how much the network itself supports each of its
characters. For the greedy text the best path is the greedy path, so the confidences agree with
``greedy_decode``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from linescribe.alphabet import BLANK_ID


def _ctc_states(log_probs: np.ndarray, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The CTC state sequence of a text (blank, c1, blank, c2, ..., blank): each frame's
    log-probability of each state (T, S), and which states a path may reach by skipping the
    blank before them (a character unlike the one before)."""
    states = 2 * len(ids) + 1
    extended = np.full(states, BLANK_ID)
    extended[1::2] = ids
    can_skip = np.zeros(states, dtype=bool)
    can_skip[3::2] = extended[3::2] != extended[1:-2:2]
    return log_probs[:, extended].astype(np.float64), can_skip


def ctc_log_likelihood(log_probs: np.ndarray, ids: Sequence[int]) -> float:
    """log p(text | frames): the CTC forward sum over every path of the T frames that spells the
    text (-inf if none does), the quantity a beam search ranks texts by."""
    if len(ids) == 0 or log_probs.shape[0] == 0:
        return float(log_probs[:, BLANK_ID].astype(np.float64).sum()) if len(ids) == 0 else -np.inf
    emissions, can_skip = _ctc_states(log_probs, ids)
    score = np.full(len(can_skip), -np.inf)
    score[:2] = emissions[0, :2]
    unreachable = np.full(2, -np.inf)
    for t in range(1, emissions.shape[0]):
        step = np.concatenate((unreachable[:1], score[:-1]))
        skip = np.where(can_skip, np.concatenate((unreachable, score[:-2])), -np.inf)
        score = np.logaddexp(np.logaddexp(score, step), skip) + emissions[t]
    return float(np.logaddexp(score[-1], score[-2]))


def align(log_probs: np.ndarray, ids: Sequence[int]) -> np.ndarray | None:
    """log_probs (T, C) of one line, class ids of a text -> (T,) int: the index in ``ids`` of the
    character each frame writes on the best path, -1 for blank frames. None if no CTC path of T
    frames spells the text (too many characters for the frames)."""
    frames = log_probs.shape[0]
    if len(ids) == 0:
        return np.full(frames, -1)
    emissions, can_skip = _ctc_states(log_probs, ids)
    states = len(can_skip)
    score = np.full(states, -np.inf)
    score[0] = emissions[0, 0]
    score[1] = emissions[0, 1]
    choices = np.zeros((frames, states), dtype=np.int8)  # 0: stay, 1: from s-1, 2: from s-2
    candidates = np.full((3, states), -np.inf)
    columns = np.arange(states)
    for t in range(1, frames):
        candidates[0] = score
        candidates[1, 1:] = score[:-1]
        candidates[2, 2:] = np.where(can_skip[2:], score[:-2], -np.inf)
        choice = candidates.argmax(axis=0)
        score = candidates[choice, columns] + emissions[t]
        choices[t] = choice
    last = states - 1 if score[-1] >= score[-2] else states - 2
    if not np.isfinite(score[last]):
        return None
    path = np.empty(frames, dtype=np.int64)
    state = last
    for t in range(frames - 1, -1, -1):
        path[t] = state
        state -= int(choices[t, state])  # a plain int: numpy would keep int8 and overflow past 127
    return np.where(path % 2 == 1, path // 2, -1)


@dataclass(frozen=True)
class AlignedChars:
    """Each character of a text as the network wrote it on the best path."""

    confidences: tuple[float, ...]
    """The highest probability the network gave the character on the frames that write it."""
    frames: tuple[tuple[int, int], ...]
    """``(first, last + 1)``: the frames that write the character, where it is in the line."""


def align_chars(log_probs: np.ndarray, ids: Sequence[int]) -> AlignedChars | None:
    """log_probs (T, C), class ids of a text -> each character's confidence and frames on the
    best path; None if the text cannot be aligned."""
    path = align(log_probs, ids)
    if path is None:
        return None
    best = np.zeros(len(ids))
    frames = np.flatnonzero(path >= 0)
    if len(frames):
        probs = np.exp(log_probs[frames, np.asarray(ids)[path[frames]]].astype(np.float64))
        np.maximum.at(best, path[frames], probs)
    # a CTC path writes every character on at least one frame, in order
    written = path[frames]
    starts = frames[np.searchsorted(written, np.arange(len(ids)), side="left")]
    ends = frames[np.searchsorted(written, np.arange(len(ids)), side="right") - 1] + 1
    return AlignedChars(tuple(float(p) for p in best), tuple(zip(starts.tolist(), ends.tolist())))
