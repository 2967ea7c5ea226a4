"""What each decoder buys: CER, WER and lines/s per decoder on each test split.

    python benchmarks/decoders.py [--model default] [--limit 0] [--threads 2]
    python benchmarks/decoders.py --splits hooker/val --grid          # tune lm_weight, word_bonus, OOV penalties
    python benchmarks/decoders.py --splits copiste/val poilus/val --grid --lm french
    python benchmarks/decoders.py --spellers                          # symspell vs autocorrect
    python benchmarks/decoders.py --splits hooker/val --pruning       # choose char_min_logp

The network runs once per split; every decoder then reads the same log-probabilities, so the
table compares decoders and nothing else. lines/s counts the network's share (the same for all)
plus the decoder's own time, on this machine's CPU. The references are cleaned with the model's
own transcription rules, as ``linescribe eval`` does. The bundled LM is English: on the French
splits (copiste, poilus) it is expected to hurt, and is shown so that nobody has to guess.

``--spellers`` measures the two spelling correctors (autocorrect only where it is installed:
``pip install autocorrect``; it is not a dependency) without a model: words of English reference
lines (hooker val) get one random letter edit each with probability ``--typo-rate`` (substitute,
delete, insert or swap, as a recognizer errs), and each corrector is scored on the damaged lines
and on the clean ones (where every change is a new error).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from linescribe.data.batching import pad_batch, width_sorted_batches
from linescribe.data.dataset import load_datasets
from linescribe.data.images import load_sample_image
from linescribe.data.text import parse_rules
from linescribe.decoding import DecodingOptions, build_decoder
from linescribe.decoding.spell import Speller
from linescribe.metrics import ErrorRates
from linescribe.modelfile import resolve_model_path
from linescribe.modelfile.weights import load_model_file

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines"
SPLITS = ["hooker/test", "copiste/test", "poilus/test"]

DECODER_CONFIGS: dict[str, DecodingOptions] = {
    "greedy": DecodingOptions(),
    "greedy + spell": DecodingOptions(speller="symspell"),
    "greedy + spell (fr)": DecodingOptions(speller="symspell-fr"),
    "beam (16)": DecodingOptions("beam", beam_width=16),
    "beam (16) + spell (fr)": DecodingOptions("beam", beam_width=16, speller="symspell-fr"),
    "beam_lm (16, english)": DecodingOptions("beam_lm", beam_width=16),
    "beam_lm + spell": DecodingOptions("beam_lm", beam_width=16, speller="symspell"),
    "beam_lm (16, french)": DecodingOptions("beam_lm", beam_width=16, lm="french", lm_weight=0.2),
}


@dataclass
class NetworkOutput:
    references: list[str]
    batches: list[tuple[torch.Tensor, torch.Tensor, list[int]]]  # log_probs, lengths, line indices
    seconds: float


def run_network(model, split: str, limit: int, batch_size: int = 16) -> NetworkOutput:
    rules = parse_rules(model.training.get("config", {}).get("text_rules", []))
    (dataset,) = load_datasets([str(DATA / split)], False, rules)
    samples = dataset.samples[:limit] if limit else dataset.samples
    images = [model.preprocessing(load_sample_image(sample)) for sample in samples]
    net = model.net.eval()
    batches = []
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in width_sorted_batches([image.shape[1] for image in images], batch_size):
            padded, widths = pad_batch([images[i] for i in batch])
            log_probs, lengths = net(padded, widths)
            batches.append((log_probs.cpu(), lengths.cpu(), list(batch)))
    return NetworkOutput([sample.text for sample in samples], batches, time.perf_counter() - start)


def score(output: NetworkOutput, decoder: Callable, alphabet) -> tuple[ErrorRates, float]:
    predictions: dict[int, str] = {}
    start = time.perf_counter()
    for log_probs, lengths, indices in output.batches:
        for index, hypothesis in zip(indices, decoder(log_probs, lengths, alphabet)):
            predictions[index] = hypothesis.text
    seconds = time.perf_counter() - start
    rates = ErrorRates()
    for index, reference in enumerate(output.references):
        rates.add(reference, predictions[index])
    return rates, seconds


def decoder_table(args) -> None:
    model = load_model_file(resolve_model_path(args.model))
    print(f"model {model.name or args.model}; {args.threads} torch threads; limit {args.limit or 'none'}")
    print("| split | decoder | CER | WER | lines/s |")
    print("|---|---|---|---|---|")
    for split in args.splits:
        output = run_network(model, split, args.limit)
        lines = len(output.references)
        for label, options in DECODER_CONFIGS.items():
            if args.decoders and label.split(" ")[0] not in args.decoders:
                continue
            if options.decoder == "beam_lm":  # a configuration's own values win (the French LM's weight)
                options = replace(
                    options,
                    lm_weight=args.lm_weight if options.lm_weight is None else options.lm_weight,
                    word_bonus=args.word_bonus if options.word_bonus is None else options.word_bonus,
                )
            rates, seconds = score(output, options.build(model.alphabet), model.alphabet)
            speed = lines / (output.seconds + seconds)
            print(f"| {split} ({lines}) | {label} | {rates.cer:.2%} | {rates.wer:.2%} | {speed:.1f} |", flush=True)


OOV_PENALTY_PAIRS = ((0.0, -0.5), (0.0, -0.75), (0.0, -1.0), (-0.5, -0.75), (-1.0, -0.5), (-1.0, -0.75), (-1.0, -1.0),
                     (-1.0, -1.25), (-1.5, -0.75), (-2.0, -0.75))
"""What an unknown word pays (once, per letter): the ten pairs ``--grid`` tries."""


def grid(args) -> None:
    """beam_lm with ``--lm`` over lm_weight x word_bonus x the OOV penalty pairs."""
    model = load_model_file(resolve_model_path(args.model))
    print("| split | LM | lm_weight | word_bonus | OOV once | OOV per letter | CER | WER |")
    print("|---|---|---|---|---|---|---|---|")
    for split in args.splits:
        output = run_network(model, split, args.limit)
        for lm_weight in (0.2, 0.3, 0.5, 0.8):
            for word_bonus in (0.0, 1.0, 2.0):
                for once, per_letter in OOV_PENALTY_PAIRS:
                    decoder = build_decoder("beam_lm", beam_width=args.beam_width, lm=args.lm, lm_weight=lm_weight,
                                            word_bonus=word_bonus, oov_word_penalty=once, oov_penalty=per_letter)
                    rates, _ = score(output, decoder, model.alphabet)
                    print(f"| {split} | {args.lm} | {lm_weight} | {word_bonus} | {once} | {per_letter} | {rates.cer:.2%} | {rates.wer:.2%} |",
                          flush=True)


PRUNING_LEVELS = (-12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0)


def pruning(args) -> None:
    """Beam decoders skip, on each frame, characters whose log-probability is below
    char_min_logp: CER, WER and the decoder's own lines/s at each level, the LM chosen by the
    split's language (french for copiste, poilus and the later French sets)."""
    model = load_model_file(resolve_model_path(args.model))
    print(f"model {model.name or args.model}; beam width {args.beam_width}; decoder time alone (one thread)")
    print("| split | decoder | char_min_logp | CER | WER | decoder lines/s |")
    print("|---|---|---|---|---|---|")
    for split in args.splits:
        output = run_network(model, split, args.limit)
        lm = "english" if split.startswith("hooker") else "french"
        for name, options in (("beam", {}), ("beam_lm", {"lm": lm})):
            for level in PRUNING_LEVELS:
                decoder = build_decoder(name, beam_width=args.beam_width, char_min_logp=level, **options)
                rates, seconds = score(output, decoder, model.alphabet)
                label = f"{name} ({lm})" if options else name
                print(f"| {split} | {label} | {level:g} | {rates.cer:.2%} | {rates.wer:.2%} | {len(output.references) / seconds:.1f} |",
                      flush=True)


