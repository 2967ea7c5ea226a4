"""Which process of a distributed launch owns the run folder, known before Lightning starts."""

from __future__ import annotations

import pytest

from linescribe.training.run import _first_process

LAUNCH_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


@pytest.mark.parametrize(
    ("variables", "first"),
    [
        ({}, True),  # one process
        ({"RANK": "0", "LOCAL_RANK": "0", "GROUP_RANK": "1"}, True),  # torchrun: RANK decides
        ({"RANK": "3", "LOCAL_RANK": "0"}, False),
        ({"NODE_RANK": "0"}, True),  # Lightning's variables: each machine's first process
        ({"NODE_RANK": "1"}, False),
        ({"NODE_RANK": "0", "LOCAL_RANK": "2"}, False),  # a process that process started
        ({"NODE_RANK": "1", "LOCAL_RANK": "0"}, False),  # Lightning's manual launch, second machine
        ({"GROUP_RANK": "1", "LOCAL_RANK": "0"}, False),
        ({"SLURM_PROCID": "0"}, True),  # srun
        ({"SLURM_PROCID": "5"}, False),
    ],
)
def test_only_rank_zero_is_the_first_process(monkeypatch, variables, first):
    for name in LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert _first_process() is first
