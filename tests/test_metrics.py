import pytest

from linescribe.metrics import confusions, error_rates


def test_corpus_level_rates_weight_by_length():
    rates = error_rates(["abcd", "ab"], ["abcd", "xb"])
    assert rates.char_errors == 1 and rates.chars == 6
    assert rates.cer == pytest.approx(1 / 6)  # not the mean of per-line rates (0 and 0.5)
    assert rates.wer == pytest.approx(1 / 2)
    assert rates.line_accuracy == pytest.approx(0.5)


def test_word_error_rate_counts_word_edits():
    rates = error_rates(["the cat sat"], ["the bat sat down"])
    assert rates.word_errors == 2 and rates.words == 3


def test_confusions_count_substitutions_insertions_deletions():
    counts = confusions(["abc", "abc"], ["xbc", "ab"])
    assert counts[("a", "x")] == 1
    assert counts[("c", "")] == 1
    assert confusions(["ab"], ["abz"])[("", "z")] == 1
