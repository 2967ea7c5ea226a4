"""Rebuild the text that ``english.arpa.gz`` was estimated from (see README.md beside this file).

    apt-get download r-cran-janeaustenr r-cran-tokenizers
    for deb in r-cran-*.deb; do dpkg-deb -x "$deb" debs; done
    python make_english_corpus.py debs > english.txt
    linescribe lm build english.txt -o english.arpa.gz --order 3 --min-count 2 --prune 0,1,2

The two Debian packages hold R data files (``data/Rdata.rdb``): a lazy-load database of
zlib-compressed R serializations. Each novel is a character vector of lines; Moby Dick is one
string, a Project Gutenberg e-text whose licence header and footer are cut off here. The output
has one sentence per line.
"""

from __future__ import annotations

import re
import struct
import sys
import zlib
from pathlib import Path

JANEAUSTENR = "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"
TOKENIZERS = "usr/lib/R/site-library/tokenizers/data/Rdata.rdb"


def _character_vector(raw: bytes) -> list[str] | None:
    """An R serialization (XDR, version 2 or 3) of a character vector, or None for anything else."""
    if raw[:2] != b"X\n":
        return None
    position = 2
    (version,) = struct.unpack(">i", raw[position : position + 4])
    position += 12
    if version == 3:
        (length,) = struct.unpack(">i", raw[position : position + 4])
        position += 4 + length
    (flags,) = struct.unpack(">i", raw[position : position + 4])
    position += 4
    if flags & 0xFF != 16:  # STRSXP
        return None
    (count,) = struct.unpack(">i", raw[position : position + 4])
    position += 4
    strings = []
    for _ in range(count):
        (length,) = struct.unpack(">i", raw[position + 4 : position + 8])
        position += 8
        if length < 0:
            strings.append("")
            continue
        strings.append(raw[position : position + length].decode("utf-8", "replace"))
        position += length
    return strings


def read_rdb(path: Path) -> list[list[str]]:
    """Every character vector in an R lazy-load database file."""
    data = path.read_bytes()
    vectors = []
    position = 0
    while position < len(data):
        stream = zlib.decompressobj()
        raw = stream.decompress(data[position + 4 :])
        vector = _character_vector(raw)
        if vector is not None:
            vectors.append(vector)
        position = len(data) - len(stream.unused_data)
    return vectors


def sentences(text: str) -> list[str]:
    """Paragraphs joined, dashes made spaces, split after . ! ? followed by a space."""
    text = text.replace("\r\n", "\n").replace("--", " ").replace("_", "")
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", paragraph) if s.strip()]
    return out


def main(root: Path) -> None:
    texts = ["\n".join(novel) for novel in read_rdb(root / JANEAUSTENR)]
    (moby,) = read_rdb(root / TOKENIZERS)
    moby_text = moby[0].replace("\r\n", "\n")
    start = moby_text.index("\n", moby_text.index("*** START OF"))
    texts.append(moby_text[start : moby_text.index("*** END OF")])
    for text in texts:
        for sentence in sentences(text):
            print(sentence)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
