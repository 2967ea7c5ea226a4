"""The Kneser-Ney ARPA builder against a hand computation, the ARPA reader, and ``lm build``."""

from __future__ import annotations

import gzip
import math
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from linescribe.cli.lm import lm as lm_group
from linescribe.lm import (
    BOS,
    EOS,
    UNK,
    LanguageModelError,
    NgramModel,
    build_lm,
    bundled_lms,
    load_lm,
    read_lexicon,
)
from linescribe.lm.kneser_ney import (
    D_FALLBACK,
    Discounts,
    adjusted_counts,
    count_ngrams,
    estimate_discounts,
    kneser_ney,
    prune_thresholds,
)
from linescribe.decoding import LMBeamDecoder
from linescribe.lm.words import line_words

TOY = ["a b", "b a b"]  # padded: <s> a b </s> / <s> b a b </s>


def test_adjusted_counts_are_continuation_counts_below_the_top_order():
    counts = count_ngrams([line.split() for line in TOY], 2)
    assert counts[1][("a", "b")] == 2
    adjusted = adjusted_counts(counts)
    # a follows <s> and b; b follows a (twice, counted once) and <s>; </s> follows b.
    assert adjusted[0][("a",)] == 2 and adjusted[0][("b",)] == 2 and adjusted[0][(EOS,)] == 1
    assert adjusted[0][(BOS,)] == 2  # starts with <s>: raw count
    assert adjusted[1][("a", "b")] == 2  # top order: raw count


def test_modified_discounts_from_counts_of_counts():
    # n1=10, n2=5, n3=3, n4=2: Y = 10/20 = 0.5
    counts = [1] * 10 + [2] * 5 + [3] * 3 + [4] * 2
    discounts = estimate_discounts(counts)
    assert discounts.d1 == pytest.approx(1 - 2 * 0.5 * 5 / 10)  # 0.5
    assert discounts.d2 == pytest.approx(2 - 3 * 0.5 * 3 / 5)  # 1.1
    assert discounts.d3 == pytest.approx(3 - 4 * 0.5 * 2 / 3)  # 1.6667
    assert estimate_discounts([1, 1, 2]) == D_FALLBACK  # no n3, n4: lmplz --discount_fallback


def test_bigram_probabilities_match_a_hand_computation():
    """Both orders fall back to D = (0.5, 1, 1.5) (too few counts-of-counts).

    Unigrams: adjusted a=2, b=2, </s>=1, <unk>=0; S = 5; gamma = (1 + 1 + .5) / 5 = .5,
    spread over |V| = 4 words: .125 each.
      p(a) = p(b) = (2 - 1)/5 + .125 = .325   p(</s>) = (1 - .5)/5 + .125 = .225   p(<unk>) = .125
    Bigrams (raw counts): <s> a 1, <s> b 1, a b 2, b </s> 2, b a 1.
      <s>: S=2, gamma = (.5 + .5)/2 = .5 ; p(a|<s>) = p(b|<s>) = .5/2 + .5*.325 = .4125
      a:   S=2, gamma = 1/2 = .5        ; p(b|a) = 1/2 + .5*.325 = .6625
      b:   S=3, gamma = (1 + .5)/3 = .5 ; p(</s>|b) = 1/3 + .5*.225 = .445833 ; p(a|b) = .5/3 + .5*.325 = .329167
    """
    model, lexicon = build_lm(TOY, order=2)
    assert dict(lexicon) == {"a": 2, "b": 3}
    expected_unigrams = {"a": 0.325, "b": 0.325, EOS: 0.225, UNK: 0.125}
    for word, p in expected_unigrams.items():
        assert model.ngrams[0][(word,)][0] == pytest.approx(math.log10(p), abs=1e-6)
    expected_bigrams = {
        (BOS, "a"): 0.4125,
        (BOS, "b"): 0.4125,
        ("a", "b"): 0.6625,
        ("b", EOS): 1 / 3 + 0.1125,
        ("b", "a"): 0.5 / 3 + 0.1625,
    }
    assert set(model.ngrams[1]) == set(expected_bigrams)
    for gram, p in expected_bigrams.items():
        assert model.ngrams[1][gram][0] == pytest.approx(math.log10(p), abs=1e-6)
    for context in (BOS, "a", "b"):
        assert model.ngrams[0][(context,)][1] == pytest.approx(math.log10(0.5), abs=1e-6)
    assert model.ngrams[0][(BOS,)][0] == -99.0
    # unlisted bigram: backoff(a) * p(a) = .5 * .325
    assert 10 ** model.log10_prob(("a",), "a") == pytest.approx(0.1625, abs=1e-6)
    assert 10 ** model.log10_prob(("b",), "zebra") == pytest.approx(0.5 * 0.125, abs=1e-6)  # <unk>


