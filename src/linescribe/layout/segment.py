"""Text lines of a page image, found without a model: binarise, deskew, remove rules, find lines.

The page is read at a working size of at most ``WORK_SIDE`` pixels, a negative turned positive
first. After binarisation (see ``binarize``) the ink is deskewed by the angle whose horizontal
projection is sharpest, the text size is measured on the level ink, long horizontal and vertical
rules are opened away, and the page is cut into text blocks in reading order
(``reading_order``). In each block, line centres are the peaks of horizontal projection profiles
taken in overlapping vertical strips, chained from strip to strip, so lines that curve or drift
are followed. Neighbouring lines are separated by the cheapest seam through the ink
between their centres, which cuts touching ascenders and descenders where they are thinnest, and
each line's polygon hugs its ink between those seams. Every line is cropped from the deskewed
page at full resolution with a little more paper around it, pixels outside that outline painted
as paper, ready for the recognizer.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

import cv2
import numpy as np

from linescribe.data.images import ImageInput, crop_box, crop_polygon, load_gray
from linescribe.data.sample import Point
from linescribe.errors import LinescribeError
from linescribe.layout.binarize import binarize, is_negative
from linescribe.layout.reading_order import Box, find_blocks, line_spacing

Polygon = tuple[Point, ...]

WORK_SIDE = 1600
"""Longer side of the image the lines are searched in: line finding needs a few pixels per stroke,
not the 300 dpi of a scan, and works in a fraction of the time at this size."""

MIN_WORK_SIDE = 32
"""Shorter side of the working image, at the least (unless the image is smaller): a long strip
brought down to ``WORK_SIDE`` would keep no line a few pixels high."""

CANVAS_BUDGET = 2 * WORK_SIDE * WORK_SIDE
"""Most working pixels the levelled page may have: a square page turned 45 degrees fits, while a
long strip, whose canvas grows with its long side times the tilt's sine, is held to small tilts
(a 32 x 20,800 noise strip turned 10 degrees made 75 M pixels to filter, half a minute)."""

MIN_TEXT_SIDE = 8
"""Narrowest image (either side, pixels) that can hold a line of writing; a thinner one has none."""

MAX_WORK_SIDE = 16 * WORK_SIDE
"""Longer side of the working image, at the most, whatever ``MIN_WORK_SIDE`` asks: rules and paper
are found with filters some fraction of it long, which on a longer strip take minutes."""

MIN_COMPONENT_AREA = 6
"""Ink components smaller than this (in working pixels) are noise and never define the text size."""

TALL_COMPONENT = 8.0
"""Ink components taller than this many text units are not writing (page edges, stamps, frames)."""

FRAME_HELD = 50
"""An ink component taller than a quarter of the image whose box holds the centres of at least this
many others is no writing but something around it: the dark edge of the table a page was
photographed on, a drawn frame, a picture. (The tallest strokes of 600 test line images held 34
at most, most of them none.)"""

RULE_LENGTH = 10.0
"""Shortest straight stroke taken for a printed rule, in text units."""

RULE_TILTS = (-1.5, -0.75, 0.0, 0.75, 1.5)
"""Tilts (degrees) at which rules are looked for on the deskewed page; each catches about ±0.4°."""

STRIP_SPACINGS = 2.5
"""Width of the strips whose projection profiles locate the lines, in line spacings."""

PEAK_FLOOR = 0.12
"""A profile peak weaker than this fraction of the block's strongest is not a line."""

VALLEY_RATIO = 0.55
"""Two peaks are separate lines only if the profile between them falls below this fraction of the
weaker one; otherwise they are the x-height band and the ascender zone of one line."""

LINK_DISTANCE = 0.4
"""Farthest a line's centre may move from one strip to the next, in line spacings."""

JOIN_DISTANCE = 0.3
"""Two pieces of line separated by a wide space are one line if their centres are closer than this
(in line spacings) where they meet."""

MIN_PEAK_DISTANCE = 0.3
"""Closest two line centres may be, in line spacings (small print above large handwriting)."""

MAX_SKIP = 2
"""Strips a line may cross without ink (a long word space) and go on."""

ABOVE, BELOW = 0.6, 0.5
"""Farthest a line reaches above and below its centre, in line spacings: where it has no neighbour,
and however far away its neighbour is."""

MIN_LINE_INK = 0.5
"""A line with less ink than this many square text units is a speck or a stray mark, unless it is
all the page has (a one-word image)."""

