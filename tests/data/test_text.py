import pytest

from linescribe.data.text import DropLine, apply_rules, parse_rules
from linescribe.errors import LinescribeError


def test_cremma_markup_becomes_plain_text():
    assert apply_rules("S^t Jean a >barré< écrit", ["cremma"]) == "St Jean a barré écrit"
    with pytest.raises(DropLine, match="illegible"):
        apply_rules("mot >< illisible", ["cremma"])


@pytest.mark.parametrize("text", ["cette requete <> méritent", "<> <> au non d'une peur", "La<>rijan-e Olya"])
def test_the_other_illegible_mark_drops_the_line_instead_of_reading_as_struck_words(text):
    """``<>`` (mss20's Badinter letters, mss19's Vivien folder, Copiste) is illegible ink too; the
    struck-word pattern would have turned ``<> a <>`` inside out into ``< a >``."""
    with pytest.raises(DropLine, match="illegible ink marked '<>'"):
        apply_rules(text, ["cremma"])


def test_two_struck_words_side_by_side_are_not_illegible_ink():
    """A real Copiste line: ``>Cery<>Cerry<`` holds ``<>`` only where one struck word ends and
    the next begins."""
    assert apply_rules("Notre-Dame-de->Cery<>Cerry< Cenilly", ["cremma"]) == "Notre-Dame-de-CeryCerry Cenilly"


def test_quotes_and_long_s():
    assert apply_rules("l’homme “dit”", ["quotes"]) == "l'homme \"dit\""
    assert apply_rules("„Wort“ und ‚Wort‘ ‛x‟", ["quotes"]) == "\"Wort\" und 'Wort' 'x\""  # both German pairs
    assert apply_rules("laisſe", ["long-s"]) == "laisse"
    assert apply_rules("l’homme", []) == "l’homme"


def test_rule_names_are_checked():
    assert parse_rules("cremma, quotes") == ["cremma", "quotes"]
    assert parse_rules(None) == [] and parse_rules("") == []
    with pytest.raises(LinescribeError, match="unknown text rules"):
        parse_rules("cremma,typo")
