import numpy as np
import pytest

from linescribe.data.batching import BucketBatchSampler, pad_batch, width_sorted_batches
from linescribe.errors import LinescribeError
from linescribe.training.datamodule import DistributedBuckets


def test_pad_batch_pads_with_paper_and_keeps_widths():
    images, widths = pad_batch([np.ones((4, 3), np.float32), np.ones((4, 40), np.float32)])
    assert images.shape == (2, 1, 4, 64) and widths.tolist() == [3, 40]  # width rounded up to 32s
    assert images[0, 0, :, 3:].abs().sum() == 0 and images[1, 0, :, 40:].abs().sum() == 0


def test_buckets_hold_similar_widths_and_cover_every_line_once():
    rng = np.random.default_rng(0)
    widths = rng.integers(50, 2000, size=200).tolist()
    batches = list(BucketBatchSampler(widths, batch_size=10, seed=1))
    assert sorted(i for batch in batches for i in batch) == list(range(200))
    spread = np.mean([np.ptp([widths[i] for i in batch]) for batch in batches])
    assert spread < 0.25 * np.ptp(widths)  # far less padding than random batches


def test_buckets_change_between_epochs_and_repeat_for_a_seed():
    widths = list(range(100))
    sampler = BucketBatchSampler(widths, batch_size=8, seed=3)
    first, second = list(sampler), list(sampler)
    assert first != second
    assert list(BucketBatchSampler(widths, batch_size=8, seed=3)) == first


def test_weights_draw_lines_in_proportion():
    widths = [100] * 200
    weights = [3.0] * 100 + [1.0] * 100  # two datasets, the first with weight 3
    drawn = [i for batch in BucketBatchSampler(widths, 20, seed=0, weights=weights) for i in batch]
    share_first = np.mean(np.asarray(drawn) < 100)
    assert 0.68 < share_first < 0.82


def test_distributed_ranks_take_disjoint_equal_shares():
    widths = list(range(103))
    ranks = [list(DistributedBuckets(widths, 8, seed=0, rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(DistributedBuckets(widths, 8, rank=0, world_size=2))
    seen = [i for rank in ranks for batch in rank for i in batch]
    assert len(seen) == len(set(seen))


def test_fewer_batches_than_processes_is_refused():
    """Regression: 3 batches between 4 processes gave each none, and the run went through epoch
    after epoch of nothing until --max-epochs."""
    with pytest.raises(LinescribeError, match="3 training batches cannot give each of the 4 processes one"):
        DistributedBuckets([100] * 5, 2, seed=0, rank=0, world_size=4)


def test_width_sorted_batches_group_by_width():
    batches = width_sorted_batches([30, 10, 20, 40], 2)
    assert batches == [[1, 2], [0, 3]]


def test_width_sorted_batches_are_cut_where_padding_would_exceed_the_limit():
    widths = [300, 310, 320, 1200, 305, 315]
    assert width_sorted_batches(widths, 8) == [[0, 4, 1, 5, 2, 3]]
    # the 1200 px line would more than double the padded batch: it is read alone
    assert width_sorted_batches(widths, 8, max_padding=0.25) == [[0, 4, 1, 5, 2], [3]]
    assert width_sorted_batches(widths, 2, max_padding=0.25) == [[0, 4], [1, 5], [2], [3]]


def test_narrow_lines_of_one_width_share_a_batch():
    """Regression: the rounding of a batch's width to WIDTH_MULTIPLE counted as padding, so lines
    of widths such as 40 (rounded to 64 even alone) were read one at a time."""
    for width in (17, 40, 70, 100):
        assert width_sorted_batches([width] * 16, 16, max_padding=0.25) == [list(range(16))]
