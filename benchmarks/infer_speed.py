"""Inference speed, memory and accuracy: the default model and the `seed` architecture on
PyTorch and onnxruntime, and Tesseract 5 on the same lines.

    python benchmarks/infer_speed.py [--lines 294] [--seed-lines 64] [--threads 2] [--no-cer] [--busy N]

Lines: ../shared/data/lines/hooker/test, decoded to grayscale before timing (image decoding is
not timed; preprocessing, the network and greedy decoding are). Each configuration runs in a
fresh process, so its peak RSS is its own and an onnxruntime process never imports torch.

- lines/s at batch 1 and 32: all lines through ``Recognizer.predict_many`` with that batch
  size (best of 3 runs after a warm-up); p50: median latency of ``predict`` on one line (50 lines).
- `seed` has random weights with the default model's alphabet (no trained seed model exists):
  its speed is real, its CER would mean nothing and is not measured. Every line costs it the
  same (each is scaled into a 64x800 canvas), so it is timed on the first --seed-lines lines.
- default path: ``linescribe.load_model()`` as a user calls it, backend and threads left to
  linescribe (``--threads`` does not apply to it); accurate model: ``load_model("accurate")``,
  the second bundled model (PP-OCRv6 small fine-tuned), the same way.
- ``--busy N``: N other processes spin on the cores while each configuration is measured (pure
  Python loops, started before the model loads, stopped after), as on a machine shared with
  other work; compare with a run without it on the same machine.
- onnx int8: the exported default model with its LSTM and output layer quantised to int8 by
  onnxruntime.quantization.quantize_dynamic (weights int8, activations quantised at run time).
- onnx int8 QDQ: the convolutions quantised statically (weights int8 per channel, activations
  uint8 with ranges calibrated on 48 hooker *val* lines, QDQ format, which onnxruntime fuses into
  int8 kernels that can use the CPU's AMX/VNNI units); LSTM and output layer stay float32.
- CER: every line of hooker/test and copiste/test, references with the model's transcription
  rules, as `linescribe eval` scores them.
- Tesseract 5 (Debian's tesseract-ocr; --psm 7, one text line; eng for hooker, fra for copiste
  when tesseract-ocr-fra is installed): "batch 32" is one tesseract process reading every line
  (a list file), "batch 1" and p50 one process per line, as a script calling it per line gets;
  its peak RSS is the tesseract process's.

Run it on a quiet machine (check `uptime`): anything else on the cores distorts the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED_LINES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines"
SPEED_SET = SHARED_LINES / "hooker" / "test"
CER_SETS = {"hooker": (SHARED_LINES / "hooker" / "test", "eng"), "copiste": (SHARED_LINES / "copiste" / "test", "fra")}

CONFIGS = {
    # name: (row label, arch, backend, model file made by prepare())
    "default-path": ("default path, load_model()", "crnn", "auto", "default"),
    "accurate-path": ("accurate model, load_model('accurate')", "ppocr", "auto", "accurate"),
    "crnn-torch": ("default", "crnn", "torch", "default.safetensors"),
    "crnn-onnx": ("default", "crnn", "onnx", "default.onnx"),
    "crnn-onnx-int8": ("default, int8 LSTM", "crnn", "onnx int8", "default-int8.onnx"),
    "crnn-onnx-qdq": ("default, int8 convolutions (QDQ)", "crnn", "onnx int8 qdq", "default-qdq.onnx"),
    "seed-torch": ("seed (random weights)", "seed", "torch", "seed.safetensors"),
    "seed-onnx": ("seed (random weights)", "seed", "onnx", "seed.onnx"),
    "tesseract": ("Tesseract 5", "-", "tesseract", ""),
}


def speed_lines(count: int) -> list:
    from linescribe.data.images import load_gray

    paths = sorted(SPEED_SET.glob("*.webp"))[:count]
    if not paths:
        raise SystemExit(f"{SPEED_SET}: no lines (../shared/data is needed)")
    return [load_gray(path) for path in paths]


def peak_rss_mb(pid: int | str = "self") -> float:
    """The process's peak resident memory: VmHWM, which (unlike ru_maxrss) starts afresh at exec
    instead of counting the parent's memory at the fork."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no /proc/PID/status: peak memory needs Linux")


def run_watched(command: list[str]) -> tuple[str, float, float]:
    """stdout, wall seconds and peak RSS (MB) of a command, its memory read while it runs."""
    with tempfile.TemporaryFile("w+") as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.DEVNULL)
        peak = 0.0
        while process.poll() is None:
            try:
                peak = max(peak, peak_rss_mb(process.pid))
            except (OSError, SystemExit):  # it ended between poll() and the read
                pass
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed with status {process.returncode}")
        output.seek(0)
        return output.read(), seconds, peak


