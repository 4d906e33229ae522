#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the kernel of the assembled tree into $OBJ.
# The config is tinyconfig plus harness/config/*.config fragments
# (debug.config only with DEBUG=1, the default). Every option a fragment
# sets must end up set: the build fails naming any that did not.
. "$(dirname "$0")/lib.sh"

[ -d "$TREE/.git" ] || die "no assembled tree: run 'make tree'"
mkdir -p "$OBJ"
frags="$HARNESS/config/base.config"
[ "${DEBUG:-1}" = 1 ] && frags="$frags $HARNESS/config/debug.config"
# Fragments for features the tree has: harness/config/feature-SYMBOL.config
# is used when Kconfig in the tree defines SYMBOL.
for f in "$HARNESS"/config/feature-*.config; do
	[ -f "$f" ] || continue
	sym=$(basename "$f" .config); sym=${sym#feature-}
	grep -rqs "^config $sym\$" "$TREE" --include='Kconfig*' && frags="$frags $f"
done
[ -n "${EXTRA_CONFIG:-}" ] && frags="$frags $EXTRA_CONFIG"

CC_CMD=gcc
command -v ccache >/dev/null && CC_CMD="ccache gcc"
MAKE=(make -C "$TREE" O="$OBJ" -j"$(($(nproc) + 1))" CC="$CC_CMD")

# Only rewrite .config when it changes, so an unchanged config rebuilds nothing.
want=$BUILD/config-check
mkdir -p "$want"
make -s -C "$TREE" O="$want" tinyconfig >/dev/null
# shellcheck disable=SC2086
"$TREE/scripts/kconfig/merge_config.sh" -m -O "$want" "$want/.config" $frags >/dev/null
make -s -C "$TREE" O="$want" olddefconfig >/dev/null
missing=0
for f in $frags; do
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qxF "$line" "$want/.config" || {
			echo "error: ${line%%=*} requested by $(basename "$f") is not set (got: $(grep "^${line%%=*}=\|# ${line%%=*} is" "$want/.config" || echo absent))" >&2
			missing=1
		}
	done < "$f"
done
[ $missing = 0 ] || exit 1
if ! cmp -s "$want/.config" "$OBJ/.config"; then
	cp "$want/.config" "$OBJ/.config"
	note "kernel config updated"
fi
note "building the kernel in $OBJ"
start=$(date +%s)
"${MAKE[@]}" -s olddefconfig >/dev/null
"${MAKE[@]}" -s bzImage
note "kernel built in $(( $(date +%s) - start )) s: $OBJ/arch/x86/boot/bzImage"
