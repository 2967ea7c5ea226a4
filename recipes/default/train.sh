#!/usr/bin/env bash
# Retrain the bundled default model from the real lines in ../shared/data plus synthetic lines.
#   recipes/default/train.sh [RUN_DIR] [extra `linescribe train` options, e.g. --max-epochs 30]
# It ends with ship.py: one greedy evaluation on each test split, then the model is bundled as
# src/linescribe/pretrained/default.safetensors (fp16 when that leaves CER unchanged).
set -euo pipefail
run=${1:-runs/default}
shift || true
data=${LINESCRIBE_DATA:-../shared/data/lines}
here=$(dirname "$0")

[ -d "$run/synth" ] || linescribe synth "$run/synth" -n 4000 --seed 1 --alphabet "$here/alphabet.txt"
linescribe train \
  "$data/hooker/train" "$data/copiste/train" "$data/poilus/train" "gt:$run/synth@0.5" \
  --val "$data/hooker/val" --val "$data/copiste/val" --val "$data/poilus/val" \
  --alphabet "$here/alphabet.txt" --text-rules cremma,quotes,long-s \
  -o "$run" --arch crnn --batch-size 16 --lr 0.003 --scheduler onecycle \
  --max-epochs 7 --val-every 0.5 --patience 6 --workers 1 --seed 0 "$@"
python "$here/ship.py" "$run" --data "$data"