def prepare(folder: Path) -> None:
    """The model files of every configuration: the default model, its ONNX exports (float and
    int8) and a random-weight seed model, exported once here so the measured processes only load."""
    import logging

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's advice to pre-process first

    from linescribe.modelfile import TrainedModel, resolve_model_path
    from linescribe.modelfile.export import export_onnx
    from linescribe.modelfile.weights import load_model_file, save_model
    from linescribe.models import ARCHITECTURES, build_model

    default = load_model_file(resolve_model_path(None))
    shutil.copy(resolve_model_path(None), folder / "default.safetensors")
    export_onnx(default, folder / "default.onnx")
    quantize_dynamic(folder / "default.onnx", folder / "default-int8.onnx", op_types_to_quantize=["LSTM", "MatMul"], weight_type=QuantType.QInt8)
    torch.manual_seed(0)
    spec = ARCHITECTURES["seed"]
    net = build_model("seed", default.alphabet.num_classes).eval()
    seed = TrainedModel(net, "seed", dict(spec.defaults), default.alphabet, spec.preprocessing, name="seed-random")
    quantize_convolutions(default, folder / "default.onnx", folder / "default-qdq.onnx")
    save_model(seed, folder / "seed.safetensors")
    export_onnx(seed, folder / "seed.onnx")


def quantize_convolutions(model, source: Path, target: Path) -> None:
    """Static int8 QDQ quantisation of the convolutions, calibrated on hooker val lines; the
    model's metadata is carried over so linescribe loads the result."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from linescribe.data.batching import pad_lines
    from linescribe.data.images import load_gray

    calibration = [model.preprocessing(load_gray(path)) for path in sorted((SHARED_LINES / "hooker" / "val").glob("*.webp"))[:48]]

    class Lines(CalibrationDataReader):
        def __init__(self) -> None:
            self.lines = iter(calibration)

        def get_next(self) -> dict | None:
            line = next(self.lines, None)
            return None if line is None else dict(zip(("images", "widths"), pad_lines([line])))

    prepared = source.with_suffix(".prepared.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(target), Lines(), quant_format=QuantFormat.QDQ, per_channel=True,
                    op_types_to_quantize=["Conv"], activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    quantized, original = onnx.load(str(target)), onnx.load(str(source))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(original.metadata_props)
    onnx.save(quantized, str(target))


def cer_samples(name: str, text_rules: list[str]) -> list:
    from linescribe.data.dataset import load_datasets
    from linescribe.data.text import parse_rules

    (dataset,) = load_datasets([str(CER_SETS[name][0])], False, parse_rules(text_rules))
    return dataset.samples


def measure_model(path: Path, backend: str, count: int, threads: int, with_cer: bool) -> dict:
    """Runs in the child process."""
    import linescribe
    from linescribe.evaluation import evaluate

    images = speed_lines(count)
    if backend == "auto":  # as a user gets a bundled model (named by the file field), nothing else chosen
        recognizer = linescribe.load_model(None if path.name == "default" else path.name)
    else:
        recognizer = linescribe.load_model(path, backend="onnx" if backend.startswith("onnx") else "torch", threads=threads)
    figures = {"backend": recognizer.backend}
    for batch_size in (1, 32):
        recognizer.batch_size = batch_size
        recognizer.predict_many(images[:64])  # warm-up: kernels, caches, thread pools
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            recognizer.predict_many(images)
            runs.append(time.perf_counter() - start)
        figures[f"batch{batch_size}"] = len(images) / min(runs)
    latencies = []
    for image in images[:50]:
        start = time.perf_counter()
        recognizer.predict(image)
        latencies.append((time.perf_counter() - start) * 1000)
    figures["p50_ms"] = statistics.median(latencies)
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["torch_imported"] = "torch" in sys.modules
    if with_cer and recognizer.model.arch != "seed":  # the seed model has random weights
        rules = recognizer.model.training.get("config", {}).get("text_rules", [])
        recognizer.batch_size = 32
        for name in CER_SETS:
            figures[f"cer_{name}"] = evaluate(recognizer, cer_samples(name, rules)).rates.cer
    return figures


def tesseract(images: list, folder: Path, language: str) -> tuple[list[str], float, float]:
    """Texts of line images read by one tesseract process, its wall time and peak RSS."""
    from PIL import Image

    paths = []
    for index, image in enumerate(images):
        paths.append(folder / f"{index:05d}.png")
        Image.fromarray(image).save(paths[-1])
    listing = folder / "lines.txt"
    listing.write_text("".join(f"{path}\n" for path in paths))
    output, seconds, peak = run_watched(["tesseract", str(listing), "stdout", "--psm", "7", "-l", language])
    texts = [" ".join(page.split()) for page in output.split("\f")][: len(paths)]
    return texts, seconds, peak


def measure_tesseract(count: int, threads: int, with_cer: bool) -> dict:
    """Runs in the child process: Tesseract's own speed, memory and CER."""
    from linescribe.data.images import load_sample_image
    from linescribe.metrics import ErrorRates

    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    images = speed_lines(count)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        _, seconds, figures["peak_rss_mb"] = tesseract(images, Path(tmp), "eng")
        figures["batch32"] = len(images) / seconds
        latencies = []
        for index in range(30):
            start = time.perf_counter()
            subprocess.run(["tesseract", f"{tmp}/{index:05d}.png", "stdout", "--psm", "7", "-l", "eng"], capture_output=True, check=True)
            latencies.append((time.perf_counter() - start) * 1000)
        figures["batch1"] = 1000 / statistics.mean(latencies)
        figures["p50_ms"] = statistics.median(latencies)
        if with_cer:
            installed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
            for name, (_, language) in CER_SETS.items():
                language = language if language in installed else "eng"
                samples = cer_samples(name, [])
                with tempfile.TemporaryDirectory() as lines:
                    texts, _, _ = tesseract([load_sample_image(sample) for sample in samples], Path(lines), language)
                rates = ErrorRates()
                for sample, text in zip(samples, texts):
                    rates.add(sample.text, text)
                figures[f"cer_{name}"] = rates.cer
                figures[f"language_{name}"] = language
    return figures


