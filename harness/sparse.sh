#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the path of a sparse that this kernel accepts. Debian bookworm's
# sparse 0.6.4 predates __typeof_unqual__, and the kernel then silently
# turns C=1 off; in that case build Debian sid's sparse source once into
# the cache (sparse needs only libc).
. "$(dirname "$0")/lib.sh"

valid() { [ "$(sh "$TREE/scripts/checker-valid.sh" "$1" 2>/dev/null)" = 1 ]; }
if command -v sparse >/dev/null && valid sparse; then
	command -v sparse
	exit 0
fi
dir=$CACHE/sparse
if [ -x "$dir/sparse" ] && valid "$dir/sparse"; then
	echo "$dir/sparse"
	exit 0
fi
note "building sparse from Debian sid's source (the installed one is too old)"
private_apt apt-src <<< "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" ||
	die "apt-get update of sid sources failed"
work=$(mktemp -d "$CACHE/sparse.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get "${APT_OPTS[@]}" -q source --download-only sparse >/dev/null 2>&1) ||
	die "download of sid's sparse source failed"
tar -C "$work" -xf "$work"/sparse_*.orig.tar.*
src=$(find "$work" -maxdepth 1 -type d -name 'sparse-*' | head -n1)
make -s -C "$src" -j"$(nproc)" sparse HAVE_LLVM=no HAVE_GTK=no HAVE_LIBXML=no HAVE_SQLITE=no >/dev/null 2>&1 ||
	die "building sparse failed"
valid "$src/sparse" || die "sid's sparse is still too old for this kernel"
rm -rf "$dir"
mkdir -p "$dir"
cp "$src/sparse" "$dir/sparse"
echo "$dir/sparse"