MIN_LINE_SHARE = 0.05
"""Nor is a line with less than this share of the fullest line's ink (an accent or a neighbour's
stroke cut by the edge of a one-line image)."""

PAD = 0.2
"""Margin of a line's outline around its ink, in text units."""

CROP_PAD, CROP_SIDE_PAD = 0.4, 1.0
"""Margins of the line's crop above and below its ink (never past the seams to its neighbours)
and before and after it, in text units: the recognizer reads the first and last letters better
with some paper around them."""

NESTED = 0.5
"""Share of a line's outline that may lie inside a larger line's before it is taken as part of it."""

ENVELOPE = 1.0
"""A line's outline follows the highest and lowest ink within this many text units to either side,
so that it runs smoothly over letters instead of dipping between them."""


@dataclass(frozen=True)
class SegmentOptions:
    """Knobs of the classical segmenter; the defaults suit scans and photos of handwritten pages."""

    max_skew: float = 10.0
    """Largest page skew searched, in degrees either way; 0 turns deskewing off."""
    remove_rules: bool = True
    """Open away long printed rules (ruled or squared paper, margins) before finding lines."""
    columns: bool = True
    """Look for columns; False reads the page as a single column."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_skew <= 45.0:
            raise LinescribeError(f"max_skew must be between 0 and 45 degrees, not {self.max_skew}")


@dataclass(frozen=True)
class LineRegion:
    """One text line of a page: where it is, and its image ready for a recognizer."""

    polygon: Polygon
    """Outline in page pixels (x, y), clockwise from the top left."""
    baseline: Polygon
    """The line the letters sit on, left to right, in page pixels."""
    block: int
    """Index of the text block (column or paragraph) it belongs to, in reading order."""
    image: np.ndarray = field(repr=False, compare=False)
    """The deskewed crop (H, W) uint8, a little wider than the polygon; pixels outside that wider
    outline are paper."""
    x_to_page: tuple[float, float] = (1.0, 0.0)
    """``(scale, offset)``: a column x of ``image`` lies at page x ``scale * x + offset`` (along
    its middle row), so positions found in the crop can be given on the page."""


@dataclass(frozen=True)
class PageSegmentation:
    """The lines of one page, in reading order."""

    width: int
    height: int
    skew: float
    """Angle of the text lines in the image, in degrees, anticlockwise positive."""
    lines: list[LineRegion]


class LineShape(NamedTuple):
    """A line found in a deskewed ink mask, in its pixels."""

    polygon: np.ndarray
    """(N, 2) outline."""
    crop: np.ndarray
    """(M, 2) the wider outline the line's image is cut with."""
    baseline: np.ndarray
    """(2, 2) left and right ends."""
    ink: float
    """Ink pixels inside the outline."""


@dataclass
class _Chain:
    """A line's centre as strip positions (x) and profile peaks (y), in block pixels."""

    xs: list[float]
    ys: list[float]
    weights: list[float]
    last_strip: int

    def centre(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.xs, self.ys)