LETTERS = "abcdefghijklmnopqrstuvwxyz"


def add_typos(text: str, rate: float, rng: random.Random) -> str:
    words = text.split(" ")
    for position, word in enumerate(words):
        if len(word) < 3 or not word.isalpha() or rng.random() >= rate:
            continue
        i = rng.randrange(len(word))
        edit = rng.choice(("substitute", "delete", "insert", "swap"))
        if edit == "substitute":
            word = word[:i] + rng.choice(LETTERS) + word[i + 1 :]
        elif edit == "delete":
            word = word[:i] + word[i + 1 :]
        elif edit == "insert":
            word = word[:i] + rng.choice(LETTERS) + word[i:]
        elif i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        words[position] = word
    return " ".join(words)


def spellers(args) -> None:
    manifest = DATA / "hooker" / "manifest.tsv"
    references = [line.rstrip("\n").split("\t")[-1] for line in manifest.read_text(encoding="utf-8").splitlines() if line.startswith("val\t")]
    if args.limit:
        references = references[: args.limit]
    rng = random.Random(0)
    damaged = [add_typos(text, args.typo_rate, rng) for text in references]
    print(f"{len(references)} hooker val reference lines; one random letter edit in {args.typo_rate:.0%} of the words")
    print("| corrector | proper nouns | CER damaged | WER damaged | CER clean | WER clean | ms/line |")
    print("|---|---|---|---|---|---|---|")
    none_damaged = ErrorRates()
    for reference, text in zip(references, damaged):
        none_damaged.add(reference, text)
    print(f"| none | - | {none_damaged.cer:.2%} | {none_damaged.wer:.2%} | 0.00% | 0.00% | 0 |")
    import importlib.util

    backends = ["symspell"] + (["autocorrect"] if importlib.util.find_spec("autocorrect") else [])
    for backend in backends:
        for proper_nouns in (False, True):
            speller = Speller(backend, proper_nouns=proper_nouns)
            start = time.perf_counter()
            fixed = [speller.correct(text) for text in damaged]
            milliseconds = (time.perf_counter() - start) * 1000 / len(damaged)
            on_damaged, on_clean = ErrorRates(), ErrorRates()
            for reference, text in zip(references, fixed):
                on_damaged.add(reference, text)
            for reference in references:
                on_clean.add(reference, speller.correct(reference))
            print(f"| {backend} | {'corrected' if proper_nouns else 'kept'} | {on_damaged.cer:.2%} | {on_damaged.wer:.2%} "
                  f"| {on_clean.cer:.2%} | {on_clean.wer:.2%} | {milliseconds:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file or bundled name (default: the default model)")
    parser.add_argument("--splits", nargs="+", default=SPLITS, help="dataset/split folders under ../shared/data/lines")
    parser.add_argument("--decoders", nargs="+", help="only these decoders (greedy, beam, beam_lm)")
    parser.add_argument("--limit", type=int, default=0, help="read only the first N lines of each split")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam-width", type=int, default=16)
    parser.add_argument("--lm-weight", type=float, default=0.3, help="the decoders' default, tuned with --grid")
    parser.add_argument("--word-bonus", type=float, default=2.0, help="the decoders' default, tuned with --grid")
    parser.add_argument("--grid", action="store_true", help="try lm_weight x word_bonus x OOV penalties for beam_lm")
    parser.add_argument("--lm", default="english", help="the LM that --grid tunes: english, french or an ARPA file")
    parser.add_argument("--pruning", action="store_true", help="try char_min_logp levels for the beam decoders")
    parser.add_argument("--spellers", action="store_true", help="compare the spelling correctors on synthetic typos")
    parser.add_argument("--typo-rate", type=float, default=0.1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.spellers:
        spellers(args)
    elif args.pruning:
        pruning(args)
    elif args.grid:
        grid(args)
    else:
        decoder_table(args)


if __name__ == "__main__":
    main()
