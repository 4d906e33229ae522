#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pack the test initramfs: busybox-static, kexec-tools with its libraries,
# the kernel to kexec into, the test programs and the scenarios.
# Extra scenario folders (SCENARIOS=dir) add their *.scn and programs.
# INITRAMFS=path.cpio.gz writes elsewhere (staged in path without .cpio.gz).
. "$(dirname "$0")/lib.sh"

out=${INITRAMFS:-$BUILD/initramfs.cpio.gz}
root=${out%.cpio.gz}
[ "$root" != "$out" ] || die "INITRAMFS=$out does not end in .cpio.gz"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,boot,tests,scenarios,etc,lib,lib64}
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
kexec_bin=$(command -v kexec || echo /usr/sbin/kexec)
cp "$kexec_bin" "$root/sbin/kexec"
for lib in $(ldd "$kexec_bin" | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp "$OBJ/arch/x86/boot/bzImage" "$root/boot/bzImage"
# The kernels a scenario can live-update into with KERNEL<hop>=NAME
# (harness/build.sh): rollback, the same one without the series' features;
# kasan, with the memory-safety tools; abi, speaking another version of
# the hand-over data.
for k in rollback kasan abi; do
	if [ -f "$OBJ-$k/arch/x86/boot/bzImage" ]; then
		cp "$OBJ-$k/arch/x86/boot/bzImage" "$root/boot/bzImage-$k"
	fi
done
install -m 755 "$HARNESS/init" "$root/init"
for t in "$HARNESS"/tools/*; do
	# Tools in C are built with the test programs (harness/tests.sh).
	case $t in *.c) continue ;; esac
	install -m 755 "$t" "$root/bin/"
done
find "$BUILD/selftests" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/tests/" \;
cp "$HARNESS"/scenarios/*.scn "$HARNESS"/demo/*.scn "$root/scenarios/"
for d in ${SCENARIOS:-}; do
	[ -d "$d" ] || die "SCENARIOS=$d is not a folder"
	cp "$d"/*.scn "$root/scenarios/" 2>/dev/null || die "no *.scn in $d"
	find "$d" -maxdepth 1 -type f -perm -u+x ! -name '*.scn' -exec cp {} "$root/tests/" \;
done
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 > "$out"
note "initramfs: $out ($(du -h "$out" | cut -f1))"
