#!/usr/bin/env bash
# Fine-tune a model on all seven line sets of ../shared/data (the CPU stages of default v3-v14 and of accurate).
#   recipes/default/all_sets.sh RUN_DIR INIT_MODEL [extra `linescribe train` options]
# As run in session 4 (2 CPU cores, beside other work, 1 thread):
#   recipes/default/all_sets.sh runs/v3a src/linescribe/pretrained/default.safetensors
# and in session 5 from that model (v3) again, with the 129 fonts of ../shared/fonts for 10 % synthetic lines and
# bf16 autocast (1.2x faster on this CPU), stopped by its time budget:
#   recipes/default/all_sets.sh runs/v3b src/linescribe/pretrained/default.safetensors --lr 0.0007 --max-steps 6000 \
#     --max-time 00:02:18:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed 5
# and in session 6 from v4, the same way, shorter and gentler (v5):
#   recipes/default/all_sets.sh runs/v5a src/linescribe/pretrained/default.safetensors --lr 0.0005 --max-steps 4500 \
#     --max-time 00:01:55:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed 7
# and in session 9 from v5, hooker at 1.5x weight (v6):
#   HOOKER_WEIGHT=1.5 recipes/default/all_sets.sh runs/v6a src/linescribe/pretrained/default.safetensors --lr 0.0004 \
#     --max-steps 4000 --max-time 00:02:05:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed 12
# and from v6 the same session, hooker at 2x, shorter and gentler (v7):
#   HOOKER_WEIGHT=2 recipes/default/all_sets.sh runs/v7a src/linescribe/pretrained/default.safetensors --lr 0.0003 \
#     --max-steps 2000 --max-time 00:00:42:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed 13
# and in session 10 from v7, three runs of v7's recipe with seed 15 (--max-time 00:01:00:00 each), whose best
# weights averaged are v8: (a) as v7, with augmentation in absolute pixels (the code of 79feeec); (b) as (a) with
# --hparam dropout=0.1 (stopped at step 1,972 by its time budget); (c) as (b) with today's augmentation, scaled to
# the line height; then: python recipes/default/soup.py runs/v8soup runs/v8ctl runs/v8drop runs/v8aug
#   HOOKER_WEIGHT=2 recipes/default/all_sets.sh runs/v8aug src/linescribe/pretrained/default.safetensors --lr 0.0003 \
#     --max-steps 2000 --max-time 00:01:00:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed \
#     --seed 15 --hparam dropout=0.1
# and in session 11, v8 grown to a 2x256 BiLSTM and 160 last-conv channels (function-preserving), then (v9):
#   python recipes/default/grow.py runs/grown256x160.safetensors runs/v8soup --lstm-hidden 256 --last-channels 160
#   HOOKER_WEIGHT=2 recipes/default/all_sets.sh runs/v9g runs/grown256x160.safetensors --lr 0.0004 --max-steps 4400 \
#     --max-time 00:01:50:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed 17 \
#     --hparam dropout=0.1
# and in session 12, v9 trained on (v10; stopped by --max-time at step 3,879):
#   HOOKER_WEIGHT=2 recipes/default/all_sets.sh runs/v10 runs/v9g/model.safetensors --lr 0.0003 --max-steps 4400 \
#     --max-time 00:01:40:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed 20 \
#     --hparam dropout=0.1 --threads 1
# and in session 13, two runs of that recipe from v10 side by side (seeds 21 and 22; stopped by --max-time at
# steps 3,279 and 3,327), whose weights averaged are v11 (for s in 21 22; do ...; done, then the soup):
#   HOOKER_WEIGHT=2 recipes/default/all_sets.sh runs/v11s$s src/linescribe/pretrained/default.safetensors --lr 0.0003 \
#     --max-steps 4000 --max-time 00:01:45:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed \
#     --seed $s --hparam dropout=0.1 --threads 1
#   python recipes/default/soup.py runs/v11soup runs/v11s21 runs/v11s22
# and in session 14 the same from v11 (seeds 23 and 24, --max-time 00:01:40:00; stopped at steps 2,917 and 2,942),
# averaged into v12: python recipes/default/soup.py runs/v12soup runs/v12s23 runs/v12s24
# and in session 15, v12 grown again, to a 2x320 BiLSTM and 192 last-conv channels, then two runs side by side
# (seeds 25 and 26, 1 thread each; stopped by --max-time at steps 1,851 and 1,903 of 2,400), averaged (v13):
#   python recipes/default/grow.py runs/grown320x192.safetensors src/linescribe/pretrained/default.safetensors \
#     --lstm-hidden 320 --last-channels 192
#   HOOKER_WEIGHT=2 recipes/default/all_sets.sh runs/v13s$s runs/grown320x192.safetensors --lr 0.0004 --max-steps 2400 \
#     --max-time 00:01:40:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed $s \
#     --hparam dropout=0.1 --threads 1
#   python recipes/default/soup.py runs/v13soup runs/v13s25 runs/v13s26
# (v13 shipped as the mean of those two and the grown start: soup.py runs/v13soup3 runs/v13s25 runs/v13s26
# runs/grown320x192.safetensors), and in sessions 17-18 two runs from v13 without augmentation (seeds 28 and 29,
# the second resumed with --resume to finish), averaged with v13 (v14):
#   HOOKER_WEIGHT=2 recipes/default/all_sets.sh runs/v15n$x runs/v13soup3/model.safetensors --lr 0.0003 --max-steps 1750 \
#     --max-time 00:02:00:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed $s \
#     --hparam dropout=0.1 --threads 1 --no-augment
#   python recipes/default/soup.py runs/v15soup3 runs/v15na runs/v15nb runs/v13soup3/model.safetensors
# and PP-OCRv6 small fine-tuned on the same data (shipped as `accurate`; recipes/accurate/train.sh runs all its stages):
#   recipes/default/all_sets.sh runs/pp1 runs/ppocr/init.safetensors --arch ppocr --lr 0.00015 --max-steps 2000 \
#     --max-time 00:02:15:00 --synth-ratio 0.1 --synth-fonts ../shared/fonts --precision bf16-mixed --seed 6
# (recipes/accurate/train.sh runs all the ppocr stages), then ship.py RUN_DIR. timeus (7.7k lines of
# two court registers) is drawn at half weight so the registers do not crowd out the letters;
# HOOKER_WEIGHT=1.5 draws hooker, the one English hand, at that weight (COPISTE_WEIGHT and TIMEUS_WEIGHT likewise);
# mss20 has no train split (val and test only).
set -euo pipefail
run=$1 init=$2
shift 2
data=${LINESCRIBE_DATA:-../shared/data/lines}
here=$(dirname "$0")
val=()
for set in hooker copiste poilus mss19 mss20 peraire timeus; do val+=(--val "$data/$set/val"); done
linescribe train \
  "$data/hooker/train${HOOKER_WEIGHT:+@$HOOKER_WEIGHT}" "$data/copiste/train${COPISTE_WEIGHT:+@$COPISTE_WEIGHT}" "$data/poilus/train" "$data/mss19/train" "$data/peraire/train" \
  "$data/timeus/train@${TIMEUS_WEIGHT:-0.5}" "${val[@]}" \
  --alphabet "$here/alphabet.txt" --text-rules cremma,quotes,long-s \
  -o "$run" --init "$init" --batch-size 16 --lr 0.001 --scheduler onecycle \
  --max-steps 4500 --max-epochs 100 --max-time 00:02:25:00 --val-every 0.33 --patience 1000 \
  --workers 1 --threads 1 --seed 3 "$@"
