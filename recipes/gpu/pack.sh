#!/usr/bin/env bash
# Pack what a GPU stage needs into gpu/ (ignored by git), so that it travels with the repository
# to a device machine, whose whole copy may hold 64 MiB and which reaches no package index:
#   recipes/gpu/pack.sh            (here, once; about 10 minutes on one core)
# then run recipes/gpu/train.sh there (its header shows the call). What goes:
# - the train splits of the six sets with one (hooker, copiste, poilus, mss19, peraire, timeus)
#   and the seven val splits, cut to 48 px high WebP at quality $QUALITY (default 60); timeus
#   (two registers, drawn at half weight on the CPU) and copiste (the largest files: paper grain)
#   are thinned to the share that fits, see the table printed at the end;
# - wheels for the packages that the device's Python 3.12 lacks (rapidfuzz, defusedxml), at the
#   versions in constraints.txt.
# It stops with an error when the copy would exceed the limit.
set -euo pipefail
here=$(dirname "$0")
data=${LINESCRIBE_DATA:-../shared/data/lines}
quality=${QUALITY:-60}
limit=$((64 * 1024 * 1024))
rm -rf gpu
mkdir -p gpu/wheels
declare -A share=([hooker]=1 [copiste]=0.5 [poilus]=1 [mss19]=1 [peraire]=1 [timeus]=0.45)
for set in hooker copiste poilus mss19 peraire timeus; do
  python "$here/shrink_lines.py" "$data/$set/train" "gpu/lines/$set/train" --quality "$quality" --fraction "${share[$set]}"
done
for set in hooker copiste poilus mss19 mss20 peraire timeus; do
  python "$here/shrink_lines.py" "$data/$set/val" "gpu/lines/$set/val" --quality "$quality"
done
pins=()
for package in rapidfuzz defusedxml; do pins+=("$(grep -i "^$package==" constraints.txt)"); done
python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
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
