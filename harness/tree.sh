#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Assemble $BUILD/linux: a git repository with the base kernel as one commit
# (tag "base"), then one commit per patches/series entry: the patch's hunks,
# the overlay files it lists, and our MAINTAINERS entry where listed.
#
# LINUX_SRC=/path/to/7.3-tree or LINUX_TARBALL=/path/x.tar.xz choose the base.
# FORCE=1 discards work in the tree that `make refresh` has not saved.
. "$(dirname "$0")/lib.sh"

git_t() { git -C "$TREE" "$@"; }
export GIT_AUTHOR_NAME="HugeTLB LU harness" GIT_AUTHOR_EMAIL="hugetlb-lu@example.org"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

if [ -n "${LINUX_SRC:-}" ]; then
	[ -f "$LINUX_SRC/Makefile" ] || die "LINUX_SRC=$LINUX_SRC is not a kernel tree"
	base_id="src:$(cd "$LINUX_SRC" && pwd)"
else
	tarball=$("$HARNESS/fetch.sh")
	base_id="tar:$(sha256sum "$tarball" | cut -d' ' -f1)"
fi

# What the assembly depends on: when nothing changed, the tree is left
# alone (and so are its files' times, which spares a rebuild).
inputs=$( { echo "$base_id"; cat "$HLU_ROOT/MAINTAINERS" "$HLU_ROOT/patches/series";
	    cd "$HLU_ROOT" && for f in patches/*.patch $(overlay_files); do
		[ -f "$f" ] && echo "$f" && cat "$f"; done; } | sha256sum | cut -d' ' -f1)
if [ -d "$TREE/.git" ] && [ "$(cat "$TREE/.git/hlu-inputs" 2>/dev/null)" = "$inputs" ] &&
   [ -z "$(git_t status --porcelain)" ] &&
   [ "$(git_t rev-parse HEAD)" = "$(cat "$TREE/.git/hlu-assembled" 2>/dev/null)" ]; then
	note "$TREE is up to date"
	exit 0
fi

if [ -d "$TREE/.git" ] && [ "$(cat "$TREE/.git/hlu-base" 2>/dev/null)" = "$base_id" ]; then
	if [ "${FORCE:-0}" != 1 ] &&
	   [ "$(tree_state)" != "$(cat "$TREE/.git/hlu-refreshed" 2>/dev/null)" ]; then
		if [ "${KEEP_UNSAVED:-0}" = 1 ]; then
			note "$TREE has work 'make refresh' has not saved: using the tree as it is"
			exit 0
		fi
		[ -z "$(git_t status --porcelain)" ] ||
			die "$TREE has unsaved changes: run 'make refresh' first (or FORCE=1)"
		[ "$(git_t rev-parse HEAD)" = "$(cat "$TREE/.git/hlu-assembled" 2>/dev/null)" ] ||
			die "$TREE has new commits: run 'make refresh' first (or FORCE=1)"
	fi
	# Remember the content and time of every file the series touches, so
	# that files coming back unchanged keep their time (no rebuild).
	git_t diff --name-only base | while read -r f; do
		[ -f "$TREE/$f" ] && echo "$(git_t hash-object "$TREE/$f") $(stat -c %Y "$TREE/$f") $f"
	done > "$TREE/.git/hlu-times"
	git_t checkout -q -f --detach base
	git_t clean -fdq
else
	note "unpacking the base into $TREE"
	rm -rf "$TREE"
	mkdir -p "$TREE"
	if [ -n "${LINUX_SRC:-}" ]; then
		rsync -a --exclude=.git "$LINUX_SRC/" "$TREE/"
	else
		tar -C "$TREE" --strip-components=1 -xf "$tarball"
	fi
	# Debian's linux-source adds a .gitignore block that ignores every
	# top-level path; drop it so new files in the tree show up as they do
	# in an upstream tree.
	sed -i '/^# Debian packaging/,$d' "$TREE/.gitignore"
	git_t init -q
	git_t config core.autocrlf false
	git_t add -A -f
	GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z git_t commit -q -m "Linux $(make -s -C "$TREE" kernelversion) base"
	git_t tag base
	echo "$base_id" > "$TREE/.git/hlu-base"
fi
git_t checkout -q -B hugetlb-lu base

listed=$(mktemp)
trap 'rm -f "$listed"' EXIT
maint_done=0

# Splice our MAINTAINERS entry into the tree's, with the F: lines that
# match files the tree has so far: each commit that adds files adds their
# F: lines, and the last one has the whole entry.
add_maintainers() {
	local entry line pat
	entry=$(mktemp)
	while IFS= read -r line; do
		case "$line" in
		F:*)
			pat=${line#F:}; pat=${pat#"${pat%%[![:space:]]*}"}
			[ -n "$(git_t ls-files -- "$pat")" ] || continue ;;
		esac
		echo "$line"
	done < "$HLU_ROOT/MAINTAINERS" > "$entry"
	"$HARNESS/maintainers.py" splice "$TREE/MAINTAINERS" "$entry"
	rm -f "$entry"
	git_t add MAINTAINERS
	maint_done=1
}

# A new file that later commits change: the repository holds its final
# version, the commit that adds it gets that version without the hunks of
# the later patches, taken off last first.
mapfile -t entries < <(series_entries)
added_version() {
	local f=$1 i=$2 j later
	for ((j = ${#entries[@]} - 1; j > i; j--)); do
		later=$HLU_ROOT/patches/${entries[j]%%|*}
		grep -q "^diff --git a/$f b/$f\$" "$later" || continue
		git_t apply -R --include="$f" --whitespace=nowarn "$later" ||
			die "the hunks of $(basename "$later") to $f do not come off its final version"
	done
}

# One commit per series entry.
if [ -f "$HLU_ROOT/patches/series" ]; then
	i=-1
	while IFS='|' read -r patch files; do
		i=$((i + 1))
		p=$HLU_ROOT/patches/$patch
		[ -f "$p" ] || die "patches/series names $patch, which does not exist"
		msg=$(mktemp)
		git mailinfo "$msg" /dev/null < "$p" > "$msg.info"
		subject=$(sed -n 's/^Subject: //p' "$msg.info")
		author=$(sed -n 's/^Author: //p' "$msg.info")
		email=$(sed -n 's/^Email: //p' "$msg.info")
		{ echo "$subject"; echo; cat "$msg"; } > "$msg.full"
		if grep -q '^diff --git ' "$p"; then
			if ! err=$(git_t apply --index --whitespace=nowarn "$p" 2>&1); then
				echo "error: patch patches/$patch does not apply:" >&2
				echo "$err" | sed 's/^/  /' >&2
				exit 1
			fi
		fi
		for f in $files; do
			echo "$f" >> "$listed"
			if [ "$f" = MAINTAINERS ]; then
				add_maintainers
				continue
			fi
			[ -f "$HLU_ROOT/$f" ] || die "patches/series: $patch lists $f, which does not exist"
			mkdir -p "$(dirname "$TREE/$f")"
			cp "$HLU_ROOT/$f" "$TREE/$f"
			added_version "$f" "$i"
			git_t add -f "$f"
		done
		git_t commit -q --allow-empty -F "$msg.full" \
			--author="${author:-$GIT_AUTHOR_NAME} <${email:-$GIT_AUTHOR_EMAIL}>"
		rm -f "$msg" "$msg.info" "$msg.full"
	done < <(printf '%s\n' "${entries[@]}")
fi

# Overlay files that no series entry lists yet still go in, last.
unlisted=$(overlay_files | grep -vxF -f "$listed" || true)
if [ -n "$unlisted" ] || [ $maint_done = 0 ]; then
	for f in $unlisted; do
		echo "warning: $f is in no patches/series entry" >&2
		mkdir -p "$(dirname "$TREE/$f")"
		cp "$HLU_ROOT/$f" "$TREE/$f"
		git_t add -f "$f"
	done
	[ $maint_done = 1 ] || add_maintainers
	git_t commit -q -m "hugetlb-lu: files not yet in patches/series"
fi
if [ -f "$TREE/.git/hlu-times" ]; then
	while read -r hash time f; do
		[ -f "$TREE/$f" ] && [ "$(git_t hash-object "$TREE/$f")" = "$hash" ] &&
			touch -d "@$time" "$TREE/$f"
	done < "$TREE/.git/hlu-times"
fi
git_t rev-parse HEAD > "$TREE/.git/hlu-assembled"
echo "$inputs" > "$TREE/.git/hlu-inputs"
tree_state > "$TREE/.git/hlu-refreshed"
note "assembled $TREE ($(git_t rev-list --count base..HEAD) commits on the base)"
