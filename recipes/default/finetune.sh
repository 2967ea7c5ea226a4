#!/usr/bin/env bash
# Fine-tune a model on the default model's data with a fresh one-cycle schedule (the GPU stages).
#   recipes/default/finetune.sh RUN_DIR INIT_MODEL EPOCHS LR [extra `linescribe train` options]
# The shipped model: train.sh (CPU, 1 h 45 min), then on one GPU
#   finetune.sh runs/gpu1 src/linescribe/pretrained/default.safetensors 13 0.003
#   finetune.sh runs/gpu2 runs/gpu1/model.safetensors 10 0.002
# with LINESCRIBE_DATA pointing at a copy made by recipes/gpu/shrink_lines.py --height 56 --quality 75, then ship.py runs/gpu2.
set -euo pipefail
run=$1 init=$2 epochs=$3 lr=$4
shift 4
data=${LINESCRIBE_DATA:-../shared/data/lines}
here=$(dirname "$0")
synth=${LINESCRIBE_SYNTH:-$run/synth}

[ -d "$synth" ] || linescribe synth "$synth" -n 2000 --seed 1 --alphabet "$here/alphabet.txt"
linescribe train \
  "$data/hooker/train" "$data/copiste/train" "$data/poilus/train" "gt:$synth@0.5" \
  --val "$data/hooker/val" --val "$data/copiste/val" --val "$data/poilus/val" \
  --alphabet "$here/alphabet.txt" --text-rules cremma,quotes,long-s \
  -o "$run" --arch crnn --init "$init" --batch-size 32 --lr "$lr" --scheduler onecycle \
  --max-epochs "$epochs" --val-every 1 --patience 1000 --precision 32-true --workers 14 --seed 0 "$@"
