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
# It prints lines and MiB per split and the size that would travel, and fails when that is over
# the limit (61.9 MiB in session 9: the repository's 25.6 MiB and 36.3 MiB packed; a new tracked
# file eats into the 2 MiB left). Two costs of the small copy: training's augmentation works in
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
limit=$((64 * 1024 * 1024))
rm -rf gpu
mkdir -p gpu/wheels
declare -A share=([hooker]=1 [copiste]=0.5 [poilus]=1 [mss19]=1 [peraire]=1 [timeus]=0.45)
for set in hooker copiste poilus mss19 peraire timeus; do
  "$python" "$here/shrink_lines.py" "$data/$set/train" "gpu/lines/$set/train" --quality "$quality" --fraction "${share[$set]}"
done
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
packed=$(find gpu -type f -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
total=$((tracked + packed))
awk -v t="$tracked" -v p="$packed" 'BEGIN { printf "repository %.1f MiB + gpu/ %.1f MiB = %.1f MiB of 64 MiB\n", t / 2^20, p / 2^20, (t + p) / 2^20 }'
if [ "$total" -gt "$limit" ]; then
  echo "too large for a device machine: lower QUALITY or the shares above" >&2
  exit 1
fi
