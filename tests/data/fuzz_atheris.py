"""Coverage-guided fuzzing of the dataset readers and the image loader with atheris (libFuzzer).

Not part of the test suite: atheris is not a dependency, and a run lasts as long as one lets it.
It checks what the hypothesis tests check (fuzz_inputs.check_dataset and check_image), so a crash
it reports is an input that the suite's rule forbids. The first byte of an input picks the target
(a dataset layout, or "image"), the rest is the file. See docs/reliability.md for how to run it:

    python tests/data/fuzz_atheris.py -max_total_time=300 -timeout=10 -rss_limit_mb=3000 [CORPUS_DIR]
"""

from __future__ import annotations

import atexit
import io
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

# instrumented: the Python these import for the first time (Pillow's C decoders, expat and the
# csv module are C, and only their Python callers are seen)
with atheris.instrument_imports(include=["linescribe", "PIL", "defusedxml", "xml"]):
    from fuzz_inputs import SEEDS, check_dataset, check_image, write_dataset
    from PIL import Image

    Image.init()  # Pillow imports its format plugins lazily: here, so they are instrumented too

TARGETS = [*SEEDS, "image"]
MAX_PIXELS = 2_000_000
"""Bounds the time each input may spend decoding; the code path is the default limit's."""

WORK = Path(tempfile.mkdtemp(prefix="linescribe-fuzz-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)


def test_one_input(data: bytes) -> None:
    """One input through the rule: a one-line LinescribeError naming the file, a skip, or a result."""
    if not data:
        return
    target, content = TARGETS[data[0] % len(TARGETS)], data[1:]
    if target == "image":
        check_image(content, WORK / "input.img", MAX_PIXELS)
    else:
        check_dataset(write_dataset(WORK / target, target, content))  # the folder is reused


def seed_corpus() -> str:
    """A folder with one valid input per target (a PNG, a JPEG and a TIFF for "image"), so that
    libFuzzer starts from real files."""
    corpus = WORK / "seeds"
    corpus.mkdir()
    for target, seed in SEEDS.items():
        (corpus / target).write_bytes(bytes([TARGETS.index(target)]) + seed)
    for fmt in ("PNG", "JPEG", "TIFF"):
        image = io.BytesIO()
        Image.new("L", (60, 20), 230).save(image, fmt)
        (corpus / f"image.{fmt.lower()}").write_bytes(bytes([TARGETS.index("image")]) + image.getvalue())
    return str(corpus)


if __name__ == "__main__":
    # libFuzzer writes new inputs into the first corpus folder given, and also reads the seeds
    atheris.Setup([*sys.argv, seed_corpus()], test_one_input)
    atheris.Fuzz()
