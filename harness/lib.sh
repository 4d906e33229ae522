# SPDX-License-Identifier: GPL-2.0
# Shared settings for the harness scripts. Sourced, never run.

set -eu

HLU_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=$HLU_ROOT/harness
BUILD=${BUILD:-$HLU_ROOT/build}
OUT=${OUT:-$HLU_ROOT/out}
CACHE=${HLU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hugetlb-lu}
TREE=$BUILD/linux
# ccache keys on paths relative to the clone, so that a fresh clone (CI's)
# finds what an earlier clone of the same tree compiled, not a cold cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$HLU_ROOT}
# Kernel objects; the config without debug options builds apart.
if [ "${DEBUG:-1}" = 1 ]; then OBJ=${OBJ:-$BUILD/obj}; else OBJ=${OBJ:-$BUILD/obj-nodebug}; fi
# Top-level folders of the kernel tree: repository files under these are
# overlay files, copied into the assembled tree at the same path.
KERNEL_DIRS="Documentation arch block drivers fs include init ipc kernel lib mm net scripts security tools virt"
MAINTAINERS_TITLE="HUGETLB LIVE UPDATE"
# The selftests that upstream's runner (vmtest.sh -T) runs in make check.
# Not hugetlb_numa (one node there: it skips), hugetlb_nodes (it needs
# the next kernel's command line of a scenario: it skips) nor
# hugetlb_kho_data (no libfdt in its nolibc build: it skips); our
# scenarios run them. hugetlb_fill runs there without its filler,
# hugetlb_fuzz with seed 1.
VMTESTS_DEFAULT="luo_kexec_simple hugetlb_files hugetlb_pools hugetlb_reservations
	hugetlb_sessions hugetlb_updates hugetlb_many_files hugetlb_cgroup
	hugetlb_seals hugetlb_named hugetlb_writer hugetlb_abort hugetlb_edges
	hugetlb_fill hugetlb_fuzz"

# The scenarios make check runs again on the kasan kernel: files of each
# page size, the pools, the hand-over data read back (corrupted, and
# crafted by KUnit), what preserve refuses, failed updates and injected
# allocation failures.
KASAN_SCENARIOS="hugetlb_files_2m hugetlb_files_both hugetlb_pools
	hugetlb_kho_data_corrupt hugetlb-kunit hugetlb_edges hugetlb_abort
	hugetlb_faults"

die() { echo "error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

# The repository's overlay files, relative paths, one per line.
overlay_files() {
	local d
	for d in $KERNEL_DIRS; do
		[ -d "$HLU_ROOT/$d" ] && (cd "$HLU_ROOT" && find "$d" -type f)
	done | LC_ALL=C sort
}

# Parse patches/series: prints "patch|file1 file2 ..." per commit.
series_entries() {
	awk '
	/^[ \t]*#/ || /^[ \t]*$/ { next }
	/^[ \t]/ { files = files " " $1; next }
	{ if (p != "") print p "|" files; p = $1; files = "" }
	END { if (p != "") print p "|" files }
	' "$HLU_ROOT/patches/series"
}

# A fingerprint of everything in the assembled tree that differs from the
# base, committed or not: refresh records it, tree checks it.
tree_state() {
	git -C "$TREE" add -A -N . 2>/dev/null
	git -C "$TREE" diff --binary base | sha256sum | cut -d' ' -f1
	git -C "$TREE" reset -q
}

# Point APT_OPTS at a private apt state in $CACHE/$1 whose sources.list
# holds the lines on stdin, and read its package lists. The system's apt
# configuration is not touched.
private_apt() {
	local dir=$CACHE/$1
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	cat > "$dir/sources.list"
	APT_OPTS=(-o Dir::Etc::SourceList="$dir/sources.list"
		  -o Dir::Etc::SourceParts=/dev/null
		  -o Dir::State::Lists="$dir/lists"
		  -o Dir::Cache="$dir/cache"
		  -o APT::Sandbox::User=root)
	apt-get "${APT_OPTS[@]}" -q update >/dev/null
}
