#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the kernel of the assembled tree into $OBJ.
# The config is tinyconfig plus harness/config/*.config fragments
# (debug.config only with DEBUG=1, the default; kvm.config and
# stress.config but in the rollback kernel). Every option a fragment
# sets must end up set: the build fails naming any that did not.
. "$(dirname "$0")/lib.sh"

[ -d "$TREE/.git" ] || die "no assembled tree: run 'make tree'"
mkdir -p "$OBJ"
frags="$HARNESS/config/base.config"
[ "${DEBUG:-1}" = 1 ] && frags="$frags $HARNESS/config/debug.config"
# Fragments for features the tree has: harness/config/feature-SYMBOL.config
# is used when Kconfig in the tree defines SYMBOL. NO_FEATURES=1 leaves them
# out: the rollback kernel, a kernel without the series' features.
for f in "$HARNESS"/config/feature-*.config; do
	[ -f "$f" ] && [ "${NO_FEATURES:-0}" != 1 ] || continue
	sym=$(basename "$f" .config); sym=${sym#feature-}
	grep -rqs "^config $sym\$" "$TREE" --include='Kconfig*' && frags="$frags $f"
done
[ -n "${EXTRA_CONFIG:-}" ] && frags="$frags $EXTRA_CONFIG"
# KVM for the VM test and compaction for the stress test, in the kernels
# that run them (NO_STRESS=1: the kasan kernel, which runs neither).
[ "${NO_FEATURES:-0}" = 1 ] || [ "${NO_STRESS:-0}" = 1 ] ||
	frags="$frags $HARNESS/config/kvm.config $HARNESS/config/stress.config"
# The rollback kernel must really lack the feature.
[ "${NO_FEATURES:-0}" = 1 ] && frags="$frags $HARNESS/config/rollback.config"

CC_CMD=gcc
command -v ccache >/dev/null && CC_CMD="ccache gcc"
MAKE=(make -C "$TREE" O="$OBJ" -j"$(($(nproc) + 1))" CC="$CC_CMD")

# Build the wanted config in $want, check it, and copy it to $OBJ only when
# it differs, so an unchanged config rebuilds nothing.
make_config() {
	make -s -C "$TREE" O="$want" tinyconfig >/dev/null
	# shellcheck disable=SC2086
	"$TREE/scripts/kconfig/merge_config.sh" -m -O "$want" "$want/.config" $frags >/dev/null
	make -s -C "$TREE" O="$want" olddefconfig >/dev/null
	missing=0
	# What each option was asked to be: a later fragment overrides an
	# earlier one (prod.config turns base.config's KHO debugging off).
	declare -A asked from
	for f in $frags; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*) sym=${line%%=*} ;;
			"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
			*) continue ;;
			esac
			asked[$sym]=$line from[$sym]=$(basename "$f")
		done < "$f"
	done
	for sym in "${!asked[@]}"; do
		line=${asked[$sym]}
		# An option asked off may also be absent (not visible).
		case "$line" in "#"*) grep -q "^$sym=" "$want/.config" || continue ;; esac
		grep -qxF "$line" "$want/.config" || {
			echo "error: $sym requested by ${from[$sym]} is not as asked (got: $(grep "^$sym=\|# $sym is" "$want/.config" || echo absent))" >&2
			missing=1
		}
	done
	[ $missing = 0 ] || return 1
	if ! cmp -s "$want/.config" "$OBJ/.config"; then
		cp "$want/.config" "$OBJ/.config"
		note "kernel config updated"
	fi
}

want=$BUILD/config-check-$(basename "$OBJ")
mkdir -p "$want"
# The config depends on the fragments and the tree's Kconfig files only.
stamp=$( { cat $frags; git -C "$TREE" rev-parse HEAD;
	   git -C "$TREE" status --porcelain -- '*Kconfig*'; } | sha256sum | cut -d' ' -f1)
if [ -f "$OBJ/.config" ] && [ "$(cat "$OBJ/.hlu-config-stamp" 2>/dev/null)" = "$stamp" ]; then
	note "kernel config unchanged"
else
	make_config
	echo "$stamp" > "$OBJ/.hlu-config-stamp"
fi
note "building the kernel in $OBJ"
start=$(date +%s)
"${MAKE[@]}" -s bzImage
note "kernel built in $(( $(date +%s) - start )) s: $OBJ/arch/x86/boot/bzImage"