def test_given_discounts_are_used():
    counts = count_ngrams([line.split() for line in TOY], 2)
    model = kneser_ney(counts, discounts=[Discounts(0.5, 1.0, 1.5), Discounts(0.25, 0.5, 0.75)])
    # context a: S=2, a b has count 2 -> D=.5, gamma = .25 ; p(b|a) = 1.5/2 + .25 * .325
    assert 10 ** model.log10_prob(("a",), "b") == pytest.approx(0.75 + 0.08125, abs=1e-6)


@pytest.mark.parametrize("prune", [None, [0, 2, 2]])
def test_every_distribution_sums_to_one(prune):
    lines = ["the cat sat on the mat", "the dog sat on the cat", "a cat and a dog ran home", "the cat ran", "dog"] * 3
    lines += ["far away home", "the mat"]
    model, _ = build_lm(lines, order=3, prune=prune)
    vocabulary = [gram[0] for gram in model.ngrams[0] if gram[0] != BOS]
    for context in [(), (BOS,), ("the",), ("the", "cat"), (BOS, "the"), ("sat", "on"), ("unseen", "words"), ("far",)]:
        total = sum(10 ** model.log10_prob(context, word) for word in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-6), context
    if prune:
        assert len(model.ngrams[2]) < len(build_lm(lines, order=3)[0].ngrams[2])


def test_arpa_file_round_trip_and_format(tmp_path):
    model, _ = build_lm(["the cat sat", "the cat ran", "a dog sat"], order=3)
    path = tmp_path / "toy.arpa"
    model.write_arpa(path)
    text = path.read_text()
    assert text.startswith("\\data\\\nngram 1=") and text.rstrip().endswith("\\end\\")
    assert "\\1-grams:" in text and "\\2-grams:" in text and "\\3-grams:" in text
    assert "-99\t<s>\t" in text or "-99.0\t<s>\t" in text
    for line in text.split("\\3-grams:")[1].splitlines():
        if line and not line.startswith("\\"):
            assert len(line.split("\t")) == 2  # the top order has no backoff
    for suffix in (".arpa", ".arpa.gz"):
        model.write_arpa(tmp_path / f"again{suffix}")
        again = NgramModel.read_arpa(tmp_path / f"again{suffix}")
        for context, word in [((), "the"), (("the",), "cat"), (("the", "cat"), "sat"), (("a", "dog"), "ran"), (("x",), "y")]:
            assert again.log10_prob(context, word) == pytest.approx(model.log10_prob(context, word), abs=1e-5)


CASED_ARPA = """\\data\\
ngram 1=7
ngram 2=3

\\1-grams:
-1.0\t<s>\t-0.2
-0.5\tLondon\t-0.3
-2.0\tThe
-1.0\tthe\t-0.4
-2.0\tDon\u2019t
-inf\tDON\u2019T
-1.5\t</s>

\\2-grams:
-0.2\t<s> The
-0.5\t<s> the
-0.1\tthe London

\\end\\
"""


