#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the harness needs, or say which to install.
# Usage: deps.sh [check|bench]
. "$(dirname "$0")/lib.sh"

PKGS="make gcc flex bison bc cpio rsync xz-utils libelf-dev libssl-dev
	perl python3 python3-ply python3-git python3-sphinx python3-sphinx-rtd-theme ccache sparse qemu-system-x86 busybox-static kexec-tools
	libfdt-dev apt dpkg"
[ "${1:-}" = bench ] && PKGS="$PKGS gnuplot-nox"

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "Missing Debian packages. Run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
note "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
