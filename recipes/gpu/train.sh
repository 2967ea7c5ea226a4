#!/usr/bin/env bash
# One GPU stage on a device machine, over the copy that recipes/gpu/pack.sh made in gpu/:
#   device run:  bash recipes/gpu/train.sh default     carry: ["gpu"]   timeout_s: 570
#   (or `accurate`; INIT=FILE starts from another model of that architecture)
# It fine-tunes the bundled model of that name on the packed lines (all_sets.sh with batch 64, 14
# loader processes, bf16 autocast, 10 % synthetic lines from the bundled fonts) for EPOCHS passes
# in one one-cycle schedule, stopped by MINUTES at the latest, and writes to $OUT (runs/gpu-out
# here): model.safetensors (the best on the seven val splits), run.json, train.log and gpu.csv
# (GPU utilisation and memory every 5 s). Back here: `bash runs/val7.sh FILE`-style evaluation on
# the full-quality val splits, then recipes/default/ship.py.
# The defaults aim at a 15-minute device budget: about 1.5 min to start, 8 min of training.
set -euo pipefail
model=${1:?usage: recipes/gpu/train.sh default|accurate}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-runs/gpu-out}
minutes=${MINUTES:-8}
case $model in
  default)  arch=crnn  lr=${LR:-0.0015} epochs=${EPOCHS:-12} ;;
  accurate) arch=ppocr lr=${LR:-0.0003} epochs=${EPOCHS:-5} ;;
  *) echo "unknown model $model: default or accurate" >&2; exit 2 ;;
esac
init=${INIT:-src/linescribe/pretrained/$model.safetensors}
mkdir -p "$out"

# the device's Python has torch and Lightning but not these (pack.sh downloaded them)
python3 -c "import rapidfuzz, defusedxml" 2> /dev/null ||
  python3 -m pip install --quiet --no-index --no-deps --no-compile --target /tmp/site gpu/wheels/*.whl
export PYTHONPATH=$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
mkdir -p /tmp/bin
printf '#!/bin/sh\nexec python3 -m linescribe "$@"\n' > /tmp/bin/linescribe
chmod +x /tmp/bin/linescribe
export PATH=/tmp/bin:$PATH

if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$out/gpu.csv" &
  trap 'kill %1 2> /dev/null || true' EXIT
fi
# timeus was thinned to half in the pack, so it is drawn at full weight here
LINESCRIBE_DATA=gpu/lines TIMEUS_WEIGHT=1 "$here/../default/all_sets.sh" runs/gpu "$init" --arch "$arch" \
  --batch-size 64 --lr "$lr" --max-steps -1 --max-epochs "$epochs" --max-time "00:00:$(printf %02d "$minutes"):00" \
  --val-every 1 --synth-ratio 0.1 --workers 14 --threads 0 --seed 21 "${@:2}" 2>&1 | tr '\r' '\n' > "$out/train.log"
echo "validation CER, each epoch: $(grep -o 'val CER=[0-9.]*%' "$out/train.log" | uniq | cut -d= -f2 | tr '\n' ' ')"
echo "training speed at the end: $(grep -o 'lines/s=[0-9.]*' "$out/train.log" | tail -1)"
grep "best val CER" "$out/train.log"
cp runs/gpu/model.safetensors runs/gpu/run.json "$out/"