def test_a_cased_arpa_file_is_folded_to_the_words_the_decoder_looks_up(tmp_path):
    """KenLM's lmplz keeps case; the decoders look words up lower-cased with plain apostrophes,
    so London was scored as <unk>. Variants are merged: The and the are one word, with the
    backoff of the likelier."""
    path = tmp_path / "cased.arpa"
    path.write_text(CASED_ARPA, encoding="utf-8")
    model = NgramModel.read_arpa(path)
    assert model.vocabulary == {"london", "the", "don't"}
    assert model.log10_prob((), "london") == pytest.approx(-0.5)
    assert model.log10_prob((), "the") == pytest.approx(math.log10(10**-2.0 + 10**-1.0))
    assert model.ngrams[0][("the",)][1] == -0.4  # the likeliest variant's backoff, not the rare The's 0
    assert model.log10_prob((), "don't") == pytest.approx(-2.0)  # a -inf variant adds nothing
    assert model.log10_prob((BOS,), "the") == pytest.approx(math.log10(10**-0.2 + 10**-0.5))
    assert model.log10_prob(("the",), "london") == pytest.approx(-0.1)


def test_a_cased_arpa_file_keeps_each_context_a_distribution(tmp_path):
    """Regression: folding the continuations of A and a together gave p(cat|a) + p(dog|a) = 1.17
    (a sum of 1.5 over the vocabulary): one variant of a history is kept, with its backoff."""
    kneser_ney(count_ngrams([["A", "cat"], ["a", "dog"], ["a", "dog"]], 2)).write_arpa(tmp_path / "cased.arpa")
    model = NgramModel.read_arpa(tmp_path / "cased.arpa")
    words = sorted(model.vocabulary | {EOS, UNK})
    for context in [(), ("a",), ("cat",), (BOS,)]:
        assert sum(10 ** model.log10_prob(context, word) for word in words) == pytest.approx(1.0, abs=1e-6), context


@pytest.mark.parametrize(
    ("given", "order", "thresholds"),
    [(None, 3, [1, 1, 1]), ([0, 0, 2], 3, [1, 1, 2]), ([0, 2], 4, [1, 2, 2, 2]), ([1], 2, [1, 1]), ([0, 1, 2], 3, [1, 1, 2])],
)
def test_pruning_thresholds_fill_the_higher_orders_with_the_last_one(given, order, thresholds):
    """Regression: 0 after the first value was refused as decreasing, and a short list was filled
    with 1s, so 0,2 at order 4 was refused and 2 pruned nothing without a word."""
    assert prune_thresholds(given, order) == thresholds


@pytest.mark.parametrize(
    ("given", "message"),
    [([2], "the first, 2, would prune words"), ([0, 1, 2, 3], "4 given for a model of order 3"), ([0, -1], "must not be negative")],
)
def test_pruning_thresholds_that_cannot_apply_are_refused(given, message):
    with pytest.raises(LanguageModelError, match=message):
        build_lm(["the cat sat", "the cat"], order=3, prune=given)


def test_a_min_count_that_leaves_no_word_is_refused():
    with pytest.raises(LanguageModelError, match="no word of the corpus is seen 5 times"):
        build_lm(["the cat sat", "the dog"], min_count=5)


def test_a_lexicon_with_counts_after_spaces_is_read_and_one_without_words_refused(tmp_path):
    """Regression: 'the 100' (symspellpy's frequency lists) was the key 'the 100', not a word, and
    a lexicon of such lines decoded with every word unknown, without a word of warning."""
    spaced = tmp_path / "spaced.txt"
    spaced.write_text("the 100\ncat  50\nsat\t10\n", encoding="utf-8")
    assert read_lexicon(spaced) == {"the", "cat", "sat"}
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("1914\n42\n", encoding="utf-8")
    with pytest.raises(LanguageModelError, match=r"numbers.txt: no entry is a word"):
        LMBeamDecoder(lm="english", lexicon=numbers)


