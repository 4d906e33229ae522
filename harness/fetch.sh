#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch the base kernel tarball (Debian linux-source-7.3) into the cache,
# outside the repository, and print its path. A second run reuses it.
#
# LINUX_TARBALL=/path/linux-7.3.x.tar.xz brings your own tarball instead.
. "$(dirname "$0")/lib.sh"

PIN_VERSION=7.3.4-1~bpo13+1
PIN_SHA256=76df1affb19f24926949369be1d74b60071c963c598ce8780bddd4bbf0fc3bc4
SUITES="trixie-backports sid experimental"
SERIES=7.3
PKG=linux-source-$SERIES

if [ -n "${LINUX_TARBALL:-}" ]; then
	[ -f "$LINUX_TARBALL" ] || die "LINUX_TARBALL=$LINUX_TARBALL: no such file"
	echo "$LINUX_TARBALL"
	exit 0
fi

mkdir -p "$CACHE"
pinned=$CACHE/linux-source-$PIN_VERSION.tar.xz
if [ -f "$pinned" ]; then
	echo "$pinned"
	exit 0
fi

note "reading $SUITES package lists (not the system's)"
private_apt apt < <(for s in $SUITES; do
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $s main"
done) || die "apt-get update of $SUITES failed"

versions=$(apt-cache "${APT_OPTS[@]}" madison "$PKG" | awk -F'|' '{gsub(/ /,"",$2); print $2}')
[ -n "$versions" ] || die "$PKG is in none of: $SUITES"
if echo "$versions" | grep -qx "$PIN_VERSION"; then
	version=$PIN_VERSION
else
	version=$(echo "$versions" | grep "^${SERIES//./\\.}\\." | sort -V | tail -n1)
	[ -n "$version" ] || die "no $SERIES.y build of $PKG in $SUITES"
	echo "warning: pinned $PKG $PIN_VERSION is gone; using the newest $SERIES.y found, $version" >&2
fi

work=$(mktemp -d "$CACHE/dl.XXXXXX")
trap 'rm -rf "$work"' EXIT
note "downloading $PKG $version (~167 MB)"
(cd "$work" && apt-get "${APT_OPTS[@]}" -q download "$PKG=$version" >/dev/null 2>&1) ||
	die "download of $PKG=$version failed"
dpkg-deb -x "$work"/*.deb "$work/x"
tarball=$work/x/usr/src/linux-source-$SERIES.tar.xz
[ -f "$tarball" ] || die "$PKG $version holds no linux-source-$SERIES.tar.xz"
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$version" = "$PIN_VERSION" ] && [ "$sum" != "$PIN_SHA256" ]; then
	die "sha256 of $PKG $version tarball is $sum, expected $PIN_SHA256"
fi
dest=$CACHE/linux-source-$version.tar.xz
mv "$tarball" "$dest"
echo "$sum  $(basename "$dest")" > "$dest.sha256"
echo "$dest"