def segment_page(image: ImageInput, options: SegmentOptions | None = None) -> PageSegmentation:
    """The text lines of a page (path, bytes, PIL image or array), in reading order.

    A page without writing gives no lines. Raises ImageError naming the file if it cannot be read.
    """
    options = options or SegmentOptions()
    page = load_gray(image)
    height, width = page.shape
    if min(height, width) < MIN_TEXT_SIDE:  # a strip a few pixels across: minutes of filtering for nothing
        return PageSegmentation(width, height, 0.0, [])
    longer = max(height, width)
    scale = min(1.0, max(WORK_SIDE / longer, MIN_WORK_SIDE / min(height, width)), MAX_WORK_SIDE / longer)
    work = page
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = cv2.resize(page, size, interpolation=cv2.INTER_AREA)
    ink = binarize(work)
    if is_negative(work, ink):  # and the crops the recognizer reads are positive too
        page, work = 255 - page, 255 - work
        ink = binarize(work)
    unit = text_unit(ink)
    if unit is None:
        return PageSegmentation(width, height, 0.0, [])
    angle = estimate_skew(ink, options.max_skew)
    to_level, level_size = _rotation(width, height, angle)
    to_level_work = to_level.copy()
    to_level_work[:, 2] *= scale
    work_size = (math.ceil(level_size[0] * scale), math.ceil(level_size[1] * scale))
    level = cv2.warpAffine(ink.view(np.uint8), to_level_work, work_size, flags=cv2.INTER_NEAREST) > 0
    unit = text_unit(level) or unit  # measured again level: a tilted word's box is taller than its letters
    if options.remove_rules:
        level = remove_rules(level, unit)
    level = drop_noise(level, unit)
    found = [
        (number, shape)
        for number, box in enumerate(find_blocks(level, unit, options.columns))
        for shape in find_lines(level, box, unit)
    ]
    strongest = max((shape.ink for _, shape in found), default=0.0)
    floor = max(MIN_LINE_INK * unit * unit, MIN_LINE_SHARE * strongest)
    shapes = [(number, shape) for number, shape in found if shape.ink >= floor]
    if not shapes and found:
        shapes = [max(found, key=lambda item: item[1].ink)]
    if not shapes:
        return PageSegmentation(width, height, -angle, [])
    paper = float(np.percentile(page, 90))
    level_page = cv2.warpAffine(page, to_level, level_size, flags=cv2.INTER_LINEAR, borderValue=paper)
    to_page = cv2.invertAffineTransform(to_level)
    lines = []
    for number, shape in shapes:
        crop = tuple(map(tuple, shape.crop / scale))
        left, top, _, bottom = crop_box(crop, level_size)
        middle = (top + bottom - 1) / 2
        lines.append(
            LineRegion(
                polygon=_to_page(shape.polygon / scale, to_page, width, height),
                baseline=_to_page(shape.baseline / scale, to_page, width, height),
                block=number,
                image=crop_polygon(level_page, crop),
                x_to_page=(float(to_page[0, 0]), float(to_page[0, 0] * left + to_page[0, 1] * middle + to_page[0, 2])),
            )
        )
    return PageSegmentation(width, height, -angle, lines)


def _rotation(width: int, height: int, angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map (2, 3) turning the page ``angle`` degrees anticlockwise about its centre onto
    a canvas that holds all of it, and that canvas's (width, height)."""
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_width, new_height = math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos)
    matrix[0, 2] += (new_width - width) / 2
    matrix[1, 2] += (new_height - height) / 2
    return matrix, (new_width, new_height)


def _to_page(points: np.ndarray, to_page: np.ndarray, width: int, height: int) -> Polygon:
    """Points of the deskewed page (N, 2) as whole pixels of the original page, inside it."""
    mapped = points @ to_page[:, :2].T + to_page[:, 2]
    mapped = np.clip(np.round(mapped), 0, [width - 1, height - 1]).astype(int)
    return tuple((int(x), int(y)) for x, y in mapped)


def text_unit(ink: np.ndarray) -> float | None:
    """The typical height of an ink component in pixels (the area-weighted median of the plausible
    ones), which sets the scale of everything else; None when there is no writing.

    Components nearly as tall or as wide as the image are page edges, frames and rules, unless
    nothing else is there: then the wide ones count, since a one-word image's cursive word spans
    its width. Frames around the writing (``FRAME_HELD``) never count: the dark edge around a photo
    of a page can hold most of the ink and made the unit the page's height.
    """
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    areas, heights, widths = stats[1:, cv2.CC_STAT_AREA], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    short = (areas >= MIN_COMPONENT_AREA) & (heights < ink.shape[0] * 0.8)
    short &= ~_frames(stats[1:], short, ink.shape[0])
    plausible = short & (widths < ink.shape[1] * 0.8)
    if not plausible.any():
        plausible = short
    if not plausible.any():
        return None
    order = np.argsort(heights[plausible])
    cumulative = np.cumsum(areas[plausible][order])
    return max(float(heights[plausible][order][np.searchsorted(cumulative, cumulative[-1] / 2)]), 4.0)


def _frames(stats: np.ndarray, counted: np.ndarray, height: int) -> np.ndarray:
    """Which of the components (``cv2`` stats rows) are frames around the ``counted`` others:
    taller than a quarter of the image, their box holding the centres of ``FRAME_HELD`` of them."""
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = left + stats[:, cv2.CC_STAT_WIDTH], top + stats[:, cv2.CC_STAT_HEIGHT]
    middle_x, middle_y = (left + right) / 2, (top + bottom) / 2
    frames = np.zeros(len(stats), bool)
    for number in np.flatnonzero(counted & (stats[:, cv2.CC_STAT_HEIGHT] > height / 4)):
        across = (left[number] < middle_x) & (middle_x < right[number])
        down = (top[number] < middle_y) & (middle_y < bottom[number])
        frames[number] = int((across & down & counted).sum()) - 1 >= FRAME_HELD  # less itself
    return frames


