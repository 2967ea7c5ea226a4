"""CTC prefix beam search, LM fusion, alignment and the decoder registry."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from linescribe.alphabet import Alphabet
from linescribe.decoding import DECODERS, OptionNotTaken, build_decoder, decoder_options, greedy_decode
from linescribe.decoding.alignment import align, align_chars
from linescribe.decoding.beam import BeamDecoder, Lexicon, LMBeamDecoder, WordScorer
from linescribe.lm import load_lm
from linescribe.lm.words import line_words
from linescribe.errors import LinescribeError
from linescribe.lm import build_lm


def _log_probs(frames: list[list[float]]) -> torch.Tensor:
    """(T, C) probabilities -> (T, 1, C) log-probs."""
    return torch.tensor(frames).log().unsqueeze(1)


def _peaky(rng: np.random.Generator, frames: int, classes: int, peak: float = 12.0) -> torch.Tensor:
    """Random (T, 1, C) log-probs whose best class per frame has probability > 0.9."""
    logits = rng.normal(size=(frames, classes))
    logits[np.arange(frames), rng.integers(0, classes, size=frames)] += peak
    log_probs = torch.log_softmax(torch.tensor(logits, dtype=torch.float32), dim=-1)
    return log_probs.unsqueeze(1)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 40))
def test_width_one_equals_greedy_on_confident_frames(seed, frames):
    alphabet = Alphabet("ab c")
    log_probs = _peaky(np.random.default_rng(seed), frames, alphabet.num_classes)
    assert log_probs.exp().max(dim=-1).values.min() > 0.9
    lengths = torch.tensor([frames])
    (greedy,) = greedy_decode(log_probs, lengths, alphabet)
    (beam,) = BeamDecoder(beam_width=1)(log_probs, lengths, alphabet)
    assert beam.text == greedy.text
    assert beam.char_confidences == pytest.approx(greedy.char_confidences, abs=1e-6)
    assert beam.char_frames == greedy.char_frames
    assert beam.confidence == pytest.approx(greedy.confidence, abs=1e-6)


def test_beam_sums_over_paths_where_greedy_cannot():
    # Every frame: blank .4, a .3, b .3. Best path: blank blank -> "" (.16); but "a" has
    # aa + a- + -a = .09 + .12 + .12 = .33.
    alphabet = Alphabet("ab")
    log_probs = _log_probs([[0.4, 0.3, 0.3]] * 2)
    lengths = torch.tensor([2])
    assert greedy_decode(log_probs, lengths, alphabet)[0].text == ""
    (hypothesis,) = BeamDecoder(beam_width=8)(log_probs, lengths, alphabet)
    assert hypothesis.text in ("a", "b")
    first, second = hypothesis.alternatives[:2]
    assert first.text == hypothesis.text and {first.text, second.text} == {"a", "b"}
    assert first.probability == pytest.approx(0.33 / (0.33 + 0.33 + 0.16 + 0.09 + 0.09), abs=1e-6)
    assert sum(a.probability for a in hypothesis.alternatives) <= 1.0 + 1e-9


def test_batches_respect_lengths_and_keep_line_order():
    alphabet = Alphabet("ab")
    rng = np.random.default_rng(3)
    first, second = _peaky(rng, 12, 3), _peaky(rng, 12, 3)
    batch = torch.cat([first, second], dim=1)
    lengths = torch.tensor([12, 7])
    decoder = BeamDecoder(beam_width=4)
    together = decoder(batch, lengths, alphabet)
    assert together[0].text == decoder(first, torch.tensor([12]), alphabet)[0].text
    assert together[1].text == decoder(second[:7], torch.tensor([7]), alphabet)[0].text


def _ambiguous_line(alphabet: Alphabet, options: list[dict[str, float]]) -> torch.Tensor:
    """One frame per option (char -> probability, the rest to blank), a blank frame after each."""
    frames = []
    for option in options:
        frame = np.full(alphabet.num_classes, 1e-6)
        for char, p in option.items():
            frame[alphabet.encode(char)[0]] = p
        frame[0] = max(1e-6, 1 - sum(option.values()))
        frames.append(frame / frame.sum())
        blank = np.full(alphabet.num_classes, 1e-6)
        blank[0] = 1.0
        frames.append(blank / blank.sum())
    return torch.tensor(np.array(frames), dtype=torch.float32).log().unsqueeze(1)


ALPHABET = Alphabet(list(" acdeghot1,."))
LINES = ["the cat ate the dog", "the dog ate", "a cat", "the cat", "to the dog", "go to the cat"] * 5


def test_lm_turns_an_uncertain_letter_into_a_likely_word():
    lm, _ = build_lm(LINES, order=2)
    # "the c?t" where the network slightly prefers "o" to "a": greedy says "cot".
    log_probs = _ambiguous_line(ALPHABET, [{"t": 0.99}, {"h": 0.99}, {"e": 0.99}, {" ": 0.99}, {"c": 0.99},
                                           {"o": 0.5, "a": 0.45}, {"t": 0.99}])
    lengths = torch.tensor([log_probs.shape[0]])
    assert greedy_decode(log_probs, lengths, ALPHABET)[0].text == "the cot"
    assert BeamDecoder(beam_width=8)(log_probs, lengths, ALPHABET)[0].text == "the cot"
    (fused,) = LMBeamDecoder(lm=lm, lm_weight=1.0, word_bonus=0.0)(log_probs, lengths, ALPHABET)
    assert fused.text == "the cat"
    assert fused.char_confidences[5] == pytest.approx(0.45, abs=1e-3)  # the network's support for "a"
    assert fused.alternatives[0].text == "the cat"
    (weightless,) = LMBeamDecoder(lm=lm, lm_weight=0.0, word_bonus=0.0, oov_penalty=0.0, oov_word_penalty=0.0)(
        log_probs, lengths, ALPHABET
    )
    assert weightless.text == "the cot"


def _spelt(alphabet: Alphabet, text: str, sure: float = 0.95, **uncertain: float) -> torch.Tensor:
    """A line that spells ``text`` one frame per character at probability ``sure``; the
    characters at the positions named in ``uncertain`` (``at_9=0.9``) at that probability, the
    rest of it on blank."""
    probabilities = {int(name.removeprefix("at_")): p for name, p in uncertain.items()}
    return _ambiguous_line(alphabet, [{char: probabilities.get(i, sure)} for i, char in enumerate(text)])


WORDS_ALPHABET = Alphabet(list(" 'abcdefghijklmnopqrstuvwxyz"))


@pytest.mark.parametrize("space", [0.9, 0.99])
@pytest.mark.parametrize(("lm", "text"), [("english", "we met zorblat quentyx at home"), ("french", "nous avons vu zorblat quentyx hier")])
def test_a_clear_space_between_two_unknown_words_is_kept(space, lm, text):
    """An unknown word once paid a fixed cost, so writing two of them as one saved it and beams
    dropped even a 99 % space: ``we met zorblatquentyx at home``."""
    log_probs = _spelt(WORDS_ALPHABET, text, **{f"at_{text.index(' quentyx')}": space})
    lengths = torch.tensor([log_probs.shape[0]])
    assert LMBeamDecoder(lm=lm)(log_probs, lengths, WORDS_ALPHABET)[0].text == text


def test_a_french_word_written_with_a_ligature_is_the_lm_s_word():
    """The French LM spells œ as oe (as its word counts do): ``cœur`` read as unknown and lost to
    ``cour`` although the network was sure of the œ."""
    alphabet = Alphabet(list(" abcdefghijklmnopqrstuvwxyzœ"))
    log_probs = _ambiguous_line(alphabet, [{c: 0.99} for c in "le c"] + [{"œ": 0.8, "o": 0.15}] + [{c: 0.99} for c in "ur"])
    lengths = torch.tensor([log_probs.shape[0]])
    assert LMBeamDecoder(lm="french")(log_probs, lengths, alphabet)[0].text == "le cœur"


@pytest.mark.parametrize("text", ["il voit l'homme", "qui c'est", "qu'il vient", "d'un jour"])
def test_french_elisions_keep_their_letters(text):
    """The French LM knows ``homme`` and barely ``c'``: the elided word must not be read as an
    unknown word whose first letter beams then drop (``'homme``)."""
    log_probs = _spelt(WORDS_ALPHABET, text, sure=0.9)
    lengths = torch.tensor([log_probs.shape[0]])
    assert LMBeamDecoder(lm="french")(log_probs, lengths, WORDS_ALPHABET)[0].text == text


@pytest.mark.parametrize(
    "text",
    ["he said 'yes' then", "the dogs' food", "the garden's gate",
     # words the lexicon also holds with an apostrophe after them (sister's, we're, it'll, i'm)
     "my 'sister' came", "he said 'we' then", "he said 'it' then", "said 'i' then", "the 'tree' fell"],
)
def test_an_apostrophe_that_ends_a_word_or_a_possessive_costs_nothing(text):
    """A closing quote or a possessive of a known word is not an unknown word (``'yes`` was read;
    and where the lexicon goes on after the apostrophe, as with ``sister's``, ``'sister``)."""
    log_probs = _spelt(WORDS_ALPHABET, text, **{f"at_{text.rindex(chr(39))}": 0.7})
    lengths = torch.tensor([log_probs.shape[0]])
    assert LMBeamDecoder(lm="english")(log_probs, lengths, WORDS_ALPHABET)[0].text == text


def test_an_unlikely_apostrophe_does_not_cut_a_known_word_out_of_an_unknown_one():
    """Only elisions the lexicon holds (l', qu') end a word at an apostrophe: any known word did,
    and ``plant'aginaceae`` beat ``plantaginaceae``, its known half scored for free."""
    text = "the plantaginaceae are"
    frames = [{char: 0.95} for char in text]
    log_probs = _ambiguous_line(WORDS_ALPHABET, frames)
    after_plant = 2 * (text.index("plant") + len("plant")) - 1  # the blank frame after the t
    log_probs[after_plant, 0, WORDS_ALPHABET.encode("'")[0]] = -4.5
    lengths = torch.tensor([log_probs.shape[0]])
    assert LMBeamDecoder(lm="english")(log_probs, lengths, WORDS_ALPHABET)[0].text == text


def test_registry_and_option_errors():
    assert set(DECODERS) == {"greedy", "beam", "beam_lm"}
    assert isinstance(build_decoder("beam", beam_width=3), BeamDecoder)
    with pytest.raises(LinescribeError, match="unknown decoder 'beem'.*greedy"):
        build_decoder("beem")
    with pytest.raises(OptionNotTaken, match="^beam_width needs decoder beam or beam_lm \\(got decoder greedy\\)$"):
        build_decoder("greedy", beam_width=3)
    with pytest.raises(LinescribeError, match="does not take lm_wieght.*lm_weight"):
        build_decoder("beam_lm", lm_wieght=0.3)
    for width in (0, 2.5, "8", True):  # refused when built, not as a TypeError after the network ran
        with pytest.raises(LinescribeError, match="beam width must be a whole number of at least 1"):
            build_decoder("beam", beam_width=width)
    with pytest.raises(LinescribeError, match="n_best must be a whole number"):
        build_decoder("beam", n_best=2.0)
    with pytest.raises(LinescribeError, match="char_min_logp must be a finite number, got nan"):
        build_decoder("beam_lm", char_min_logp=float("nan"))
    with pytest.raises(LinescribeError, match="word_bonus must be a finite number, got '2'"):
        build_decoder("beam_lm", word_bonus="2")
    assert build_decoder("beam", beam_width=np.int64(4)).beam_width == 4
    assert build_decoder("beam", char_min_logp=float("-inf")).char_min_logp == float("-inf")  # no pruning


def test_every_option_of_every_decoder_reaches_it_through_decoding_options():
    """n_best and the OOV penalties were decoder options that DecodingOptions lacked, so
    load_model(decoder="beam", n_best=3) was a TypeError; a misspelt option is a LinescribeError."""
    from linescribe.decoding.options import DECODER_KEYWORDS, DecodingOptions

    assert set(DECODER_KEYWORDS) == {option for name in DECODERS for option in decoder_options(name)}
    assert DecodingOptions.of("beam", n_best=3).build(Alphabet("ab")).n_best == 3
    with pytest.raises(LinescribeError, match="unknown decoding option beam_widht .*beam_width"):
        DecodingOptions.of("beam", beam_widht=8)


def test_the_lexicon_walk_folds_case_as_whole_words_do():
    """Lower-casing a whole word writes a final sigma, the letter alone a medial one: ΟΔΟΣ, which
    the lexicon holds as οδος, was charged as an unknown word."""
    lexicon = Lexicon(["\u03bf\u03b4\u03bf\u03c2", "stra\u00dfe"])
    scorer = WordScorer(None, 0.0, 0.0, lexicon, oov_penalty=-1.0, oov_word_penalty=-1.0)
    assert "\u039f\u0394\u039f\u03a3" in lexicon
    assert scorer.text_score("\u039f\u0394\u039f\u03a3") == scorer.text_score("\u03bf\u03b4\u03bf\u03c2") == 0.0
    assert scorer.text_score("strasse") == -8.0  # no folding beyond what lower-casing does


def test_alignment_finds_the_frames_of_each_character():
    alphabet = Alphabet("ab")
    # frames: a a blank a b b
    probs = [[0.1, 0.8, 0.1], [0.1, 0.7, 0.2], [0.9, 0.05, 0.05], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]]
    log_probs = np.log(np.array(probs))
    assert align(log_probs, alphabet.encode("aab")).tolist() == [0, 0, -1, 1, 2, 2]
    aligned = align_chars(log_probs, alphabet.encode("aab"))
    assert aligned.confidences == pytest.approx((0.8, 0.6, 0.8))
    assert aligned.frames == ((0, 2), (3, 4), (4, 6))
    assert align(log_probs, alphabet.encode("aaaa")) is None  # a a a a needs 7 frames
    assert align(log_probs, []).tolist() == [-1] * 6
    forced = align_chars(log_probs, alphabet.encode("bab")).confidences
    assert all(0.0 <= c <= 1.0 for c in forced) and min(forced) < 0.5


