"""Distributed training across machines, as the README launches it: two CPU ranks on this
machine, each started as a separate "node" (by torchrun with a c10d rendezvous, or by Lightning
reading MASTER_ADDR / NODE_RANK), running the `linescribe train` command with Lightning DDP on
the gloo backend."""

from __future__ import annotations

import pytest

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from generated import line_texts, write_gt_folder
from linescribe.models import ARCHITECTURES

pytestmark = pytest.mark.slow  # servers, processes and minutes-long checks: left out of `make test-fast`

DRIVER = textwrap.dedent(
    """
    # `linescribe train` (the command line itself), with a callback by which each rank records
    # what it holds when training ends
    import hashlib, json, sys
    from pathlib import Path

    import lightning as L
    import torch.distributed

    import linescribe.training.run as run
    from linescribe.cli import main


    def digest(tensors):
        return hashlib.sha256(b"".join(t.detach().cpu().numpy().tobytes() for _, t in sorted(tensors))).hexdigest()


    class RecordWeights(L.Callback):
        def on_train_end(self, trainer, module):
            record = {
                "world_size": trainer.world_size,
                "node_rank": trainer.node_rank,
                "step": trainer.global_step,
                "backend": torch.distributed.get_backend(),
                "parameters": digest(module.net.named_parameters()),
            }
            Path(sys.argv[1], f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


    train = run.train
    run.train = lambda config, callbacks=(), **more: train(config, [*callbacks, RecordWeights()], **more)
    main(sys.argv[2:])
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _train_arguments(data: Path, run: Path) -> list[str]:
    tiny = {**ARCHITECTURES["crnn"].tiny, "dropout": 0.0}
    return [
        "train", str(data), "--val", str(data), "-o", str(run), "--max-steps", "5", "--max-epochs", "1000",
        "--batch-size", "4", "--lr", "0.003", "--scheduler", "constant", "--no-augment", "--val-every", "50",
        "--patience", "1000", "--workers", "0", "--threads", "1", "--seed", "0",
        "--accelerator", "cpu", "--devices", "1", "--num-nodes", "2",
        *(item for name, value in tiny.items() for item in ("--hparam", f"{name}={json.dumps(value)}")),
    ]


@pytest.mark.parametrize("launch", ["torchrun", "environment"])
def test_two_nodes_train_in_step_and_end_with_the_same_weights(tmp_path, launch):
    data = write_gt_folder(tmp_path / "lines", line_texts(24, seed=3))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    port = _free_port()
    command = [str(driver), str(tmp_path), *_train_arguments(data, tmp_path / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    nodes = []
    for node in (0, 1):
        log = open(tmp_path / f"node{node}.log", "w")  # a file, not a pipe: no node blocks on a full pipe
        if launch == "torchrun":  # the README's multi-node torchrun line, both "machines" on 127.0.0.1
            launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "linescribe-test"]
            nodes.append(subprocess.Popen([*launcher, *command], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        else:  # Lightning's own variables, as a scheduler without torchrun would set them on each machine
            node_env = {**env, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "NODE_RANK": str(node), "WORLD_SIZE": "2"}
            nodes.append(subprocess.Popen([sys.executable, *command], env=node_env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        log.close()
    try:
        for node in nodes:
            node.wait(timeout=180)
    finally:
        for node in nodes:
            if node.poll() is None:  # torchrun stops the worker it started on SIGTERM; then the whole group goes
                os.killpg(node.pid, signal.SIGTERM)
                try:
                    node.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(node.pid, signal.SIGKILL)
    logs = "\n".join((tmp_path / f"node{node}.log").read_text()[-3000:] for node in (0, 1))
    assert all(node.returncode == 0 for node in nodes), logs
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert sorted(r["node_rank"] for r in ranks) == [0, 1]
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" and r["step"] == 5 for r in ranks), ranks
    # the gradients were averaged at every step, so the weights are the same; BatchNorm's running
    # statistics are not weights: each rank's follow its own last batch (SyncBatchNorm needs a GPU),
    # and the model file holds rank 0's
    assert ranks[0]["parameters"] == ranks[1]["parameters"]
    assert (tmp_path / "run" / "model.safetensors").is_file()  # written once, by rank 0