def drop_noise(ink: np.ndarray, unit: float) -> np.ndarray:
    """The ink without specks and without components too tall to be writing (page edges, stamps)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    areas, heights = stats[1:, cv2.CC_STAT_AREA], stats[1:, cv2.CC_STAT_HEIGHT]
    keep = (areas >= max(MIN_COMPONENT_AREA, 0.02 * unit * unit)) & (heights <= TALL_COMPONENT * unit)
    return np.r_[False, keep][labels]


def estimate_skew(ink: np.ndarray, max_degrees: float) -> float:
    """The rotation (degrees, anticlockwise) that makes the lines horizontal: the angle whose row
    profile is sharpest (largest sum of squares), searched coarsely then finely among the tilts whose
    levelled canvas fits CANVAS_BUDGET, on the ink brought
    down to 640 pixels on its long side (a very thin strip to a row or column of them: each angle's
    canvas grows with the square of the long side, so a 25,600 x 1 upload held a worker for minutes)."""
    if max_degrees <= 0:
        return 0.0
    factor = min(1.0, 640 / max(ink.shape))
    size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
    small = cv2.resize(ink.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    height, width = small.shape

    def sharpness(angle: float) -> float:
        matrix, size = _rotation(width, height, angle)
        profile = cv2.warpAffine(small, matrix, size, flags=cv2.INTER_LINEAR).sum(axis=1)
        return float(np.square(profile).sum())

    def fits(angles: np.ndarray) -> list[float]:
        return [float(a) for a in angles if _canvas_pixels(ink.shape[1], ink.shape[0], a) <= CANVAS_BUDGET]

    best = max(fits(np.arange(-max_degrees, max_degrees + 1e-9, 0.5)), key=sharpness)
    return round(max(fits(np.arange(best - 0.4, best + 0.41, 0.1)), key=sharpness), 2)


def _canvas_pixels(width: int, height: int, angle: float) -> float:
    """The pixels of the canvas that holds a width x height image turned ``angle`` degrees."""
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    return (width * cos + height * sin) * (width * sin + height * cos)


def remove_rules(ink: np.ndarray, unit: float) -> np.ndarray:
    """The ink without long straight strokes near horizontal or vertical (printed rules, margins,
    frames): a morphological opening with a long line, repeated at small tilts, since a photo's
    perspective leaves rules slightly tilted even on a deskewed page."""
    mask = ink.view(np.uint8)
    height, width = ink.shape
    rules = np.zeros_like(mask)
    for angle in RULE_TILTS:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        turned = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_NEAREST)
        found = _straight_strokes(
            turned, max(int(RULE_LENGTH * unit), width // 8), max(int(RULE_LENGTH * unit), height // 8)
        )
        back = cv2.warpAffine(found, cv2.invertAffineTransform(matrix), (width, height), flags=cv2.INTER_NEAREST)
        rules |= back
    return ink & (cv2.dilate(rules, np.ones((3, 3), np.uint8)) == 0)


def _straight_strokes(mask: np.ndarray, across: int, down: int) -> np.ndarray:
    """Pixels of horizontal runs at least ``across`` long and vertical runs at least ``down`` long,
    allowing a one-pixel wobble."""
    horizontal = _long_runs(cv2.dilate(mask, np.ones((3, 1), np.uint8)), across, axis=1)
    vertical = _long_runs(cv2.dilate(mask, np.ones((1, 3), np.uint8)), down, axis=0)
    return horizontal | vertical


def _long_runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """The pixels of runs along ``axis`` at least ``length`` long: the opening with a straight line,
    computed from run lengths in time linear in the image (OpenCV's opening costs pixels x length:
    half a minute on a long strip, whose rules are long). A run that meets the image's edge may
    go on beyond it (a rule cut off by the photo), so there half the length suffices, as in
    OpenCV's opening with an odd length (its even-length line sits off-centre); a run cannot be
    longer than the image, which would let any full row pass."""
    ink = np.moveaxis(mask > 0, axis, -1)
    rows, columns = ink.shape
    if length > columns:
        return np.zeros_like(mask)
    edges = np.diff(np.pad(ink, ((0, 0), (1, 1))).view(np.int8), axis=1)
    start_rows, starts = np.nonzero(edges == 1)
    end_rows, ends = np.nonzero(edges == -1)
    beyond = length // 2 * ((starts == 0).astype(int) + (ends == columns))
    kept = ends - starts + beyond >= length
    marks = np.zeros((rows, columns + 1), np.int8)  # runs never overlap: the sums are 0 or 1
    marks[start_rows[kept], starts[kept]] = 1
    marks[end_rows[kept], ends[kept]] = -1
    runs = np.cumsum(marks[:, :columns], axis=1, dtype=np.int8) > 0
    return np.ascontiguousarray(np.moveaxis(runs, -1, axis), dtype=mask.dtype)


def _peaks(profile: np.ndarray, floor: float, min_distance: float) -> list[int]:
    """Rows of the profile's separate maxima: strongest first, each kept only if it is far enough from
    the stronger ones kept and a clear valley separates them."""
    inner = profile[1:-1]
    candidates = np.flatnonzero((inner >= profile[:-2]) & (inner > profile[2:]) & (inner >= floor)) + 1
    kept: list[int] = []  # sorted by row
    for row in sorted(candidates.tolist(), key=lambda r: -profile[r]):
        # the nearest kept peaks above and below decide: a farther one is farther away, and the
        # stretch to it holds the nearer one's, so its valley is no higher (all of them: quadratic)
        place = bisect.bisect(kept, row)
        if all(
            abs(row - other) >= min_distance
            and profile[min(row, other) : max(row, other) + 1].min() <= VALLEY_RATIO * profile[row]
            for other in kept[max(place - 1, 0) : place + 1]
        ):
            kept.insert(place, row)
    return kept


def _chains(block: np.ndarray, unit: float, spacing: float) -> list[_Chain]:
    """Line centres, from projection peaks in overlapping vertical strips chained left to right."""
    height, width = block.shape
    strip = max(int(STRIP_SPACINGS * spacing), int(2 * unit), 4)
    step = max(strip // 2, 1)
    starts = list(range(0, max(width - strip, 0) + 1, step))
    if starts[-1] + strip < width:
        starts.append(max(width - strip, 0))
    sums = np.concatenate([np.zeros((height, 1), np.float32), np.cumsum(block, axis=1, dtype=np.float32)], axis=1)
    sigma = max(spacing / 6, 1.0)
    profiles = [
        cv2.GaussianBlur(
            (sums[:, min(s + strip, width)] - sums[:, s]).reshape(-1, 1), (1, 0), sigmaX=0.1, sigmaY=sigma
        ).ravel()
        for s in starts
    ]
    floor = PEAK_FLOOR * max(float(profile.max()) for profile in profiles)
    if floor <= 0:
        return []
    chains: list[_Chain] = []
    for index, (start, profile) in enumerate(zip(starts, profiles)):
        x = start + min(strip, width) / 2
        peaks = _peaks(profile, floor, MIN_PEAK_DISTANCE * spacing)
        active = [chain for chain in chains if index - chain.last_strip <= MAX_SKIP + 1]
        pairs = sorted((abs(chain.ys[-1] - row), number, row) for number, chain in enumerate(active) for row in peaks)
        used_chains: set[int] = set()
        used_peaks: set[int] = set()
        for distance, number, row in pairs:
            if distance > LINK_DISTANCE * spacing or number in used_chains or row in used_peaks:
                continue
            chain = active[number]
            chain.xs.append(x)
            chain.ys.append(float(row))
            chain.weights.append(float(profile[row]))
            chain.last_strip = index
            used_chains.add(number)
            used_peaks.add(row)
        for row in peaks:
            if row not in used_peaks:
                chains.append(_Chain([x], [float(row)], [float(profile[row])], index))
    return _join_chains(chains, spacing)


def _join_chains(chains: list[_Chain], spacing: float) -> list[_Chain]:
    """Chains that continue each other across a wide gap become one line; a weak chain running
    alongside a stronger one (a wavy line seen twice) is dropped."""
    chains = sorted(chains, key=lambda chain: -sum(chain.weights))
    kept: list[_Chain] = []
    heights: list[tuple[float, float]] = []  # each kept chain's lowest and highest row
    for chain in chains:
        low, high = min(chain.ys), max(chain.ys)
        # a chain whose rows all lie half a spacing beyond another's (whose centre, interpolated,
        # stays within its rows) is no twin of it: the median is left for the few near it
        twin = any(
            other.xs[0] <= chain.xs[-1]
            and chain.xs[0] <= other.xs[-1]
            and low - other_high < 0.5 * spacing
            and other_low - high < 0.5 * spacing
            and np.median(np.abs(other.centre(np.asarray(chain.xs)) - chain.ys)) < 0.5 * spacing
            for other, (other_low, other_high) in zip(kept, heights)
        )
        if not twin:
            kept.append(chain)
            heights.append((low, high))
    kept.sort(key=lambda chain: chain.xs[0])
    joined: list[_Chain] = []
    for chain in kept:
        before = [
            other
            for other in joined
            if other.xs[-1] < chain.xs[0] and abs(other.ys[-1] - chain.ys[0]) < JOIN_DISTANCE * spacing
        ]
        if before:
            other = min(before, key=lambda c: abs(c.ys[-1] - chain.ys[0]))
            other.xs += chain.xs
            other.ys += chain.ys
            other.weights += chain.weights
        else:
            joined.append(chain)
    return joined


def _seam(energy: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The cheapest left-to-right path through ``energy`` (H, W) that stays between the rows
    ``upper`` and ``lower`` (W,) and moves at most two rows per column; its row per column, always
    inside the image.

    Where two line centres cross, the band can lie outside the image or be empty, so it is clipped
    into the image and kept at least a row wide. A row outside the band costs more than any path
    inside it rather than being forbidden: where the band jumps further than the path may move,
    the path lags behind it instead of having no way through (and leaving the image).
    """
    height, width = energy.shape
    upper = np.clip(np.floor(upper), 0, height - 1)
    lower = np.clip(np.ceil(lower), upper, height - 1)
    rows = np.arange(height)[:, None]
    outside = (rows < upper) | (rows > lower)
    cost_map = np.where(outside, energy + float(energy.max()) * width + 1.0, energy)
    cost = cost_map[:, 0].copy()
    moves = np.zeros((height, width), np.int8)
    shifts = (-2, -1, 0, 1, 2)
    padded = np.full(height + 4, np.inf)
    for x in range(1, width):
        padded[2:-2] = cost
        options = np.stack([padded[2 + shift : 2 + shift + height] for shift in shifts])
        choice = options.argmin(axis=0)
        cost = options[choice, np.arange(height)] + cost_map[:, x]
        moves[:, x] = choice
    path = np.empty(width, np.int64)
    path[-1] = int(np.argmin(cost))
    for x in range(width - 1, 0, -1):
        path[x - 1] = path[x] + shifts[moves[path[x], x]]
    return path


