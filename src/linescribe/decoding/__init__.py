"""Turning the network's per-frame class probabilities into text.

Every decoder has the signature ``decode(log_probs, lengths, alphabet) -> list[Hypothesis]``
and is registered in DECODERS under its name.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from linescribe.alphabet import Alphabet
from linescribe.decoding.greedy import greedy_decode
from linescribe.decoding.hypothesis import Hypothesis

Decoder = Callable[[torch.Tensor, torch.Tensor, Alphabet], list[Hypothesis]]

DECODERS: dict[str, Decoder] = {"greedy": greedy_decode}

__all__ = ["DECODERS", "Decoder", "Hypothesis", "greedy_decode"]
