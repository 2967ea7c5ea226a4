"""Spelling correction leaves numbers, punctuation, capitals and known words alone."""

from __future__ import annotations

import pytest
import torch

from linescribe.alphabet import Alphabet
from linescribe.decoding import BeamDecoder, GreedyDecoder
from linescribe.decoding.spell import SpellCorrected, Speller
from linescribe.errors import LinescribeError


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller("symspell")


def test_misspelt_words_are_corrected_and_punctuation_kept(speller):
    assert speller.correct("I recieved the specimns, thank you!") == "I received the specimens, thank you!"


def test_numbers_punctuation_and_known_words_are_left_alone(speller):
    for text in ["Kew, 3rd June 1859.", "12 plants & 3 seeds -- 1st of May", "the cat sat on the mat", "?!;:()", "1 2 3 45.6"]:
        assert speller.correct(text) == text
    assert speller.correct("on the 3rd of Jne") == "on the 3rd of Jne"  # capitalised: maybe a name


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u02bc"])
def test_a_correction_keeps_the_apostrophe_the_word_was_written_with(speller, apostrophe):
    """Corrections came back with a plain ' whatever the line had: a model whose alphabet holds
    only \u2019 lost it."""
    assert speller.correct(f"he coudn{apostrophe}t go") == f"he couldn{apostrophe}t go"
    assert speller.correct(f"he couldn{apostrophe}t go") == f"he couldn{apostrophe}t go"


def test_names_and_abbreviations_are_kept_unless_asked(speller):
    assert speller.correct("Darwn wrote to RBG") == "Darwn wrote to RBG"
    assert Speller("symspell", proper_nouns=True).correct("Specimns arrived") == "Specimens arrived"


def test_the_correction_cache_stays_bounded(speller, monkeypatch):
    monkeypatch.setattr("linescribe.decoding.spell.MAX_CACHED_WORDS", 3)
    for word in ["alpha", "beta", "gamma", "delta", "epsilon", "specimns"]:
        speller.correct_word(word)
        assert len(speller._cache) <= 3
    assert speller.correct_word("specimns") == "specimens"


def test_corrections_keep_within_the_alphabet():
    lowercase_without_v = Alphabet(list("abcdefghijklmnopqrstuwxyz ,"))
    assert Speller("symspell", alphabet=lowercase_without_v).correct("I recieved") == "I recieved"


def test_autocorrect_backend_and_unknown_backend():
    pytest.importorskip("autocorrect")
    corrected = Speller("autocorrect").correct("the specimns, 3 of them")
    assert "specimns" not in corrected and corrected.startswith("the ") and corrected.endswith(", 3 of them")
    with pytest.raises(LinescribeError, match="unknown speller 'aspell'"):
        Speller("aspell")


def test_spell_corrected_decoder_realigns_confidences():
    alphabet = Alphabet(list("aehrtw "))
    text = "tha water"  # the network writes "tha"; the speller makes it "the"
    frames = []
    for char in text:
        frame = torch.full((alphabet.num_classes,), 0.01)
        frame[alphabet.encode(char)[0]] = 0.9
        frames += [frame / frame.sum(), torch.eye(alphabet.num_classes)[0] * 0.9 + 0.01]
    log_probs = torch.stack(frames).log().unsqueeze(1)
    lengths = torch.tensor([len(frames)])
    (plain,) = GreedyDecoder()(log_probs, lengths, alphabet)
    (fixed,) = SpellCorrected(GreedyDecoder(), Speller("symspell"))(log_probs, lengths, alphabet)
    assert plain.text == "tha water" and fixed.text == "the water"
    assert len(fixed.char_confidences) == len(fixed.text)
    assert fixed.char_confidences[2] < 0.1 < plain.char_confidences[2]  # the network never wrote that "e"
    assert fixed.confidence < plain.confidence

    # a beam decoder's n-best list still starts with the text, the corrected one
    (beam,) = SpellCorrected(BeamDecoder(beam_width=4), Speller("symspell"))(log_probs, lengths, alphabet)
    assert beam.text == "the water" and beam.alternatives[0].text == "the water"
    assert "the water" not in [alternative.text for alternative in beam.alternatives[1:]]


@pytest.fixture(scope="module")
def french() -> Speller:
    return Speller("symspell-fr")


def test_french_words_are_corrected_with_their_accents(french):
    assert french.correct("Je soussigne lègue à ma fenme tous mes biens.") == "Je soussigné lègue à ma femme tous mes biens."
    assert french.correct("le 14 juilet 1916") == "le 14 juillet 1916"


def test_french_elisions_are_read_part_by_part(french):
    assert french.correct("qu'il a vu l'homne aujourd'hui") == "qu'il a vu l'homme aujourd'hui"
    assert french.correct("j'ai reçu d'elle") == "j'ai reçu d'elle"  # every part known: left alone


def test_french_names_and_numbers_are_kept(french):
    assert french.correct("Marie Dupont, 3e régiment, 1915") == "Marie Dupont, 3e régiment, 1915"



def test_spellers_in_several_threads_never_use_the_shared_symspell_at_once(monkeypatch):
    """Every Speller shares one SymSpell, whose edit-distance comparer keeps its cost rows on
    the object: web workers correcting at once overwrote each other's and served (and cached)
    wrong corrections. Each lookup here lingers so that an unguarded second one would overlap."""
    import threading
    import time

    from linescribe.decoding.spell import _symspell

    shared = _symspell("en")
    lookup = shared.lookup
    active, most, count = 0, 0, threading.Lock()

    def lingering_lookup(*args, **kwargs):
        nonlocal active, most
        with count:
            active += 1
            most = max(most, active)
        time.sleep(0.002)
        try:
            return lookup(*args, **kwargs)
        finally:
            with count:
                active -= 1

    monkeypatch.setattr(shared, "lookup", lingering_lookup)
    words = ["socities", "charmng", "specimns", "recieved", "botanicl", "intresting", "gardns", "leters"]
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append([Speller("symspell").correct(w) for w in words])) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert results == [["societies", "charming", "specimens", "received", "botanical", "interesting", "gardens", "letters"]] * 4


def test_words_the_english_dictionary_cannot_spell_are_left_alone(speller):
    """The English dictionary is ASCII only: every accented word was unknown and lost its accent
    (café -> cafe, naïve -> naive), and a word in mixed case lost its capitals (mRNA -> mana)."""
    for text in ["a café in Paris", "naïve résumé", "jalapeño", "the cœur of it", "mRNA and macOS", "an iPhone"]:
        assert speller.correct(text) == text
    assert speller.correct("a specimn of mRNA") == "a specimen of mRNA"


def test_french_words_with_a_ligature_are_known_as_the_dictionary_spells_them(french):
    """The French counts spell œ as oe: cœur was unknown, and corrected to cour."""
    assert french.correct("mon cœur et mon œuvre") == "mon cœur et mon œuvre"
    assert french.correct("mon coeur") == "mon coeur"


def test_decomposed_accents_do_not_cut_words_in_two(speller):
    """Regression: NFD 'résumé' was split at its accents and 'sume' corrected to 'some'."""
    assert speller.correct("re\u0301sume\u0301 of teh") == "résumé of the"
