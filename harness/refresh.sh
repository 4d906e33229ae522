#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Write the work done in the assembled tree back into the repository:
#  - files the base does not have become overlay files at the same path;
#  - changes to base files regenerate the patch that owns the file (each
#    base file belongs to one patch; its message header is kept). A base
#    file no patch owns goes to patches/unsorted.patch, added to the series;
#  - our MAINTAINERS entry is taken back out of MAINTAINERS.
. "$(dirname "$0")/lib.sh"

[ -d "$TREE/.git" ] || die "no assembled tree: run 'make tree'"
git_t() { git -C "$TREE" "$@"; }
cd "$TREE"
# Everything that differs from the base, committed or not.
git_t add -A -N . 2>/dev/null
mapfile -t changed < <(git_t diff --name-only base -- . ':!MAINTAINERS')

# Which patch owns which base file.
declare -A owner=()
while IFS='|' read -r patch _; do
	for f in $(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "$HLU_ROOT/patches/$patch"); do
		owner[$f]=$patch
	done
done < <(series_entries)

declare -A patch_files=()
for f in "${changed[@]}"; do
	if git_t cat-file -e "base:$f" 2>/dev/null; then
		p=${owner[$f]:-unsorted.patch}
		patch_files[$p]="${patch_files[$p]:-} $f"
	fi
done
# Files of a patch that went back to the base drop out of it.
for f in "${!owner[@]}"; do
	p=${owner[$f]}
	[ -n "${patch_files[$p]+x}" ] || patch_files[$p]=""
done

# Overlay files: what the base lacks, under the kernel's top-level folders.
for d in $KERNEL_DIRS; do
	[ -d "$HLU_ROOT/$d" ] && find "$HLU_ROOT/$d" -type f | while read -r f; do
		rel=${f#"$HLU_ROOT"/}
		[ -f "$TREE/$rel" ] || { note "removed $rel"; rm -f "$f"; }
	done
done
for f in "${changed[@]}"; do
	git_t cat-file -e "base:$f" 2>/dev/null && continue
	[ -f "$TREE/$f" ] || continue
	if ! cmp -s "$TREE/$f" "$HLU_ROOT/$f"; then
		mkdir -p "$(dirname "$HLU_ROOT/$f")"
		cp "$TREE/$f" "$HLU_ROOT/$f"
		note "overlay $f"
	fi
done

# Patches: keep the message header, regenerate the diff.
for p in "${!patch_files[@]}"; do
	dest=$HLU_ROOT/patches/$p
	new=$(mktemp)
	if [ -f "$dest" ]; then
		sed '/^---$/,$d' "$dest" > "$new"
	else
		printf 'From: %s <%s>\nSubject: [PATCH] UNSORTED: name this change\n\nSay why.\n\nSigned-off-by: %s <%s>\n' \
			"$(git -C "$HLU_ROOT" config user.name || echo Name)" "$(git -C "$HLU_ROOT" config user.email || echo email)" \
			"$(git -C "$HLU_ROOT" config user.name || echo Name)" "$(git -C "$HLU_ROOT" config user.email || echo email)" > "$new"
		echo "$p" >> "$HLU_ROOT/patches/series"
		echo "warning: base files no patch owned went to patches/$p:${patch_files[$p]}" >&2
	fi
	# shellcheck disable=SC2086
	if [ -n "${patch_files[$p]// /}" ]; then
		{
			echo "---"
			git_t diff --stat=72 base -- ${patch_files[$p]} | sed 's/^ */ /'
			echo
			git_t diff --full-index base -- ${patch_files[$p]}
			echo "-- "
			echo "hugetlb-lu"
		} >> "$new"
	fi
	if ! cmp -s "$new" "$dest"; then
		mv "$new" "$dest"
		note "patch $p"
	else
		rm -f "$new"
	fi
done

# MAINTAINERS: our entry only.
if git_t diff --quiet base -- MAINTAINERS; then
	echo "warning: the tree's MAINTAINERS has no entry of ours; keeping ours" >&2
else
	new=$(mktemp)
	"$HARNESS/maintainers.py" extract "$TREE/MAINTAINERS" "$MAINTAINERS_TITLE" > "$new"
	if cmp -s "$new" "$HLU_ROOT/MAINTAINERS"; then rm -f "$new"; else mv "$new" "$HLU_ROOT/MAINTAINERS"; note "MAINTAINERS"; fi
fi
git_t reset -q
tree_state > "$TREE/.git/hlu-refreshed"
note "refreshed; review with git -C $HLU_ROOT status"
