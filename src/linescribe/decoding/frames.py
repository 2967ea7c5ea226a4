"""The network's output as numpy arrays, whether it comes from PyTorch or onnxruntime, so that
decoding never needs torch."""

from __future__ import annotations

from typing import Any

import numpy as np


def frame_array(log_probs: Any) -> np.ndarray:
    """log_probs (T,N,C) as float32 numpy: a numpy array as it is, a torch tensor from any
    device or dtype (bf16 validation on a GPU) copied to the CPU."""
    if isinstance(log_probs, np.ndarray):
        return log_probs.astype(np.float32, copy=False)
    return log_probs.detach().float().cpu().numpy()
