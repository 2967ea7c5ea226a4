import torch

from linescribe.alphabet import Alphabet
from linescribe.decoding import greedy_decode


def _log_probs(frames: list[list[float]]) -> torch.Tensor:
    """(T, C) probabilities -> (T, 1, C) log-probs."""
    return torch.tensor(frames).log().unsqueeze(1)


def test_repeats_merge_and_blanks_separate():
    alphabet = Alphabet("ab")
    # frames: a a blank a b b -> "aab"
    probs = [[0.1, 0.8, 0.1], [0.1, 0.7, 0.2], [0.9, 0.05, 0.05], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]]
    (hypothesis,) = greedy_decode(_log_probs(probs), torch.tensor([6]), alphabet)
    assert hypothesis.text == "aab"
    assert [round(c, 2) for c in hypothesis.char_confidences] == [0.8, 0.6, 0.8]
    assert hypothesis.char_frames == ((0, 2), (3, 4), (4, 6))  # each character's run of frames
    assert 0.0 <= hypothesis.confidence <= 1.0


def test_lengths_cut_off_padding_frames():
    alphabet = Alphabet("ab")
    probs = [[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]
    (hypothesis,) = greedy_decode(_log_probs(probs), torch.tensor([1]), alphabet)
    assert hypothesis.text == "a"


def test_an_empty_reading_is_as_confident_as_its_least_certain_blank():
    """An empty reading was given confidence 1.0 even where a character almost won a frame."""
    (clear,) = greedy_decode(_log_probs([[0.99, 0.005, 0.005]] * 3), torch.tensor([3]), Alphabet("ab"))
    assert clear.text == "" and round(clear.confidence, 2) == 0.99
    (doubtful,) = greedy_decode(_log_probs([[0.99, 0.005, 0.005], [0.5, 0.45, 0.05]]), torch.tensor([2]), Alphabet("ab"))
    assert doubtful.text == "" and round(doubtful.confidence, 2) == 0.5
    (nothing,) = greedy_decode(_log_probs([[0.99, 0.005, 0.005]]), torch.tensor([0]), Alphabet("ab"))
    assert nothing.text == "" and nothing.confidence == 1.0
