#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lint our own files and patches in the assembled tree. Prints one
# "PASS|FAIL|SKIP lint-NAME (detail)" line per check; details on stderr.
. "$(dirname "$0")/lib.sh"
# Debian's python3 (with python3-ply) for checkpatch's SPDX check.
export PATH=/usr/bin:$PATH

[ -d "$TREE/.git" ] || die "no assembled tree: run 'make tree'"
cd "$TREE"
mapfile -t files < <(overlay_files)
status=0
result() { # result NAME OK(0/1/4) DETAIL LOGFILE
	case $2 in
	0) echo "PASS lint-$1 ($3)" ;;
	4) echo "SKIP lint-$1 ($3)" ;;
	*) echo "FAIL lint-$1 ($3)"; cat "$4" >&2; status=1 ;;
	esac
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# checkpatch --strict: every overlay source file, whole.
: > "$tmp"
n=0
for f in "${files[@]}"; do
	case "$f" in *.c|*.h|*.rst|*/Kconfig*|*/Makefile|*.sh) ;; *) continue ;; esac
	n=$((n + 1))
	scripts/checkpatch.pl --strict --no-summary --quiet --terse -f "$f" >> "$tmp" 2>&1 || true
done
# The harness's own C programs (they never go in the kernel tree).
for f in "$HLU_ROOT"/harness/*/*.c; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	scripts/checkpatch.pl --strict --no-tree --no-summary --quiet --terse -f "$f" >> "$tmp" 2>&1 || true
done
# Each commit of the series, as the patch a maintainer receives.
for c in $(git rev-list --reverse base..HEAD); do
	[ "$(git log -n1 --format=%s "$c")" = "hugetlb-lu: files not yet in patches/series" ] && continue
	n=$((n + 1))
	git format-patch -1 --stdout "$c" |
		scripts/checkpatch.pl --strict --no-summary --quiet --terse - 2>&1 |
		sed "s|^-:|$(git log -n1 --format=%s "$c" | cut -c1-50): |" >> "$tmp" || true
done
if [ $n = 0 ]; then
	result checkpatch 4 "no kernel files or patches of ours yet" "$tmp"
elif [ -s "$tmp" ]; then
	result checkpatch 1 "$(grep -cE 'ERROR|WARNING|CHECK' "$tmp") findings" "$tmp"
else
	result checkpatch 0 "$n files and patches clean" "$tmp"
fi

# kernel-doc: every overlay C file and header.
: > "$tmp"
n=0
for f in "${files[@]}"; do
	case "$f" in *.c|*.h) ;; *) continue ;; esac
	n=$((n + 1))
	scripts/kernel-doc -none -Wall "$f" >> "$tmp" 2>&1 || true
done
if [ $n = 0 ]; then
	result kernel-doc 4 "no C files of ours yet" "$tmp"
elif [ -s "$tmp" ]; then
	result kernel-doc 1 "$(wc -l < "$tmp") warnings" "$tmp"
else
	result kernel-doc 0 "$n files clean" "$tmp"
fi

# Each commit, as a patch: kernel-doc on the C files and headers it touches
# must not warn more than on the same files before it, and get_maintainer.pl
# must find someone to send it to.
: > "$tmp"
n=0
kd=$(mktemp -d)
for c in $(git rev-list --reverse base..HEAD); do
	n=$((n + 1))
	subj=$(git log -n1 --format=%s "$c" | cut -c1-50)
	for f in $(git diff --name-only --diff-filter=AM "$c^" "$c" -- '*.c' '*.h'); do
		mkdir -p "$kd/new/$(dirname "$f")" "$kd/old/$(dirname "$f")"
		git show "$c:$f" > "$kd/new/$f"
		git show "$c^:$f" > "$kd/old/$f" 2>/dev/null || : > "$kd/old/$f"
		old=$(scripts/kernel-doc -none -Wall "$kd/old/$f" 2>&1 | wc -l)
		new=$(scripts/kernel-doc -none -Wall "$kd/new/$f" 2>&1 | wc -l)
		[ "$new" -le "$old" ] ||
			{ echo "$subj: $f: kernel-doc warnings $old -> $new" >> "$tmp"
			  scripts/kernel-doc -none -Wall "$kd/new/$f" >> "$tmp" 2>&1 || true; }
	done
	git format-patch -1 --stdout "$c" > "$kd/p.patch"
	to=$(scripts/get_maintainer.pl --no-git --no-git-fallback "$kd/p.patch" 2>>"$tmp") ||
		echo "$subj: get_maintainer.pl failed" >> "$tmp"
	[ -n "$to" ] || echo "$subj: get_maintainer.pl found nobody" >> "$tmp"
done
rm -rf "$kd"
if [ $n = 0 ]; then
	result patch-doc-maintainers 4 "no commits yet" "$tmp"
elif [ -s "$tmp" ]; then
	result patch-doc-maintainers 1 "$(wc -l < "$tmp") problems" "$tmp"
else
	result patch-doc-maintainers 0 "$n patches: no new kernel-doc warnings in the files they touch, get_maintainer.pl addresses each" "$tmp"
fi

# W=1 and sparse (C=2 forces the check) on the kernel objects our files make.
objs=()
for f in "${files[@]}"; do
	case "$f" in tools/*|Documentation/*) continue ;; *.c) ;; *) continue ;; esac
	[ -f "$OBJ/${f%.c}.o" ] && objs+=("${f%.c}.o")
done
if [ ${#objs[@]} = 0 ]; then
	result w1-sparse 4 "no kernel object of ours in this config" "$tmp"
else
	CC_CMD=gcc
	command -v ccache >/dev/null && CC_CMD="ccache gcc"
	sparse=$("$HARNESS/sparse.sh")
	make -s -C "$TREE" O="$OBJ" CC="$CC_CMD" W=1 C=2 CHECK="$sparse" "${objs[@]}" > "$tmp" 2>&1 || true
	# Rebuild them with the normal flags for the kernel image.
	make -s -C "$TREE" O="$OBJ" CC="$CC_CMD" "${objs[@]}" >/dev/null 2>&1 || true
	if grep -qE 'warning|error|not available' "$tmp"; then
		result w1-sparse 1 "$(grep -cE 'warning|error' "$tmp") warnings" "$tmp"
	else
		result w1-sparse 0 "${#objs[@]} objects clean" "$tmp"
	fi
fi

# The documentation page, built with Sphinx as part of Documentation/mm.
# References to other folders cannot resolve in a partial build.
docs=$(printf '%s\n' "${files[@]}" | grep '^Documentation/.*\.rst$' || true)
if [ -z "$docs" ]; then
	result htmldocs 4 "no documentation of ours yet" "$tmp"
else
	: > "$tmp"
	dirs=$(for d in $docs; do d=${d#Documentation/}; echo "${d%%/*}"; done | sort -u | tr '\n' ' ')
	make -C "$TREE" O="$BUILD/htmldocs" SPHINXDIRS="$dirs" htmldocs > "$tmp.log" 2>&1 ||
		echo "make htmldocs failed" >> "$tmp"
	pat=$(printf '%s\n' "${files[@]}" | grep -E '\.(rst|c|h)$' | sed 's/[.]/[.]/g' | paste -sd'|')
	grep -E "($pat).*(WARNING|ERROR)" "$tmp.log" | grep -v 'unknown document' >> "$tmp" || true
	for d in $docs; do
		d=${d#Documentation/}
		[ -f "$BUILD/htmldocs/Documentation/output/${d%.rst}.html" ] ||
			echo "no HTML page for $d" >> "$tmp"
	done
	rm -f "$tmp.log"
	if [ -s "$tmp" ]; then
		result htmldocs 1 "$(wc -l < "$tmp") problems" "$tmp"
	else
		result htmldocs 0 "$(echo "$docs" | wc -w) pages built by Sphinx (SPHINXDIRS=${dirs% }) without warnings" "$tmp"
	fi
fi
exit $status