def find_lines(ink: np.ndarray, box: Box, unit: float) -> list[LineShape]:
    """The lines of the block ``box`` of a deskewed ink mask, top to bottom, in the mask's pixels."""
    x0, y0, x1, y1 = box
    margin = int(unit)
    top_edge, bottom_edge = max(y0 - margin, 0), min(y1 + margin, ink.shape[0])
    block = ink[top_edge:bottom_edge, x0:x1].astype(np.float32)
    height, width = block.shape
    spacing = line_spacing(block.sum(axis=1), unit)
    chains = _chains(block, unit, spacing)
    if not chains:
        return []
    columns = np.arange(width, dtype=np.float64)
    half_strip = max(STRIP_SPACINGS * spacing, 2 * unit) / 2
    spans = [(max(int(c.xs[0] - half_strip), 0), min(int(c.xs[-1] + half_strip) + 1, width)) for c in chains]
    centres = np.full((len(chains), width), np.nan)
    for number, (chain, (left, right)) in enumerate(zip(chains, spans)):
        centres[number, left:right] = chain.centre(columns[left:right])
    tops = np.nan_to_num(centres - ABOVE * spacing, nan=0.0)
    bottoms = np.nan_to_num(centres + BELOW * spacing, nan=float(height - 1))
    energy = cv2.GaussianBlur(block, (0, 0), max(unit / 8, 1.0)) + 1e-3
    _separate(centres, energy, tops, bottoms, unit)
    tops = np.maximum(tops, np.nan_to_num(centres - ABOVE * spacing, nan=0.0))
    bottoms = np.minimum(bottoms, np.nan_to_num(centres + BELOW * spacing, nan=float(height - 1)))
    shapes = []
    for number, (left, right) in enumerate(spans):
        shape = _outline(block, tops[number], bottoms[number], left, right, unit)
        if shape is not None:
            offset = np.array([x0, top_edge], dtype=np.float64)
            moved = shape._replace(
                polygon=shape.polygon + offset, crop=shape.crop + offset, baseline=shape.baseline + offset
            )
            shapes.append((float(np.nanmean(centres[number])), moved))
    shapes.sort(key=lambda item: item[0])
    return _without_nested([shape for _, shape in shapes])