def test_alignment_of_lines_longer_than_63_characters():
    """More than 127 CTC states once overflowed the int8 back-pointers (a real default-model line)."""
    alphabet = Alphabet("ab")
    text = "ab" * 50
    ids = alphabet.encode(text)
    frames = np.full((2 * len(ids), len(alphabet) + 1), np.log(0.01))
    for position, class_id in enumerate(ids):
        frames[2 * position, class_id] = np.log(0.9)
        frames[2 * position + 1, 0] = np.log(0.9)
    path = align(frames, ids)
    assert path is not None and path[::2].tolist() == list(range(len(ids)))
    assert align_chars(frames, ids).confidences == pytest.approx((0.9,) * len(ids))


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(2, 12), width=st.integers(1, 3))
def test_the_greedy_text_is_never_pruned_away(seed, frames, width):
    """A narrow beam can drop the frame-wise best text on the way and then return a less likely
    one; that text, scored over all its paths, is always among the final candidates."""
    from linescribe.decoding.alignment import ctc_log_likelihood
    from linescribe.decoding.beam import prefix_beam_search

    alphabet = Alphabet("ab ")
    rng = np.random.default_rng(seed)
    log_probs = torch.log_softmax(torch.tensor(rng.normal(size=(frames, 4)) * 2), dim=-1).numpy()
    (greedy,) = greedy_decode(torch.tensor(log_probs).unsqueeze(1), torch.tensor([frames]), alphabet)
    results = prefix_beam_search(log_probs, alphabet.chars, width)
    scores = {text: ctc for text, ctc, _ in results}
    assert greedy.text in scores
    assert scores[greedy.text] <= ctc_log_likelihood(log_probs, alphabet.encode(greedy.text)) + 1e-9


