#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-series: every prefix of the series, from the base to the last
# commit, must build with W=1 and add no warning to those of the base, in
# four configs:
#   test            the config make check uses (debug options included)
#   no-hugetlb-lu   without debug options, CONFIG_LIVEUPDATE_HUGETLB=n
#   no-liveupdate   without debug options, CONFIG_LIVEUPDATE=n
#   no-hugetlbfs    without debug options, CONFIG_HUGETLBFS=n
# The prefixes are checked out in the assembled tree itself, whose compiler
# command lines ccache has seen, and each config builds in its own folder,
# so that a prefix rebuilds only what its commit changed. At the end the
# tree is back on its branch with its files' times as they were.
# Prints one "PASS|FAIL check-series-CONFIG (...)" line per config.
. "$(dirname "$0")/lib.sh"

CONFIGS=${CONFIGS:-test no-hugetlb-lu no-liveupdate no-hugetlbfs}
SDIR=$BUILD/series
git_t() { git -C "$TREE" "$@"; }

"$HARNESS/tree.sh"
[ -z "$(git_t status --porcelain)" ] || die "$TREE has unsaved changes: run 'make refresh' first"
branch=$(git_t symbolic-ref -q --short HEAD) || die "$TREE is not on a branch"
head=$(git_t rev-parse HEAD)
mapfile -t prefixes < <(git_t rev-parse base; git_t rev-list --reverse base..HEAD)
mkdir -p "$SDIR"

# Put the tree back as it was, whatever happens.
times=$SDIR/times
git_t diff --name-only base "$head" | while read -r f; do
	[ -f "$TREE/$f" ] && echo "$(stat -c %Y "$TREE/$f") $f"
done > "$times"
restore() {
	git_t checkout -q -f "$branch"
	while read -r t f; do
		[ -f "$TREE/$f" ] && touch -d "@$t" "$TREE/$f"
	done < "$times"
}
trap restore EXIT

CC_CMD=gcc
command -v ccache >/dev/null && CC_CMD="ccache gcc"

# config CFG: write $SDIR/CFG/.config for the checked-out prefix, and copy
# it into the build folder only when it changed.
config() {
	local cfg=$1 want=$SDIR/config-$1 frags f sym off=
	frags="$HARNESS/config/base.config"
	case $cfg in
	test) frags="$frags $HARNESS/config/debug.config" ;;
	no-hugetlb-lu) off=LIVEUPDATE_HUGETLB ;;
	no-liveupdate) off=LIVEUPDATE ;;
	no-hugetlbfs) off=HUGETLBFS ;;
	*) die "unknown config $cfg" ;;
	esac
	for f in "$HARNESS"/config/feature-*.config; do
		sym=$(basename "$f" .config); sym=${sym#feature-}
		[ -n "$off" ] && [ "$sym" = "$off" ] && continue
		grep -rqs "^config $sym\$" "$TREE" --include='Kconfig*' && frags="$frags $f"
	done
	mkdir -p "$want" "$SDIR/$cfg"
	make -s -C "$TREE" O="$want" tinyconfig >/dev/null
	if [ -n "$off" ]; then
		echo "# CONFIG_$off is not set" > "$want/off.config"
		frags="$frags $want/off.config"
	fi
	# shellcheck disable=SC2086
	"$TREE/scripts/kconfig/merge_config.sh" -m -O "$want" "$want/.config" $frags >/dev/null
	make -s -C "$TREE" O="$want" olddefconfig >/dev/null
	if [ -n "$off" ] && grep -q "^CONFIG_$off=" "$want/.config"; then
		echo "error: $cfg: CONFIG_$off is still set" >&2
		return 1
	fi
	cmp -s "$want/.config" "$SDIR/$cfg/.config" || cp "$want/.config" "$SDIR/$cfg/.config"
}

# Warnings as "file: message", without line numbers, which move.
warnings() {
	grep -E '(warning|error):' "$1" | sed -E 's/:[0-9]+(:[0-9]+)?:/:/' | LC_ALL=C sort -u
}

declare -A fail detail
t0=$(date +%s)
prev=
i=0
for c in "${prefixes[@]}"; do
	git_t checkout -q -f --detach "$c"
	subject=$(git_t log -n1 --format=%s "$c")
	[ $i = 0 ] && subject="the base"
	kconfig_changed=1
	[ -n "$prev" ] && [ -z "$(git_t diff --name-only "$prev" "$c" -- '*Kconfig*')" ] &&
		kconfig_changed=0
	for cfg in $CONFIGS; do
		[ -n "${fail[$cfg]:-}" ] && continue
		log=$SDIR/$cfg/build-$i.log
		if [ $kconfig_changed = 1 ] || [ ! -f "$SDIR/$cfg/.config" ]; then
			config "$cfg" || { fail[$cfg]=1; detail[$cfg]="no config at $i: $subject"; continue; }
		fi
		s=$(date +%s)
		if ! make -C "$TREE" O="$SDIR/$cfg" -j"$(($(nproc) + 1))" CC="$CC_CMD" W=1 \
			bzImage > "$log" 2>&1; then
			grep -E 'error' "$log" | head -n 20 >&2
			fail[$cfg]=1
			detail[$cfg]="prefix $i does not build: $subject"
			continue
		fi
		if [ $i = 0 ]; then
			# A build folder kept from a run before rebuilds only part
			# of the base: keep what earlier runs saw too.
			touch "$SDIR/$cfg/base-warnings"
			warnings "$log" | LC_ALL=C sort -u -m - "$SDIR/$cfg/base-warnings" > "$SDIR/$cfg/bw.new"
			mv "$SDIR/$cfg/bw.new" "$SDIR/$cfg/base-warnings"
		else
			new=$(warnings "$log" | comm -23 - "$SDIR/$cfg/base-warnings")
			if [ -n "$new" ]; then
				echo "$new" | sed 's/^/  /' >&2
				fail[$cfg]=1
				detail[$cfg]="prefix $i adds W=1 warnings: $subject"
				continue
			fi
		fi
		note "check-series: $cfg, prefix $i/$((${#prefixes[@]} - 1)) ($subject) built in $(( $(date +%s) - s )) s"
	done
	prev=$c
	i=$((i + 1))
done

total=$(( $(date +%s) - t0 ))
for cfg in $CONFIGS; do
	if [ -n "${fail[$cfg]:-}" ]; then
		echo "FAIL check-series-$cfg (${detail[$cfg]})"
	else
		echo "PASS check-series-$cfg (base and $((${#prefixes[@]} - 1)) prefixes build, no new W=1 warnings)"
	fi
done
note "check-series took $total s"
[ ${#fail[@]} = 0 ]