def _without_nested(shapes: list[LineShape]) -> list[LineShape]:
    """The lines less those lying mostly (over NESTED of their area) inside a larger line: a tall
    capital or a flourish seen as a line of its own."""
    areas = [abs(cv2.contourArea(shape.polygon.astype(np.float32))) for shape in shapes]
    boxes = [cv2.boundingRect(shape.polygon.astype(np.float32)) for shape in shapes]
    nested = set()
    for small, polygon in enumerate(shape.polygon for shape in shapes):
        for large, other in enumerate(shape.polygon for shape in shapes):
            if (
                large == small
                or areas[large] <= areas[small]
                or large in nested
                or not _overlap(boxes[small], boxes[large])
            ):
                continue
            x0 = min(boxes[small][0], boxes[large][0])
            y0 = min(boxes[small][1], boxes[large][1])
            x1 = max(boxes[small][0] + boxes[small][2], boxes[large][0] + boxes[large][2])
            y1 = max(boxes[small][1] + boxes[small][3], boxes[large][1] + boxes[large][3])
            masks = np.zeros((2, y1 - y0 + 1, x1 - x0 + 1), np.uint8)
            cv2.fillPoly(masks[0], [np.round(polygon - (x0, y0)).astype(np.int32)], 1)
            cv2.fillPoly(masks[1], [np.round(other - (x0, y0)).astype(np.int32)], 1)
            if (masks[0] & masks[1]).sum() > NESTED * max(int(masks[0].sum()), 1):
                nested.add(small)
                break
    return [shape for number, shape in enumerate(shapes) if number not in nested]