SHORT_ARPA = b"\\data\\\nngram 1=3\n\n\\1-grams:\n-1\ta\n-1\tb\n\n\\end\\\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nope.arpa", None, "nope.arpa: cannot read"),
        ("bad.arpa", b"hello\n", "bad.arpa: not an ARPA language model"),
        ("short.arpa", SHORT_ARPA, "declares 3 1-grams but the file lists 2"),
        ("cut.arpa.gz", gzip.compress(SHORT_ARPA)[:-12], "cut.arpa.gz: damaged gzip file"),
        ("odd.arpa", b"\\data\\\nngram x=1\n", "odd.arpa:2: expected 'ngram N=COUNT'"),
        ("empty.arpa", b"\\data\\\nngram 1=0\n\n\\1-grams:\n\n\\end\\\n", "empty.arpa: no unigrams"),
        ("nan.arpa", SHORT_ARPA.replace(b"-1\tb", b"nan\tb"), "nan.arpa:6: not a log10 probability"),
        ("above.arpa", SHORT_ARPA.replace(b"-1\tb", b"0.5\tb"), "above.arpa:6: not a log10 probability"),
    ],
)
def test_damaged_arpa_files_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(LanguageModelError, match=re.escape(message)):
        NgramModel.read_arpa(path)


def test_arpa_fields_are_split_on_spaces_and_tabs_only_and_blank_lines_are_allowed(tmp_path):
    """KenLM and SRILM part fields with ASCII spaces and tabs: a no-break space inside a French
    token (« mot, 100 000) is part of it, not a separator, and a \\data\\ section may hold blank lines."""
    text = "\\data\\\n\nngram\t1=3\nngram 2 = 1\n\n\\1-grams:\n-1\ta\u00a0b\t-0.5\n-1 c\r\n-inf <s> -inf\n\n\\2-grams:\n-0.1 <s> c\n\\end\\\n"
    (tmp_path / "odd.arpa").write_text(text, encoding="utf-8")
    model = NgramModel.read_arpa(tmp_path / "odd.arpa")
    assert model.vocabulary == {"a\u00a0b", "c"}
    assert model.log10_prob(("<s>",), "c") == pytest.approx(-0.1)
    assert all(math.isfinite(value) for grams in model.ngrams for pair in grams.values() for value in pair)


def test_an_lm_weight_of_zero_beside_minus_infinity_in_the_file_ranks_by_the_network(tmp_path):
    """0 * -inf is NaN: with --lm-weight 0 and an ARPA file that gives a word -inf, every beam's
    probability was NaN and the reading went by chance."""
    from linescribe.alphabet import Alphabet
    from linescribe.decoding.beam import LMBeamDecoder
    import torch

    (tmp_path / "inf.arpa").write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-inf\tab\n-1\tb\n\n\\end\\\n", encoding="utf-8")
    alphabet = Alphabet(list(" ab"))
    log_probs = torch.tensor([[0.02, 0.01, 0.97, 0.0], [0.02, 0.01, 0.0, 0.97]]).clamp_min(1e-6).log().unsqueeze(1)
    (reading,) = LMBeamDecoder(lm=load_lm(tmp_path / "inf.arpa"), lm_weight=0.0)(log_probs, torch.tensor([2]), alphabet)
    assert reading.text == "ab"
    assert all(math.isfinite(alternative.probability) for alternative in reading.alternatives)


def test_an_unknown_bundled_lm_is_named():
    with pytest.raises(LanguageModelError, match="no bundled one"):
        load_lm("no-such-lm")


def test_a_lexicon_that_is_not_utf8_names_the_file(tmp_path):
    lexicon = tmp_path / "latin1.txt"
    lexicon.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(LanguageModelError, match="latin1.txt: the lexicon is not UTF-8 text"):
        read_lexicon(lexicon)


