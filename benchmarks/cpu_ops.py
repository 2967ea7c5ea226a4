"""Where a CPU training step of the default ``crnn`` goes, op by op, and which number formats pay.

    python benchmarks/cpu_ops.py [--batch 16] [--width 800] [--threads 1 2] [--repeats 5]

Times forward + backward of the two halves of the network on one batch of random lines (48 px
high): the convolution stack (``features``) and the BiLSTM + output layer, each in float32, in
float32 with channels-last memory (convolutions only), and under bfloat16 autocast (PyTorch's CPU
autocast: convolutions and linear layers in bf16, which this CPU's AMX tile units run natively;
LSTMs have no bf16 CPU kernel in autocast's list and stay float32 unless cast by hand, also
timed). Median of ``--repeats`` after one warm-up; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from linescribe.models import build_model


def timed(step: Callable[[], None], repeats: int) -> float:
    step()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    net = build_model("crnn", 132).train()
    images = torch.rand(args.batch, 1, 48, args.width)
    widths = torch.full((args.batch,), args.width)
    with torch.no_grad():
        maps = net.features(images, widths)
    frames = maps.shape[-1]
    columns = maps.permute(3, 0, 1, 2).reshape(frames, args.batch, -1).detach()

    def convolutions(channels_last: bool, bf16: bool) -> Callable[[], None]:
        source = images.contiguous(memory_format=torch.channels_last) if channels_last else images
        model = net.to(memory_format=torch.channels_last) if channels_last else net.to(memory_format=torch.contiguous_format)

        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model.features(source, widths)
            out.float().sum().backward()

        return step

    def recurrent(bf16: bool, cast: bool) -> Callable[[], None]:
        def step() -> None:
            if cast:
                rnn, head = net.rnn.to(torch.bfloat16), net.classifier.to(torch.bfloat16)
                try:
                    out = head(rnn(columns.to(torch.bfloat16).requires_grad_())[0])
                finally:
                    rnn.float(), head.float()
            else:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    out = net.classifier(net.rnn(columns.requires_grad_())[0])
            out.float().log_softmax(-1).sum().backward()

        return step

    rows = [
        ("convolutions", "float32", convolutions(False, False)),
        ("convolutions", "float32, channels-last", convolutions(True, False)),
        ("convolutions", "bf16 autocast", convolutions(False, True)),
        ("convolutions", "bf16 autocast, channels-last", convolutions(True, True)),
        ("BiLSTM + output", "float32", recurrent(False, False)),
        ("BiLSTM + output", "bf16 autocast", recurrent(True, False)),
        ("BiLSTM + output", "bf16 weights and inputs", recurrent(False, True)),
    ]
    print(f"crnn, batch {args.batch} lines of 48x{args.width}, forward + backward, median of {args.repeats} (ms)")
    print("| part | format | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in args.threads) + " |")
    print("|---|---|" + "---|" * len(args.threads))
    for part, number_format, step in rows:
        cells = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            try:
                cells.append(f"{timed(step, args.repeats):.0f}")
            except RuntimeError as error:  # an op without a kernel for this format
                cells.append(f"fails ({str(error).splitlines()[0][:40]})")
        print(f"| {part} | {number_format} | " + " | ".join(cells) + " |", flush=True)
        net.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