def _separate(centres: np.ndarray, energy: np.ndarray, tops: np.ndarray, bottoms: np.ndarray, unit: float) -> None:
    """Set the boundary between every two lines that are neighbours at some column to the seam of
    least ink between their centres (in place, in ``tops`` and ``bottoms``)."""
    count = len(centres)
    if count < 2:
        return
    order = np.argsort(np.where(np.isnan(centres), np.inf, centres), axis=0)
    ranked = np.take_along_axis(centres, order, axis=0)
    step = max(1, round(unit / 8))
    for rank in range(count - 1):
        present = ~np.isnan(ranked[rank]) & ~np.isnan(ranked[rank + 1])
        pairs = {(int(a), int(b)) for a, b in zip(order[rank, present], order[rank + 1, present])}
        for above, below in pairs:
            where = present & (order[rank] == above) & (order[rank + 1] == below)
            xs = np.flatnonzero(where)
            left, right = int(xs[0]), int(xs[-1]) + 1
            upper_centre, lower_centre = centres[above, left:right], centres[below, left:right]
            gap = lower_centre - upper_centre
            low = max(int(np.floor(upper_centre.min())), 0)
            high = min(int(np.ceil(lower_centre.max())) + 1, energy.shape[0])
            if high - low < 3:
                continue
            span = right - left
            padded = np.pad(energy[low:high, left:right], ((0, 0), (0, (-span) % step)), mode="edge")
            coarse = padded.reshape(high - low, -1, step).mean(axis=2)
            sample = np.arange(coarse.shape[1]) * step + step / 2
            upper = np.interp(sample, np.arange(span), upper_centre + 0.2 * gap) - low
            lower = np.interp(sample, np.arange(span), lower_centre - 0.2 * gap) - low
            path = _seam(coarse, upper, np.maximum(lower, upper))
            seam = np.interp(np.arange(span), sample, path.astype(np.float64)) + low
            bottoms[above, xs] = seam[xs - left]
            tops[below, xs] = seam[xs - left]


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two (x, y, width, height) boxes intersect."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _outline(
    block: np.ndarray, top: np.ndarray, bottom: np.ndarray, left: int, right: int, unit: float
) -> LineShape | None:
    """The polygon hugging a line's ink between its boundaries (rows ``top`` and ``bottom`` per
    column), the wider outline to crop it with, and its baseline; None without ink or with ink too
    flat to be writing (what is left of a rule)."""
    # only the rows between the boundaries: a mask of the whole block per line made a tall block
    # of many lines quadratic (8,000 rows: 110 s)
    r0 = max(int(np.floor(top[left:right].min())), 0)
    r1 = min(int(np.ceil(bottom[left:right].max())) + 1, block.shape[0])
    if r1 <= r0:
        return None
    rows = np.arange(r0, r1)[:, None]
    band = (rows >= top[None, left:right]) & (rows <= bottom[None, left:right])
    ink = (block[r0:r1, left:right] > 0) & band
    inked = np.flatnonzero(ink.any(axis=0))
    if inked.size == 0:
        return None
    first, last = int(inked[0]), int(inked[-1]) + 1
    ink = ink[:, first:last]
    inked_rows = np.flatnonzero(ink.any(axis=1))
    if inked_rows[-1] - inked_rows[0] < 0.3 * unit:
        return None
    xs = np.arange(first, last) + left
    bin_width = max(2, int(unit / 3))
    edges = np.r_[np.arange(0, last - first, bin_width), last - first]
    bins = list(pairwise(edges))
    upper = np.full(len(bins), np.nan)
    lower = np.full(len(bins), np.nan)
    for number, (start, end) in enumerate(bins):
        filled = np.flatnonzero(ink[:, start:end].any(axis=1))
        if filled.size:
            upper[number], lower[number] = filled[0], filled[-1]
    reach = max(1, round(ENVELOPE * unit / bin_width))
    upper = _running(np.nan_to_num(upper, nan=float(np.nanmedian(upper))), reach, np.min) + r0
    lower = _running(np.nan_to_num(lower, nan=float(np.nanmedian(lower))), reach, np.max) + r0
    ceiling = np.array([top[xs[start:end]].min() for start, end in bins])
    floor = np.array([bottom[xs[start:end]].max() for start, end in bins])
    corners = [(float(xs[start]), float(xs[end - 1] + 1)) for start, end in bins]

    def outline(pad: float, side: float) -> np.ndarray:
        """The envelope widened by ``pad`` above and below (never past the seams) and by ``side``
        at both ends, as a simplified polygon."""
        ends = list(corners)
        ends[0] = (max(ends[0][0] - side, 0.0), ends[0][1])
        ends[-1] = (ends[-1][0], min(ends[-1][1] + side, float(block.shape[1])))
        tops, bottoms = np.maximum(upper - pad, ceiling), np.minimum(lower + pad, floor)
        upper_edge = [(x, y) for (a, b), y in zip(ends, tops) for x in (a, b)]
        lower_edge = [(x, y) for (a, b), y in zip(ends, bottoms) for x in (a, b)][::-1]
        points = np.array(upper_edge + lower_edge, dtype=np.float32).reshape(-1, 1, 2)
        simple = cv2.approxPolyDP(points, 1.0, closed=True).reshape(-1, 2).astype(np.float64)
        return simple if len(simple) >= 3 else points.reshape(-1, 2).astype(np.float64)

    polygon = outline(PAD * unit, 0.0)
    crop = outline(CROP_PAD * unit, CROP_SIDE_PAD * unit)
    return LineShape(polygon, crop, _baseline(ink, xs, unit) + (0.0, r0), float(ink.sum()))