def test_a_lexicon_or_lm_with_a_byte_order_mark_or_decomposed_accents_reads_as_the_decoder_writes(tmp_path):
    """A BOM stuck to the first (most frequent) word, and decomposed accents never matched the
    model's composed letters: both words were silently lost."""
    lexicon = tmp_path / "words.txt"
    lexicon.write_bytes("\ufeffthe\t9\ncafe\u0301\t3\n".encode("utf-8"))
    assert read_lexicon(lexicon) == {"the", "caf\u00e9"}
    arpa = tmp_path / "lm.arpa"
    arpa.write_bytes(("\ufeff" + CASED_ARPA.replace("London", "Cafe\u0301")).encode("utf-8"))
    model = NgramModel.read_arpa(arpa)
    assert model.vocabulary == {"caf\u00e9", "the", "don't"}
    assert model.log10_prob(("the",), "caf\u00e9") == pytest.approx(-0.1)


def test_a_language_model_file_that_writes_a_word_both_composed_and_decomposed_is_one_word(tmp_path):
    """The reader composed the whole file before counting: the two spellings of café collided and
    a valid file was refused as declaring 4 unigrams but listing 3."""
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    arpa = tmp_path / "both.arpa"
    arpa.write_text(
        f"\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-0.5\t{composed}\t-0.1\n-0.9\t{decomposed}\t-0.2\n"
        f"-1\t<unk>\n-0.6\tthe\t-0.3\n\n\\2-grams:\n-0.2\tthe {composed}\n-0.4\tthe {decomposed}\n\n\\end\\\n",
        encoding="utf-8",
    )
    model = NgramModel.read_arpa(arpa)
    assert model.vocabulary == {composed, "the"}
    assert model.log10_prob(("the",), composed) == pytest.approx(math.log10(10**-0.2 + 10**-0.4))
    assert model.ngrams[0][(composed,)][1] == -0.1  # the backoff of the likelier spelling


def test_a_corpus_in_decomposed_form_gives_whole_accented_words(tmp_path):
    """A combining accent is no letter: an NFD corpus (as macOS tools save it) was cut at every
    accent, été into e + te, and the LM built from it knew none of the accented words."""
    corpus = unicodedata.normalize("NFD", "le café était fermé\nun été à la mer\n")
    assert line_words(corpus.splitlines()[0]) == ["le", "caf\u00e9", "\u00e9tait", "ferm\u00e9"]
    model, lexicon = build_lm(corpus.splitlines(), order=2)
    assert {"caf\u00e9", "\u00e9t\u00e9", "\u00e0"} <= set(lexicon) == model.vocabulary
    arpa = tmp_path / "fr.arpa"
    model.write_arpa(arpa)
    scored = CliRunner().invoke(lm_group, ["score", str(arpa), unicodedata.normalize("NFD", "un été")])
    assert scored.exit_code == 0 and "<unk>" not in scored.output


