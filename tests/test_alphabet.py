import pytest

from linescribe.alphabet import BLANK_ID, Alphabet
from linescribe.errors import AlphabetError


def test_from_texts_is_sorted_and_round_trips():
    alphabet = Alphabet.from_texts(["bca", "a c"])
    assert alphabet.chars == [" ", "a", "b", "c"]
    assert alphabet.num_classes == 5
    assert alphabet.decode(alphabet.encode("cab a")) == "cab a"
    assert BLANK_ID not in alphabet.encode("abc")


def test_unknown_characters_are_named():
    alphabet = Alphabet("ab")
    with pytest.raises(AlphabetError, match="'z'"):
        alphabet.encode("abz")
    assert alphabet.unknown_chars("azy") == {"z", "y"}


@pytest.mark.parametrize("chars", [[], ["a", "a"], ["ab"]])
def test_bad_alphabets_are_refused(chars):
    with pytest.raises(AlphabetError):
        Alphabet(chars)


def test_from_file_reads_space_marker(tmp_path):
    path = tmp_path / "alphabet.txt"
    path.write_text("a\n<space>\nb\t12\n", encoding="utf-8")
    assert Alphabet.from_file(str(path)).chars == ["a", " ", "b"]
    with pytest.raises(AlphabetError, match="missing.txt"):
        Alphabet.from_file(str(tmp_path / "missing.txt"))


def test_from_file_reads_a_charset_with_counts(tmp_path):
    """The format of ../shared/data/charset.txt: character, tab, count; the space as <space>."""
    path = tmp_path / "charset.txt"
    path.write_text("<space>\t85798\n!\t104\ne\t9000\n", encoding="utf-8")
    assert Alphabet.from_file(str(path)).chars == [" ", "!", "e"]