def test_a_word_leaning_on_an_elision_is_read_when_the_lexicon_also_goes_on_past_it():
    """The French lexicon holds both ``quelqu'`` and ``quelqu'un``: ``quelqu'une`` left the
    lexicon at its ``e`` and was scored as one unknown word instead of ``une``."""
    lm = load_lm("french")
    scorer = WordScorer(lm, 1.0, 0.0, Lexicon(lm.vocabulary), oov_penalty=-1.0, oov_word_penalty=-1.0)
    assert "quelqu'un" in scorer.lexicon and "quelqu'" in scorer.lexicon and "quelqu'une" not in scorer.lexicon
    une, unknown = scorer.text_score("quelqu'une"), scorer.text_score("quelqu'zzzz")
    assert une == pytest.approx(scorer.text_score("une"))
    assert unknown < une - 4


@pytest.mark.parametrize("apostrophe", ["\u2019", "\u02bc"])
def test_every_kind_of_apostrophe_is_read_like_the_plain_one(apostrophe):
    """U+02BC is a letter to Unicode: it made ``dogs\u02bc`` and ``hooker\u02bcs`` unknown words."""
    lm = load_lm("english")
    scorer = WordScorer(lm, 1.0, 0.0, Lexicon(lm.vocabulary), oov_penalty=-1.0, oov_word_penalty=-1.0)
    for text in ["the dogs' food", "the garden's gate", "'we' said"]:
        assert scorer.text_score(text.replace("'", apostrophe)) == pytest.approx(scorer.text_score(text))
    assert line_words(f"{apostrophe}we{apostrophe}") == ["we"]


