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
    from linescribe.modelfile import TrainedModel

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


def _line_boxes(page) -> list[tuple[int, int, int, int]]:
    """Each line's box (left, top, right, bottom) with a few pixels of margin, as a layout tool gives."""
    boxes = []
    for polygon in page.polygons:
        xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
        boxes.append((int(min(xs)) - 3, int(min(ys)) - 3, int(max(xs)) + 3, int(max(ys)) + 3))
    return boxes


def page_document(page, image_name: str) -> str:
    """A PAGE 2019 file for a printed page, as Transkribus exports one: metadata, reading order, a
    region with its own TextEquiv, lines with Coords, Baseline and an old TextEquiv, a comment."""
    height, width = page.image.shape
    boxes = _line_boxes(page)
    lines = "".join(
        f"""
      <TextLine id="r1l{n}" custom="readingOrder {{index:{n};}}">
        <Coords points="{l},{t} {r},{t} {r},{b} {l},{b}"/>
        <Baseline points="{l},{b - 4} {r},{b - 4}"/>
        <TextEquiv conf="0.5">
          <Unicode>old text {n}</Unicode>
        </TextEquiv>
      </TextLine>"""
        for n, (l, t, r, b) in enumerate(boxes)
    )
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    namespace = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<PcGts xmlns="{namespace}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="{namespace} {namespace}/pagecontent.xsd">
  <Metadata>
    <Creator>Transkribus</Creator>
    <Created>2020-06-29T22:55:30</Created>
    <LastChange>2020-07-03T01:54:12</LastChange>
  </Metadata>
  <Page imageFilename="{image_name}" imageWidth="{width}" imageHeight="{height}">
    <!-- reviewed by hand -->
    <ReadingOrder>
      <OrderedGroup id="ro1" caption="Regions reading order">
        <RegionRefIndexed index="0" regionRef="r1"/>
      </OrderedGroup>
    </ReadingOrder>
    <TextRegion id="r1" type="paragraph" custom="readingOrder {{index:0;}}">
      <Coords points="{left},{top} {right},{top} {right},{bottom} {left},{bottom}"/>{lines}
      <TextEquiv>
        <Unicode>old region text</Unicode>
      </TextEquiv>
    </TextRegion>
  </Page>
</PcGts>
"""


def alto_document(page, image_name: str) -> str:
    """An ALTO 4 file for a printed page, as eScriptorium exports one: tags, a block with its
    polygon, lines with a polygon, BASELINE and old words (String, SP, HYP)."""
    height, width = page.image.shape
    boxes = _line_boxes(page)
    lines = "".join(
        f"""
          <TextLine ID="line_{n}" TAGREFS="LT1" BASELINE="{l} {b - 4} {r} {b - 4}" HPOS="{l}" VPOS="{t}" WIDTH="{r - l}" HEIGHT="{b - t}">
            <Shape><Polygon POINTS="{l} {t} {r} {t} {r} {b} {l} {b}"/></Shape>
            <String ID="old_{n}a" CONTENT="old" HPOS="{l}" VPOS="{t}" WIDTH="10" HEIGHT="{b - t}"/>
            <SP/>
            <String ID="old_{n}b" CONTENT="words" HPOS="{l + 12}" VPOS="{t}" WIDTH="10" HEIGHT="{b - t}"/>
            <HYP CONTENT="-"/>
          </TextLine>"""
        for n, (l, t, r, b) in enumerate(boxes)
    )
    namespace = "http://www.loc.gov/standards/alto/ns-v4#"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      xmlns="{namespace}" xmlns:xlink="http://www.w3.org/1999/xlink"
      xsi:schemaLocation="{namespace} http://www.loc.gov/standards/alto/v4/alto-4-3.xsd">
  <Description>
    <MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation>
      <fileName>{image_name}</fileName>
    </sourceImageInformation>
  </Description>
  <Tags>
    <OtherTag ID="LT1" LABEL="default" DESCRIPTION="line type default"/>
  </Tags>
  <Layout>
    <Page ID="page1" WIDTH="{width}" HEIGHT="{height}" PHYSICAL_IMG_NR="1">
      <PrintSpace HPOS="0" VPOS="0" WIDTH="{width}" HEIGHT="{height}">
        <TextBlock ID="block_1" HPOS="0" VPOS="0" WIDTH="{width}" HEIGHT="{height}">
          <!-- one column -->{lines}
        </TextBlock>
      </PrintSpace>
    </Page>
  </Layout>
</alto>
"""


def write_document(folder: Path, stem: str, fmt: str, texts: list[str] = PAGE_TEXTS, seed: int = 0, image: bool = True) -> Path:
    """``folder/stem.xml`` (``fmt``: page or alto) outlining the lines of a printed page, and
    ``folder/stem.png``, the page (left out when ``image`` is False). Returns the XML file."""
    page = printed_page(texts, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    if image:
        Image.fromarray(page.image).save(folder / f"{stem}.png")
    document = (page_document if fmt == "page" else alto_document)(page, f"{stem}.png")
    (folder / f"{stem}.xml").write_text(document, encoding="utf-8")
    return folder / f"{stem}.xml"
