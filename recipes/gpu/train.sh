#!/usr/bin/env bash
# One GPU stage on a device machine, over the copy that recipes/gpu/pack.sh made in gpu/:
#   device run:  bash recipes/gpu/train.sh default     carry: ["gpu"]   timeout_s: 570
#   (or `accurate`). It starts from the bundled model of that name: only files in the repository
#   travel, and the pack leaves no room for another model, so ship the best model first.
# It fine-tunes that model on the packed lines (all_sets.sh with batch 64, 14 loader processes,
# bf16 autocast, 10 % synthetic lines from the bundled fonts; copiste and timeus, thinned in the
# pack, drawn at weights that restore their CPU share) for EPOCHS passes in one one-cycle
# schedule, stopped by MINUTES at the latest (EPOCHS must fit in MINUTES, or the learning rate
# never comes down: time the first call's epochs and set EPOCHS from them). It writes to $OUT
# (runs/gpu-out elsewhere): model.safetensors (the best on the seven val splits so far, copied
# whenever it changes, so a timeout still brings it back), run.json, train.log, metrics.csv and
# gpu.csv (GPU utilisation and memory every 5 s). The defaults aim at a 15-minute device budget:
# about 1.5 min to start, 7 min of training, a minute to validate and save.
# Back here, judge the model on the full-quality val splits (`linescribe eval MODEL
# ../shared/data/lines/<set>/val` for the seven sets) before shipping it with
# `python recipes/default/ship.py RUN_DIR` (add `--output src/linescribe/pretrained/accurate.safetensors`
# for accurate), RUN_DIR being a folder holding the returned model.safetensors and run.json.
set -euo pipefail
model=${1:?usage: recipes/gpu/train.sh default|accurate [extra linescribe train options]}
shift
cd "$(dirname "$0")/../.."
out=${OUT:-runs/gpu-out}
minutes=${MINUTES:-7}
case $model in
  default)  arch=crnn  lr=${LR:-0.0015} epochs=${EPOCHS:-12} ;;
  accurate) arch=ppocr lr=${LR:-0.0003} epochs=${EPOCHS:-5} ;;
  *) echo "unknown model $model: default or accurate" >&2; exit 2 ;;
esac
mkdir -p "$out"
rm -rf runs/gpu  # a machine kept warm keeps runs/ from an earlier call

# the device's Python has torch and Lightning but not these (pack.sh downloaded them)
python3 -c "import rapidfuzz, defusedxml" 2> /dev/null ||
  python3 -m pip install --quiet --upgrade --no-index --no-deps --no-compile --target /tmp/site gpu/wheels/*.whl
export PYTHONPATH=$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
mkdir -p /tmp/bin
printf '#!/bin/sh\nexec python3 -m linescribe "$@"\n' > /tmp/bin/linescribe
chmod +x /tmp/bin/linescribe
export PATH=/tmp/bin:$PATH PYTHONUNBUFFERED=1  # the log survives a timeout

keep_best() {  # copy the best model to $OUT whenever the run writes a new one
  if [ -f runs/gpu/model.safetensors ] && [ runs/gpu/model.safetensors -nt "$out/model.safetensors" ]; then
    cp runs/gpu/model.safetensors "$out/.model.tmp" && mv "$out/.model.tmp" "$out/model.safetensors"
    cp runs/gpu/run.json "$out/" 2> /dev/null || true
  fi
}
helpers=()
(while sleep 10; do keep_best; done) &
helpers+=($!)
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$out/gpu.csv" &
  helpers+=($!)
fi
trap 'kill "${helpers[@]}" 2> /dev/null || true; keep_best' EXIT

status=0
LINESCRIBE_DATA=gpu/lines COPISTE_WEIGHT=2 TIMEUS_WEIGHT=1.1 recipes/default/all_sets.sh runs/gpu \
  "src/linescribe/pretrained/$model.safetensors" --arch "$arch" --batch-size 64 --lr "$lr" --max-steps -1 \
  --max-epochs "$epochs" --max-time "$(printf '00:%02d:%02d:00' $((minutes / 60)) $((minutes % 60)))" \
  --val-every 1 --synth-ratio 0.1 --workers 14 --threads 0 --seed 21 "$@" > "$out/train.log" 2>&1 || status=$?
log() { tr '\r' '\n' < "$out/train.log"; }
if [ "$status" -ne 0 ]; then
  log | tail -30
  exit "$status"
fi
cp runs/gpu/logs/csv/metrics.csv "$out/"
python3 - "$out/metrics.csv" << 'EOF'
import csv, sys
rows = [row for row in csv.DictReader(open(sys.argv[1])) if row.get("val_cer")]
print("validation CER:", ", ".join(f"{100 * float(row['val_cer']):.2f} % (step {row['step']})" for row in rows))
EOF
echo "training speed at the end: $(log | grep -o 'lines/s=[0-9.]*' | tail -1)"
log | grep "best val CER"
