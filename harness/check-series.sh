#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-series: every prefix of the series, from the base to the last
# commit, must build with W=1 and add no warning to those of the base, in
# four configs:
#   test            the config make check uses (debug options included)
#   no-hugetlb-lu   without debug options, CONFIG_LIVEUPDATE_HUGETLB=n
#   no-liveupdate   without debug options, CONFIG_LIVEUPDATE=n
#   no-hugetlbfs    without debug options, CONFIG_HUGETLBFS=n
# The prefixes are checked out one after the other in a clone of the
# assembled tree kept in the cache ($CACHE/series/src, outside the
# repository, so build/linux stays as it is), and each config builds in its
# own folder there: a prefix rebuilds only what its commit changed, and a
# later run, from this clone of the repository or a fresh one, only what
# changed since. A prefix whose exact tree was already built cleanly in a
# config, with the same config fragments and compiler, is not built again:
# $SDIR/CFG/verified keeps those trees. CHECK_SERIES_DIR=dir puts it all
# elsewhere; CHECK_SERIES_ALL=1 builds every prefix regardless.
# Prints one "PASS|FAIL check-series-CONFIG (...)" line per config.
. "$(dirname "$0")/lib.sh"
# W=1 runs kernel-doc, a python script, on every file: the system python
# directly, not through a version manager's shims, which cost more than
# the compiler.
export PATH=/usr/bin:$PATH

CONFIGS=${CONFIGS:-test no-hugetlb-lu no-liveupdate no-hugetlbfs}
SDIR=${CHECK_SERIES_DIR:-$CACHE/series}
SRC=$SDIR/src

"$HARNESS/tree.sh"
mapfile -t prefixes < <(git -C "$TREE" rev-parse base; git -C "$TREE" rev-list --reverse base..HEAD)
mkdir -p "$SDIR"
if ! git -C "$SRC" rev-parse -q --verify HEAD >/dev/null 2>&1; then
	rm -rf "$SRC"
	git clone -q --no-checkout "$TREE" "$SRC"
fi
git_t() { git -C "$SRC" "$@"; }
# The commits of this tree; checking one out rewrites only the files whose
# content differs from what the clone has, so builds stay incremental.
git_t fetch -q -f "$TREE" "+refs/heads/*:refs/remotes/tree/*" "+refs/tags/base:refs/tags/base"

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
		grep -rqs "^config $sym\$" "$SRC" --include='Kconfig*' && frags="$frags $f"
	done
	mkdir -p "$want" "$SDIR/$cfg"
	make -s -C "$SRC" O="$want" tinyconfig >/dev/null
	if [ -n "$off" ]; then
		echo "# CONFIG_$off is not set" > "$want/off.config"
		frags="$frags $want/off.config"
	fi
	# shellcheck disable=SC2086
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$want" "$want/.config" $frags >/dev/null
	make -s -C "$SRC" O="$want" olddefconfig >/dev/null
	if [ -n "$off" ] && grep -q "^CONFIG_$off=" "$want/.config"; then
		echo "error: $cfg: CONFIG_$off is still set" >&2
		return 1
	fi
	cmp -s "$want/.config" "$SDIR/$cfg/.config" || cp "$want/.config" "$SDIR/$cfg/.config"
}

# Warnings (the compiler's, and kernel-doc's "Warning: file:line ...") as
# "file: message", without line numbers, which move.
warnings() {
	grep -iE '(warning|error):? ' "$1" | grep -v '^make' |
		sed -E 's/:[0-9]+(:[0-9]+)?:?/:/' | LC_ALL=C sort -u
}

# keep_base_warnings CFG LOG: add the warnings of a base build to those of
# earlier base builds. A build folder kept from a run before rebuilds only
# part of the base, so each run sees only some of them.
keep_base_warnings() {
	local bw=$SDIR/$1/base-warnings
	touch "$bw"
	warnings "$2" | LC_ALL=C sort -u -m - "$bw" > "$bw.new"
	mv "$bw.new" "$bw"
}

# What a clean build of a tree depends on besides the tree: the config
# fragments of the four configs, and the compiler. rollback.config is in
# the key since its first version, which hashed every fragment: leaving it
# out would drop every tree verified so far. Fragments that only make
# check's kernels use (kvm.config, stress.config, kasan.config) are not in
# it.
env_key=$( (cat "$HARNESS"/config/base.config "$HARNESS"/config/debug.config \
	    "$HARNESS"/config/feature-*.config "$HARNESS"/config/rollback.config
	    gcc --version; ccache --version 2>/dev/null | head -n1) | sha1sum | cut -c1-16)

declare -A fail detail skipped
t0=$(date +%s)
i=0
for c in "${prefixes[@]}"; do
	subject=$(git_t log -n1 --format=%s "$c")
	[ $i = 0 ] && subject="the base"
	key="$(git_t rev-parse "$c^{tree}") $env_key"
	checked_out=0
	for cfg in $CONFIGS; do
		[ -n "${fail[$cfg]:-}" ] && continue
		mkdir -p "$SDIR/$cfg"
		if [ "${CHECK_SERIES_ALL:-0}" != 1 ] && [ -f "$SDIR/$cfg/base-warnings" ] &&
		   grep -qxF "$key" "$SDIR/$cfg/verified" 2>/dev/null; then
			skipped[$cfg]=$(( ${skipped[$cfg]:-0} + 1 ))
			continue
		fi
		[ $checked_out = 1 ] || git_t checkout -q -f --detach "$c"
		checked_out=1
		log=$SDIR/$cfg/build-$i.log
		config "$cfg" || { fail[$cfg]=1; detail[$cfg]="no config at $i: $subject"; continue; }
		# The base log of an earlier run, even an interrupted one, holds
		# warnings of files this run will not compile again: keep them.
		[ $i = 0 ] && [ -f "$log" ] && keep_base_warnings "$cfg" "$log"
		s=$(date +%s)
		if ! make -C "$SRC" O="$SDIR/$cfg" -j"$(($(nproc) + 1))" CC="$CC_CMD" W=1 \
			bzImage > "$log" 2>&1; then
			grep -E 'error' "$log" | head -n 20 >&2
			fail[$cfg]=1
			detail[$cfg]="prefix $i does not build: $subject"
			continue
		fi
		if [ $i = 0 ]; then
			keep_base_warnings "$cfg" "$log"
		else
			new=$(warnings "$log" | comm -23 - "$SDIR/$cfg/base-warnings")
			if [ -n "$new" ]; then
				echo "$new" | sed 's/^/  /' >&2
				fail[$cfg]=1
				detail[$cfg]="prefix $i adds W=1 warnings: $subject"
				continue
			fi
		fi
		echo "$key" >> "$SDIR/$cfg/verified"
		note "check-series: $cfg, prefix $i/$((${#prefixes[@]} - 1)) ($subject) built in $(( $(date +%s) - s )) s"
	done
	i=$((i + 1))
done

total=$(( $(date +%s) - t0 ))
for cfg in $CONFIGS; do
	if [ -n "${fail[$cfg]:-}" ]; then
		echo "FAIL check-series-$cfg (${detail[$cfg]})"
	else
		echo "PASS check-series-$cfg (base and $((${#prefixes[@]} - 1)) prefixes build, no new W=1 warnings; ${skipped[$cfg]:-0} of them built cleanly before)"
	fi
done
note "check-series took $total s"
[ -z "${fail[*]:-}" ] || exit 1
# make check runs this only once a whole run has warmed the build folders.
date -u > "$SDIR/complete"