def test_decoders_for_other_weights_share_one_lexicon_trie(tmp_path):
    """Each web request may ask for its own lm_weight; each new decoder built a trie of the whole
    vocabulary again (2 s and 60 MB for French). An edited lexicon file is read again."""
    first, second = LMBeamDecoder(lm="french", lm_weight=0.31), LMBeamDecoder(lm="french", lm_weight=0.32)
    assert first.lexicon is second.lexicon
    words = tmp_path / "words.txt"
    words.write_text("cat\nthe\n", encoding="utf-8")
    restricted = LMBeamDecoder(lm="english", lexicon=words)
    assert restricted.lexicon is LMBeamDecoder(lm="english", lexicon=words, word_bonus=1.0).lexicon
    assert "dog" not in restricted.lexicon
    words.write_text("cat\nthe\ndog\n", encoding="utf-8")
    os.utime(words, ns=(1, 10**18))  # a later modification time, whatever the file system's clock
    assert "dog" in LMBeamDecoder(lm="english", lexicon=words).lexicon


def test_a_callers_own_lm_is_not_kept_alive_by_the_lexicon_cache():
    """Keyed by the LM object, the cache held up to 8 of a tuning loop's LMs and their tries."""
    from linescribe.decoding import beam
    from linescribe.lm import resolve_lm_path
    from linescribe.lm.arpa import NgramModel

    own = NgramModel.read_arpa(resolve_lm_path("english"))
    before = dict(beam._SHARED_LEXICONS)
    decoder = LMBeamDecoder(lm=own)
    assert decoder.lexicon is not None and beam._SHARED_LEXICONS == before