def test_a_bundled_name_is_the_bundled_lm_even_beside_a_file_of_that_name(tmp_path, monkeypatch):
    """A file called english in the working directory was read in place of the bundled model, by
    the default beam_lm decoder too; ./english still reads the file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "english").write_text("my notes\n", encoding="utf-8")
    assert load_lm("english") is load_lm(bundled_lms()["english"])
    with pytest.raises(LanguageModelError, match="english: not an ARPA language model"):
        load_lm("./english")
    (tmp_path / "english").unlink()
    assert load_lm(Path("english")) is load_lm("english")  # a Path with no file: the bundled name still


def test_an_edited_lm_file_is_read_again(tmp_path):
    """Loaded models were kept by path for the life of the process: a server never saw an edit."""
    arpa = tmp_path / "own.arpa"
    arpa.write_bytes(SHORT_ARPA.replace(b"ngram 1=3", b"ngram 1=2"))
    assert load_lm(arpa).log10_prob((), "b") == pytest.approx(-1.0)
    assert load_lm(arpa) is load_lm(str(arpa))
    arpa.write_bytes(SHORT_ARPA.replace(b"ngram 1=3", b"ngram 1=2").replace(b"-1\tb", b"-0.25\tb"))
    assert load_lm(arpa).log10_prob((), "b") == pytest.approx(-0.25)


def test_words_are_letter_runs_lower_cased():
    assert line_words("Kew, 3rd June 1859: Hooker\u2019s well-known plants!") == ["kew", "rd", "june", "hooker's", "well", "known", "plants"]


def test_lm_build_command_writes_model_and_lexicon(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat.\nThe dog sat, 3 times.\nA cat ran!\n", encoding="utf-8")
    result = CliRunner().invoke(lm_group, ["build", str(corpus), "-o", str(tmp_path / "toy.arpa.gz"), "--order", "2"])
    assert result.exit_code == 0, result.output
    model = load_lm(tmp_path / "toy.arpa.gz")
    assert model.order == 2 and model.vocabulary == {"the", "cat", "sat", "dog", "times", "a", "ran"}
    assert read_lexicon(tmp_path / "toy.lexicon.txt") == model.vocabulary
    assert (tmp_path / "toy.lexicon.txt").read_text().splitlines()[0] in ("cat\t2", "sat\t2", "the\t2")
    bad = CliRunner().invoke(lm_group, ["build", str(corpus), "-o", str(tmp_path / "x.arpa"), "--prune", "0,a"])
    assert bad.exit_code != 0 and "--prune" in bad.output


def test_bundled_english_lm_prefers_english():
    model = load_lm("english")
    assert model.order == 3 and len(model.vocabulary) > 10_000
    assert model.log10_prob(("i", "am"), "very") > model.log10_prob(("i", "am"), "the")
    assert model.sentence_log10_prob(["my", "dear", "sir"], bos=False, eos=False) > model.sentence_log10_prob(
        ["sir", "dear", "my"], bos=False, eos=False
    )


def test_bundled_french_lm_is_what_its_recipe_writes_and_prefers_french(tmp_path):
    import importlib.util

    from linescribe.lm import resolve_lm_path

    recipe = resolve_lm_path("french").parent / "make_french_lm.py"
    spec = importlib.util.spec_from_file_location("make_french_lm", recipe)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.french_unigram_model().write_arpa(tmp_path / "french.arpa.gz")
    rebuilt, shipped = NgramModel.read_arpa(tmp_path / "french.arpa.gz"), load_lm("french")
    assert rebuilt.vocabulary == shipped.vocabulary
    assert rebuilt.log10_prob((), "testament") == pytest.approx(shipped.log10_prob((), "testament"), abs=1e-6)
    assert shipped.order == 1 and len(shipped.vocabulary) > 100_000
    for french, english in [("soussigné", "signed"), ("lègue", "leg"), ("femme", "wife")]:
        assert shipped.log10_prob((), french) > shipped.log10_prob((), english)
    assert shipped.log10_prob((), "xqzw") == shipped.log10_prob((), UNK)


def test_a_bundled_lm_brings_its_tuned_weight_unless_one_is_given(tmp_path):
    from linescribe.decoding import LMBeamDecoder

    assert LMBeamDecoder(lm="french").lm_weight == 0.2
    assert LMBeamDecoder(lm="english").lm_weight == 0.3
    assert LMBeamDecoder(lm="french", lm_weight=0.5).lm_weight == 0.5
    own = tmp_path / "own.arpa"
    own.write_bytes(SHORT_ARPA.replace(b"ngram 1=3", b"ngram 1=2"))
    assert LMBeamDecoder(lm=own).lm_weight == 0.3
    by_path = LMBeamDecoder(lm=bundled_lms()["french"])  # the bundled file by its path: still tuned
    assert (by_path.lm_weight, by_path.oov_word_penalty, by_path.oov_penalty) == (0.2, 0.0, -0.75)
