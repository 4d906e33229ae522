#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Write the work done in the assembled tree back into the repository. The
# commits of build/linux (base..HEAD) are the series:
#  - uncommitted changes to a base file are first folded into the last
#    commit that touched it (a new "UNSORTED" commit when none did);
#  - each commit becomes patches/<name>.patch: its message as the header,
#    its hunks to base files, and to new files an earlier commit added, as
#    the diff; patches/series lists the commits in order, each with the new
#    files (and MAINTAINERS) it adds;
#  - files the base lacks are copied to the same path here, and our entry
#    is taken back out of MAINTAINERS.
. "$(dirname "$0")/lib.sh"

[ -d "$TREE/.git" ] || die "no assembled tree: run 'make tree'"
git_t() { git -C "$TREE" "$@"; }
in_base() { git_t cat-file -e "base:$1" 2>/dev/null; }
LAST_SUBJECT="hugetlb-lu: files not yet in patches/series"
name=$(git -C "$HLU_ROOT" config user.name || echo "Your Name")
email=$(git -C "$HLU_ROOT" config user.email || echo "you@example.org")
export GIT_COMMITTER_NAME="$name" GIT_COMMITTER_EMAIL="$email"

# 1. Fold uncommitted changes to base files into the series commits.
mapfile -t dirty < <(git_t diff --name-only HEAD -- . ':!MAINTAINERS' |
		     while read -r f; do in_base "$f" && echo "$f"; done)
unsorted=()
for f in "${dirty[@]}"; do
	c=$(git_t log -n1 --format=%H base..HEAD -- "$f")
	if [ -n "$c" ] && [ "$(git_t log -n1 --format=%s "$c")" != "$LAST_SUBJECT" ]; then
		git_t commit -q --fixup="$c" -- "$f"
	else
		unsorted+=("$f")
	fi
done
if [ ${#unsorted[@]} -gt 0 ]; then
	echo "warning: changes to base files no commit owns go to a new UNSORTED commit: ${unsorted[*]}" >&2
	git_t commit -q --author="$name <$email>" -m "UNSORTED: name this change" \
		-m "Say why." -m "Signed-off-by: $name <$email>" -- "${unsorted[@]}"
fi
if [ ${#dirty[@]} -gt 0 ]; then
	GIT_SEQUENCE_EDITOR=: git_t rebase -q -i --autosquash --autostash base >/dev/null ||
		die "folding changes into their commits failed; finish the rebase in $TREE"
fi

# 2. One patch per commit, and the series.
series_new=$(mktemp)
sed '/^[^#]/,$d' "$HLU_ROOT/patches/series" > "$series_new"
declare -A old_name=()
while IFS='|' read -r patch _; do
	subj=$(git mailinfo /dev/null /dev/null < "$HLU_ROOT/patches/$patch" | sed -n 's/^Subject: //p')
	old_name[$subj]=$patch
done < <(series_entries)
declare -A keep=()
for c in $(git_t rev-list --reverse base..HEAD); do
	subj=$(git_t log -n1 --format=%s "$c")
	[ "$subj" = "$LAST_SUBJECT" ] && continue
	patch=${old_name[$subj]:-$(echo "$subj" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | cut -c1-60 | sed 's/^-//; s/-$//').patch}
	keep[$patch]=1
	echo "$patch" >> "$series_new"
	base_files=() new_files=() maint=()
	while read -r f; do
		if [ "$f" = MAINTAINERS ]; then
			maint=(MAINTAINERS)
		elif in_base "$f" || git_t cat-file -e "$c^:$f" 2>/dev/null; then
			# A base file, or a new one an earlier commit added.
			base_files+=("$f")
		else
			new_files+=("$f")
		fi
	done < <(git_t diff --name-only "$c^" "$c")
	for f in "${new_files[@]}" "${maint[@]}"; do echo "	$f"; done >> "$series_new"
	new=$(mktemp)
	{
		git_t log -n1 --format='From: %an <%ae>%nSubject: [PATCH] %s%n%n%b' "$c" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
		if [ ${#base_files[@]} -gt 0 ]; then
			echo "---"
			git_t diff --stat=72 "$c^" "$c" -- "${base_files[@]}" | sed 's/^ */ /'
			echo
			git_t diff --full-index "$c^" "$c" -- "${base_files[@]}"
			echo "-- "
			echo "hugetlb-lu"
		fi
	} > "$new"
	if cmp -s "$new" "$HLU_ROOT/patches/$patch"; then rm -f "$new"; else mv "$new" "$HLU_ROOT/patches/$patch"; note "patch $patch"; fi
done
for p in "$HLU_ROOT"/patches/*.patch; do
	[ -f "$p" ] || continue
	[ -n "${keep[$(basename "$p")]:-}" ] || { rm -f "$p"; note "removed patches/$(basename "$p")"; }
done
if cmp -s "$series_new" "$HLU_ROOT/patches/series"; then rm -f "$series_new"; else mv "$series_new" "$HLU_ROOT/patches/series"; note "patches/series"; fi

# 3. Overlay files: whatever the base lacks, under the kernel's folders.
git_t add -A -N . 2>/dev/null
mapfile -t changed < <(git_t diff --name-only base -- . ':!MAINTAINERS')
git_t reset -q
for d in $KERNEL_DIRS; do
	[ -d "$HLU_ROOT/$d" ] || continue
	find "$HLU_ROOT/$d" -type f | while read -r f; do
		rel=${f#"$HLU_ROOT"/}
		[ -f "$TREE/$rel" ] || { note "removed $rel"; rm -f "$f"; }
	done
	find "$HLU_ROOT/$d" -type d -empty -delete
done
for f in "${changed[@]}"; do
	in_base "$f" && continue
	[ -f "$TREE/$f" ] || continue
	if ! cmp -s "$TREE/$f" "$HLU_ROOT/$f"; then
		mkdir -p "$(dirname "$HLU_ROOT/$f")"
		cp "$TREE/$f" "$HLU_ROOT/$f"
		note "overlay $f"
	fi
done

# 4. MAINTAINERS: our entry only.
if git_t diff --quiet base -- MAINTAINERS; then
	echo "warning: the tree's MAINTAINERS has no entry of ours; keeping ours" >&2
else
	new=$(mktemp)
	"$HARNESS/maintainers.py" extract "$TREE/MAINTAINERS" "$MAINTAINERS_TITLE" > "$new"
	if cmp -s "$new" "$HLU_ROOT/MAINTAINERS"; then rm -f "$new"; else mv "$new" "$HLU_ROOT/MAINTAINERS"; note "MAINTAINERS"; fi
fi
git_t rev-parse HEAD > "$TREE/.git/hlu-assembled"
tree_state > "$TREE/.git/hlu-refreshed"
note "refreshed; review with git -C $HLU_ROOT status"
