#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Splice our MAINTAINERS entry into the kernel's, or take it back out.

  maintainers.py splice  KERNEL_MAINTAINERS OUR_ENTRY   (edits in place)
  maintainers.py extract KERNEL_MAINTAINERS TITLE > OUR_ENTRY

Entries are blocks whose first line is a title and whose next line is a
"X:\t" field; upstream keeps them in alphabetical order of title.
"""
import re
import sys

FIELD = re.compile(r"^[A-Z]:\t")


def blocks(lines):
    """Yield (start, end) line ranges of entries."""
    i = 0
    n = len(lines)
    while i < n - 1:
        if lines[i].strip() and FIELD.match(lines[i + 1]) and \
                (i == 0 or not lines[i - 1].strip()):
            j = i + 1
            while j < n and lines[j].strip():
                j += 1
            yield i, j
            i = j
        else:
            i += 1


def splice(kpath, epath):
    with open(kpath) as f:
        lines = f.read().split("\n")
    with open(epath) as f:
        entry = f.read().rstrip("\n").split("\n")
    title = entry[0]
    key = title.upper()
    # A later commit of the series grows the entry: replace it.
    for start, end in blocks(lines):
        if lines[start] == title:
            del lines[start:end + 1]
            break
    # The file is sorted but for a few stray entries: take the last place
    # where our title falls between two neighbours.
    place = None
    prev = None
    for start, _ in blocks(lines):
        t = lines[start].upper()
        if prev is not None and prev < key < t:
            place = start
        prev = t
    if place is None:
        sys.exit("MAINTAINERS: found no place for our entry")
    lines[place:place] = entry + [""]
    with open(kpath, "w") as f:
        f.write("\n".join(lines))


def extract(kpath, title):
    with open(kpath) as f:
        lines = f.read().split("\n")
    for start, end in blocks(lines):
        if lines[start] == title:
            sys.stdout.write("\n".join(lines[start:end]) + "\n")
            return
    sys.exit(f"MAINTAINERS: no entry '{title}'")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("splice", "extract"):
        sys.exit(__doc__)
    if sys.argv[1] == "splice":
        splice(sys.argv[2], sys.argv[3])
    else:
        extract(sys.argv[2], sys.argv[3])
