"""Line crops of page datasets kept compressed, so that training, which mixes pages in every
batch, decodes each page once instead of once a line."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from linescribe.data import images
from linescribe.data.images import LineCache, load_sample_image
from linescribe.data.sample import Sample

BOXES = [(20, 20 + 40 * row, 380, 50 + 40 * row) for row in range(5)]


def page_lines(folder: Path, pages: int) -> list[Sample]:
    """Five lines on each of ``pages`` generated pages, the last one steep (read turned level)."""
    samples = []
    for page in range(pages):
        image = Image.new("L", (400, 240), 210)
        draw = ImageDraw.Draw(image)
        for left, top, right, bottom in BOXES:
            draw.line([(left + 5, bottom - 8), (right - 5 - 30 * page, top + 8)], fill=20, width=3)
        path = folder / f"page{page}.png"
        image.save(path)
        for number, (left, top, right, bottom) in enumerate(BOXES):
            polygon = ((left, top), (right, top), (right, bottom), (left, bottom))
            samples.append(Sample(f"p{page}/l{number}", "ink", path, polygon=polygon, angle=30.0 if number == 4 else 0.0))
    return samples


@pytest.fixture
def line_cache() -> Iterator[LineCache]:
    """An empty cache of the default size, as training's, and no page kept either."""
    cache = LineCache(images.LINE_CACHE_BYTES)
    images._page.cache_clear()
    yield cache
    images._page.cache_clear()


def test_lines_read_again_in_any_order_decode_no_page(tmp_path: Path, line_cache: LineCache) -> None:
    samples = page_lines(tmp_path, pages=4)
    first = {sample.id: load_sample_image(sample, line_cache) for sample in random.Random(0).sample(samples, len(samples))}
    decoded = images._page.cache_info().misses
    assert decoded > 4, "a mixed order decodes pages again without the line cache"
    again = {sample.id: load_sample_image(sample, line_cache) for sample in random.Random(1).sample(samples, len(samples))}
    assert images._page.cache_info().misses == decoded
    assert all(np.array_equal(first[id], again[id]) for id in first) and len(line_cache) == len(samples)
    steep = samples[4]
    assert again[steep.id].shape[1] > again[steep.id].shape[0]  # turned level, then kept as such


def test_a_page_replaced_under_its_name_is_read_anew(tmp_path: Path, line_cache: LineCache) -> None:
    sample = page_lines(tmp_path, pages=1)[0]
    before = load_sample_image(sample, line_cache)
    Image.new("L", (400, 240), 255).save(sample.path)  # the same size: only the file's stamp tells
    os.utime(sample.path, ns=(1, 1))
    assert before.min() < 100 and load_sample_image(sample, line_cache).min() == 255


def test_a_kept_crop_is_not_changed_by_its_reader(tmp_path: Path, line_cache: LineCache) -> None:
    sample = page_lines(tmp_path, pages=1)[0]
    expected = load_sample_image(sample, line_cache).copy()
    load_sample_image(sample, line_cache)[:] = 0  # augmentation may work in place
    assert np.array_equal(load_sample_image(sample, line_cache), expected)


def test_the_cache_keeps_its_byte_bound_dropping_the_least_recently_used() -> None:
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, size=(40, 100), dtype=np.uint8) for _ in range(4)]  # noise: no compression
    keys = [(Path("page.png"), (1, 1), ((0.0, float(number)),), 0.0) for number in range(4)]
    cache = LineCache(max_bytes=3 * max(len(images._packed(crop)) for crop in crops))
    for key, crop in zip(keys[:3], crops):
        cache.put(key, crop)
    assert cache.get(keys[0]) is not None  # now the most recently used
    cache.put(keys[3], crops[3])
    assert len(cache) == 3 and cache.bytes <= cache.max_bytes
    assert cache.get(keys[1]) is None
    assert all(np.array_equal(cache.get(keys[number]), crops[number]) for number in (0, 2, 3))
    cache.put(keys[1], rng.integers(0, 256, size=(200, 200), dtype=np.uint8))  # larger than the whole cache
    assert cache.get(keys[1]) is None and len(cache) == 3


def test_packing_is_lossless_for_any_crop() -> None:
    """Row differences wrap around in uint8; a steep line's crop is a view of its turned canvas."""
    rng = np.random.default_rng(1)
    canvas = rng.integers(0, 256, size=(50, 70), dtype=np.uint8)
    canvas[10] = 255
    canvas[11] = 0
    for crop in (canvas, canvas[5:40, 3:60], canvas[:1], canvas[:, :1]):
        assert np.array_equal(images._unpacked(images._packed(crop), crop.shape), crop)


def test_a_single_pass_without_a_cache_keeps_nothing(tmp_path: Path) -> None:
    """eval and predict read each line once, in page order: they pay for no packing."""
    samples = page_lines(tmp_path, pages=2)
    kept = len(images.line_cache)
    for sample in samples:
        load_sample_image(sample)
    assert len(images.line_cache) == kept


def test_each_loader_process_keeps_its_share_of_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker holds its own cache: with 8 workers, the full size each was 8x the memory."""
    from types import SimpleNamespace

    from linescribe.training import datamodule

    monkeypatch.setattr(images.line_cache, "max_bytes", images.LINE_CACHE_BYTES)
    monkeypatch.setattr(datamodule, "get_worker_info", lambda: SimpleNamespace(num_workers=4))
    monkeypatch.setattr(datamodule, "pl_worker_init_function", lambda *args: None)  # no reseeding of this process
    monkeypatch.setattr(datamodule.cv2, "setNumThreads", lambda count: None)
    datamodule._init_worker(0)
    assert images.line_cache.max_bytes == images.LINE_CACHE_BYTES // 4