def _running(values: np.ndarray, reach: int, reduce) -> np.ndarray:
    """``reduce`` (np.min or np.max) over a window of ``reach`` values to either side of each value."""
    padded = np.pad(values, reach, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    return reduce(windows, axis=1)


def _baseline(ink: np.ndarray, xs: np.ndarray, unit: float) -> np.ndarray:
    """The line the letters sit on: per stretch of a few text units, the lowest row below the
    densest one where the ink is still at least a third as dense; a straight fit through those."""
    stretch = max(int(2 * unit), 4)
    points_x, points_y = [], []
    for start in range(0, ink.shape[1], stretch):
        window = ink[:, start : start + stretch]
        profile = window.sum(axis=1).astype(np.float64)
        if profile.max() <= 0:
            continue
        densest = int(np.argmax(profile))
        below = np.flatnonzero(profile[densest:] < profile[densest] / 3)
        row = densest + (int(below[0]) - 1 if below.size else len(profile) - 1 - densest)
        points_x.append(float(xs[start : start + stretch].mean()))
        points_y.append(float(row))
    slope, intercept = np.polyfit(points_x, points_y, 1) if len(points_x) >= 2 else (0.0, points_y[0])
    ends = np.array([float(xs[0]), float(xs[-1] + 1)])
    return np.stack([ends, slope * ends + intercept], axis=1)