def row(name: str, figures: dict, no_cer: bool) -> str:
    label, arch, engine, _ = CONFIGS[name]
    if engine == "auto":
        engine = f"auto: {figures['backend']}"
    cers = [f"{figures[f'cer_{s}']:.2%}" if f"cer_{s}" in figures else "-" for s in CER_SETS]
    if name == "tesseract" and not no_cer:
        cers = [f"{cer} ({figures[f'language_{s}']})" for cer, s in zip(cers, CER_SETS)]
    return (
        f"| {label} | {arch} | {engine} | {figures['batch1']:.1f} | {figures['batch32']:.1f} | {figures['p50_ms']:.1f} "
        f"| {figures['peak_rss_mb']:.0f} | {cers[0]} | {cers[1]} |"
    )


def run_config(name: str, folder: Path, args: argparse.Namespace) -> dict:
    lines = args.seed_lines if name.startswith("seed") else args.lines
    command = [sys.executable, __file__, "--config", name, "--models", str(folder), "--lines", str(lines), "--threads", str(args.threads)]
    if args.no_cer:
        command.append("--no-cer")
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=294, help="lines of hooker/test timed (it has 294)")
    parser.add_argument("--seed-lines", type=int, default=64, help="lines timed for the seed architecture")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of each engine")
    parser.add_argument("--no-cer", action="store_true", help="skip the CER columns (faster)")
    parser.add_argument("--busy", type=int, default=0, metavar="N", help="busy processes spinning beside each measurement")
    parser.add_argument("--only", nargs="*", choices=list(CONFIGS), help="measure these configurations only")
    parser.add_argument("--config", choices=list(CONFIGS), help=argparse.SUPPRESS)  # a child process
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.config:
        if args.config == "tesseract":
            figures = measure_tesseract(args.lines, args.threads, not args.no_cer)
        else:
            *_, backend, file = CONFIGS[args.config]
            figures = measure_model(args.models / file, backend, args.lines, args.threads, not args.no_cer)
        print(json.dumps(figures))
        return
    names = args.only or [name for name in CONFIGS if name != "tesseract" or shutil.which("tesseract")]
    print(f"{args.lines} lines of hooker/test ({args.seed_lines} for seed); {args.threads} threads per engine; "
          f"{args.busy} busy processes beside; load average {os.getloadavg()[0]:.2f} at the start\n")
    print("| model | arch | engine | lines/s batch 1 | lines/s batch 32 | p50 one line (ms) | peak RSS (MB) | CER hooker | CER copiste |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        prepare(Path(tmp))
        for name in names:
            results[name] = figures = run_config(name, Path(tmp), args)
            print(row(name, figures, args.no_cer), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    for backend in ("torch", "onnx"):
        crnn, seed = results.get(f"crnn-{backend}"), results.get(f"seed-{backend}")
        if crnn and seed:
            print(f"\ncrnn / seed on {backend}: {crnn['batch1'] / seed['batch1']:.1f}x at batch 1, {crnn['batch32'] / seed['batch32']:.1f}x at batch 32")
    if any(figures.get("torch_imported") for name, figures in results.items() if "onnx" in name):
        print("warning: an onnxruntime process imported torch")


if __name__ == "__main__":
    main()
