#!/usr/bin/env bash
# Pack what a GPU stage needs into gpu/ (ignored by git), so that it travels with the repository
# to a device machine, whose whole copy may hold 64 MiB and which reaches no package index:
#   recipes/gpu/pack.sh            (here, once, with the project's environment active; about 12
#                                   minutes on one core)
# then run recipes/gpu/train.sh there (its header shows the call). What goes:
# - the train splits of the six sets with one (hooker, copiste, poilus, mss19, peraire, timeus)
#   and the seven val splits, cut to the model's 48 px as WebP at quality $QUALITY (default 60);
#   copiste (the largest files: paper grain) and timeus (two registers, drawn at half weight on
#   the CPU) are thinned to the shares below that fit, and train.sh weights them back;
# - wheels for the packages that the device's Python 3.12 lacks (rapidfuzz, defusedxml), at the
#   versions in constraints.txt.
# It packs the val splits and wheels first, then the train splits into the room the repository
# leaves (64 MiB in all, LIMIT_MIB to change it): when the shares below do not fit, it packs the
# train splits again with every share scaled down alike (so train.sh's weights still hold) to
# fill the room, and prints lines and MiB per split. In session 9 the repository took 25.6 MiB
# and the shares at quality 60 36.3 MiB; since the bundled models grew (accurate in float32,
# the wider default) the repository takes 44.2 MiB (session 13), 51.0 MiB since default v13
# (session 15), so about a third of those lines travel. Two costs of the small copy: training's augmentation works in
# pixels, so strokes thicken and thin about twice as much on 48 px copies of 96 px lines; and
# the default model reads the packed hooker val at 21.27 % CER against 20.35 % for the originals
# (quality 45: 21.81 %): judge a returned model on the full-quality val splits here, never on
# the packed ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=recipes/gpu
data=${LINESCRIBE_DATA:-../shared/data/lines}
python=${PYTHON:-python}
quality=${QUALITY:-60}
limit=$(( ${LIMIT_MIB:-64} * 1024 * 1024 ))
margin=$((512 * 1024))  # for files added before the call
rm -rf gpu
mkdir -p gpu/wheels
sizes() { find "$@" -type f -print0 | du -cb --files0-from=- | tail -1 | cut -f1; }
for set in hooker copiste poilus mss19 mss20 peraire timeus; do
  "$python" "$here/shrink_lines.py" "$data/$set/val" "gpu/lines/$set/val" --quality "$quality"
done
pins=()
for package in rapidfuzz defusedxml; do pins+=("$(grep -i "^$package==" constraints.txt)"); done
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d gpu/wheels "${pins[@]}"
# what travels: tracked files, untracked files git does not ignore, and gpu/ (file sizes alone)
tracked=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | du -cb --files0-from=- | tail -1 | cut -f1)
room=$((limit - margin - tracked - $(sizes gpu)))
if [ "$room" -le 0 ]; then
  echo "the repository and the val splits leave no room for training lines under $((limit / 1048576)) MiB" >&2
  exit 1
fi
declare -A share=([hooker]=1 [copiste]=0.5 [poilus]=1 [mss19]=1 [peraire]=1 [timeus]=0.45)
scale=1
for attempt in 1 2 3; do
  applied=$scale
  rm -rf gpu/train
  for set in hooker copiste poilus mss19 peraire timeus; do
    fraction=$(awk -v s="${share[$set]}" -v k="$scale" 'BEGIN { printf "%.4f", s * k }')
    "$python" "$here/shrink_lines.py" "$data/$set/train" "gpu/train/$set" --quality "$quality" --fraction "$fraction"
  done
  train=$(sizes gpu/train)
  [ "$train" -le "$room" ] && break
  scale=$(awk -v k="$scale" -v r="$room" -v t="$train" 'BEGIN { printf "%.4f", k * r / t * 0.98 }')
  awk -v t="$train" -v r="$room" -v k="$scale" 'BEGIN { printf "train splits: %.1f MiB for %.1f MiB of room: shares scaled by %s\n", t / 2^20, r / 2^20, k }' >&2
done
for set in hooker copiste poilus mss19 peraire timeus; do mv "gpu/train/$set" "gpu/lines/$set/train"; done
rmdir gpu/train
total=$((tracked + $(sizes gpu)))
awk -v t="$tracked" -v p="$((total - tracked))" -v k="$applied" \
  'BEGIN { printf "repository %.1f MiB + gpu/ %.1f MiB = %.1f MiB of the limit; train shares scaled by %s\n", t / 2^20, p / 2^20, (t + p) / 2^20, k }'
if [ "$total" -gt "$((limit - margin))" ]; then
  echo "too large for a device machine: lower QUALITY or the shares above" >&2
  exit 1
fi
