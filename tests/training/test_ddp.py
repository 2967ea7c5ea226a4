"""Distributed training: two CPU processes under torchrun, Lightning DDP with the gloo backend."""

from __future__ import annotations

import pytest

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from generated import line_texts, write_gt_folder

pytestmark = pytest.mark.slow  # servers, processes and minutes-long checks: left out of `make test-fast`

TESTS = Path(__file__).resolve().parents[1]

DRIVER = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path

    import lightning as L
    import torch.distributed

    sys.path.insert(0, sys.argv[1])
    from generated import tiny_train_config
    from linescribe.training.run import train


    def digest(tensors):
        return hashlib.sha256(b"".join(t.detach().cpu().numpy().tobytes() for _, t in sorted(tensors))).hexdigest()


    class RecordWeights(L.Callback):
        # each rank writes what it holds when training ends
        def on_train_end(self, trainer, module):
            record = {
                "world_size": trainer.world_size,
                "step": trainer.global_step,
                "backend": torch.distributed.get_backend(),
                "parameters": digest(module.net.named_parameters()),
            }
            Path(sys.argv[3], f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


    config = tiny_train_config(
        Path(sys.argv[2]), Path(sys.argv[3]) / "run", max_steps=5, batch_size=4, accelerator="cpu", devices="2", threads=1
    )
    train(config, callbacks=[RecordWeights()])
    """
)


def test_two_ranks_train_in_step_and_end_with_the_same_weights(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(24, seed=3))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [*launch, str(driver), str(TESTS), str(data), str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" and r["step"] == 5 for r in ranks), ranks
    # the gradients were averaged at every step, so the weights are the same; BatchNorm's running
    # statistics are not weights: each rank's follow its own last batch (SyncBatchNorm needs a GPU),
    # and the model file holds rank 0's
    assert ranks[0]["parameters"] == ranks[1]["parameters"]
    assert (tmp_path / "run" / "model.safetensors").is_file()  # written once, by rank 0
