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
mkdir -p "$out"
make -s -C "$TREE/tools/testing/selftests/liveupdate" OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $hdr/include" LDFLAGS=-static all
note "test programs in $out"
