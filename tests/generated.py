"""Tiny generated line datasets and training settings, so tests never need downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
SHARED_LINES = SHARED / "data" / "lines"

WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "home"]


def render_line(text: str, size: int = 28, seed: int = 0) -> Image.Image:
    """A clean printed line, dark ink on light paper: easy to learn, good for round-trip tests."""
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 16, size + 16), color=235 - seed % 20)
    ImageDraw.Draw(image).text((8 - left, 8), text, fill=30, font=font)
    return image


def line_texts(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 4)))) for _ in range(count)]


def write_gt_folder(root: Path, texts: list[str], prefix: str = "doc") -> Path:
    """An image + .gt.txt folder; every 4 lines share a document so splits by group have work."""
    root.mkdir(parents=True, exist_ok=True)
    for index, text in enumerate(texts):
        stem = f"{prefix}{index // 4:03d}_l{index:04d}"
        render_line(text, seed=index).save(root / f"{stem}.png")
        (root / f"{stem}.gt.txt").write_text(text + "\n", encoding="utf-8")
    return root


OVERFIT_TEXTS = ["the cat sat", "a dog ran far", "on the mat", "home away", "cat and dog", "far home"]


def tiny_train_config(data: Path, output: Path, **overrides):
    """A tiny crnn that learns a handful of clean lines by heart in a few hundred steps."""
    from linescribe.models import ARCHITECTURES
    from linescribe.training.config import TrainConfig

    settings = dict(
        train=[str(data)],
        val=[str(data)],
        output=output,
        hparams={**ARCHITECTURES["crnn"].tiny, "dropout": 0.0},
        batch_size=6,
        max_steps=300,
        max_epochs=10_000,
        lr=0.003,
        scheduler="constant",
        augment=False,
        val_every=50,
        patience=1000,
        workers=0,
        progress=False,
        seed=0,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def write_iam_root(root: Path, forms: dict[str, list[str]]) -> Path:
    """An IAM-layout dataset: ``lines.txt`` (with its comment header) and ``lines/a01/<form>/<line>.png``."""
    records = ["# iam database line information", "# format: a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to"]
    for form, texts in forms.items():
        folder = root / "lines" / form.split("-")[0] / form
        folder.mkdir(parents=True, exist_ok=True)
        for number, text in enumerate(texts):
            line_id = f"{form}-{number:02d}"
            image = render_line(text, seed=number)
            image.save(folder / f"{line_id}.png")
            records.append(f"{line_id} ok 154 5 0 0 {image.width} {image.height} {text.replace(' ', '|')}")
    (root / "lines.txt").write_text("\n".join(records) + "\n", encoding="utf-8")
    return root


def random_model(arch: str = "crnn", chars: str = "abcdefgh ", seed: int = 0):
    """A tiny untrained model (no training: fast) with a sharpened output layer, so that each
    frame has a clear best class and two backends or two batchings can be compared by text."""
    import torch

    from linescribe.alphabet import Alphabet
    from linescribe.models import ARCHITECTURES, build_model
    from linescribe.models.modelfile import TrainedModel

    spec = ARCHITECTURES[arch]
    torch.manual_seed(seed)
    net = build_model(arch, len(chars) + 1, spec.tiny).eval()
    with torch.no_grad():
        net.classifier.weight.mul_(20.0)
    return TrainedModel(net, arch, dict(spec.tiny), Alphabet(chars), spec.preprocessing, name=f"random-{arch}")


PAGE_TEXTS = ["the cat sat on the mat", "a dog ran far away", "home and away", "the mat and the dog", "far far away home"]

TWO_COLUMNS = ["left one here", "left two", "left three now", "right one", "right two here", "right three"]

STILL = {"skew_degrees": 0.0, "perspective": 0.0, "lighting": 0.2, "ruled_probability": 0.0, "noise": 2.0}
"""A flat, level, unruled photo: each test switches on the difficulty it is about."""


def printed_page(texts: list[str] = PAGE_TEXTS, seed: int = 0, **config):
    """A page of printed lines (a SyntheticPage) with their true outlines, seeded."""
    from linescribe.data.synth.page import PageConfig, compose_page

    lines = [(np.asarray(render_line(text, size=28, seed=number)), text) for number, text in enumerate(texts)]
    return compose_page(lines, np.random.default_rng(seed), PageConfig(**{**STILL, **config}))
