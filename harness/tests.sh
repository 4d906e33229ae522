#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the static test programs of tools/testing/selftests/liveupdate with
# that folder's own kselftest Makefile, against the assembled tree's uapi
# headers (make headers_install).
. "$(dirname "$0")/lib.sh"

[ -d "$TREE/.git" ] || die "no assembled tree: run 'make tree'"
hdr=$BUILD/usr
out=$BUILD/selftests
make -s -C "$TREE" O="$BUILD/hdr-obj" INSTALL_HDR_PATH="$hdr" headers_install
# kselftest's lib.mk leaves objects next to the sources: build a copy so
# the tree stays clean.
src=$BUILD/selftests-src
mkdir -p "$out" "$src"
rsync -a --delete --exclude='*.o' --exclude='*.d' "$TREE/tools/testing/selftests/" "$src/"
make -s -C "$src/liveupdate" OUTPUT="$out" top_srcdir="$TREE" \
	KHDR_INCLUDES="-isystem $hdr/include" LDFLAGS=-static all
# The harness's own guest tools written in C (harness/tools/*.c).
for c in "$HARNESS"/tools/*.c; do
	[ -f "$c" ] || continue
	gcc -Wall -O2 -static -isystem "$hdr/include" -o "$out/$(basename "$c" .c)" "$c"
done
note "test programs in $out"
