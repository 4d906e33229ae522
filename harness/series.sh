#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make series: write $OUT/series, the series as a maintainer receives it:
# git format-patch of the assembled tree's commits, a cover letter made from
# patches/cover-letter, and To/Cc from the tree's get_maintainer.pl.
#
# AM_CHECK=1 then applies it with git am to a fresh unpack of the base and
# prints one "PASS|FAIL series-am (...)" line, as make check does.
. "$(dirname "$0")/lib.sh"
export PATH=/usr/bin:$PATH

"$HARNESS/tree.sh"
dir=$OUT/series
rm -rf "$dir"
mkdir -p "$dir"
git_t() { git -C "$TREE" "$@"; }

n=$(git_t rev-list --count base..HEAD)
[ "$n" -gt 0 ] || die "the tree has no commits on the base"

# The series goes out under the submitter's own identity, the one git
# knows for this repository: every patch is from and signed off by them.
# The patches here carry a placeholder, which must not leave the machine.
PLACEHOLDER="HugeTLB LU <hugetlb-lu@example.org>"
# ... and our MAINTAINERS entry names a placeholder maintainer.
M_PLACEHOLDER="HugeTLB LU maintainers <hugetlb-lu@example.org>"
me_name=$(git -C "$HLU_ROOT" config user.name || true)
me_email=$(git -C "$HLU_ROOT" config user.email || true)
[ -n "$me_name" ] && [ -n "$me_email" ] ||
	die "set your identity first: git config user.name 'Your Name'; git config user.email you@example.com"
case "$me_email" in
*@example.org|*@example.com|*@localhost) die "git config user.email is a placeholder ($me_email): set your own" ;;
esac
me="$me_name <$me_email>"
if git_t log --format=%s base..HEAD | grep -qx "hugetlb-lu: files not yet in patches/series"; then
	die "some files are in no patches/series entry; the series would not be whole"
fi

# Addresses: maintainers of what the series touches go to To:, reviewers and
# lists to Cc:.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git_t format-patch -q -o "$tmp" base..HEAD
gm() { (cd "$TREE" && scripts/get_maintainer.pl --no-git --no-git-fallback \
	--no-rolestats --separator , "$@" "$tmp"/*.patch); }
to=$(gm --m --no-r --no-l) || die "get_maintainer.pl failed"
cc=$(gm --no-m --r --l) || die "get_maintainer.pl failed"
# Our entry's maintainer is the submitter.
to=${to//"$M_PLACEHOLDER"/$me}

# v2: rebased on 7.3, pools opt-in (see the changelog in patches/cover-letter).
args=(--cover-letter --thread=shallow --subject-prefix="PATCH v2" -o "$dir")
IFS=, read -r -a list <<< "$to"
for a in "${list[@]}"; do args+=(--to="${a# }"); done
IFS=, read -r -a list <<< "$cc"
for a in "${list[@]}"; do
	a=${a# }
	# Nobody twice: maintainers are in To: already.
	[[ ",$to," == *",$a,"* || ",$to," == *", $a,"* ]] || args+=(--cc="$a")
done
# The cover letter is from the submitter too.
GIT_COMMITTER_NAME=$me_name GIT_COMMITTER_EMAIL=$me_email \
	git_t format-patch -q "${args[@]}" base..HEAD
# Authorship and sign-off: the placeholder becomes the submitter.
python3 - "$PLACEHOLDER" "$M_PLACEHOLDER" "$me" "$dir"/*.patch <<'EOF'
import sys
old, m_old, new, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
for path in paths:
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        for key in ("From: ", "Signed-off-by: "):
            if line == key + old:
                lines[i] = key + new
        # The entry's maintainer line, and hunk headers that quote it.
        if line == "+M:\t" + m_old or line.startswith("@@"):
            lines[i] = lines[i].replace(m_old, new)
    open(path, "w").write("\n".join(lines))
EOF
if grep -q "example\.org" "$dir"/*.patch; then
	die "a placeholder address is left in $(grep -l "example\.org" "$dir"/*.patch | head -n 1)"
fi

# The cover letter: subject and blurb from patches/cover-letter, with the
# results of the last make check when there are any.
cover=$dir/0000-cover-letter.patch
tpl=$HLU_ROOT/patches/cover-letter
[ -f "$tpl" ] || die "no patches/cover-letter"
subject=$(head -n 1 "$tpl")
blurb=$(mktemp)
tail -n +3 "$tpl" > "$blurb"
if [ -f "$OUT/check/results" ]; then
	{
		echo
		echo "Results of the last 'make check' ($(date -u -r "$OUT/check/results" '+%Y-%m-%d %H:%M UTC')):"
		echo
		sed 's/^/  /' "$OUT/check/results"
	} >> "$blurb"
fi
python3 - "$cover" "$subject" "$blurb" <<'EOF'
import sys
path, subject, blurb = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip()
text = open(path).read()
text = text.replace("*** SUBJECT HERE ***", subject, 1)
text = text.replace("*** BLURB HERE ***", blurb, 1)
open(path, "w").write(text)
EOF
rm -f "$blurb"
note "wrote $n patches and a cover letter to $dir"

[ "${AM_CHECK:-0}" = 1 ] || exit 0

# git am onto a fresh unpack of the pinned base: nothing of the assembled
# tree is reused.
am=$BUILD/series-am
rm -rf "$am"
mkdir -p "$am"
if [ -n "${LINUX_SRC:-}" ]; then
	rsync -a --exclude=.git "$LINUX_SRC/" "$am/"
else
	tar -C "$am" --strip-components=1 -xf "$("$HARNESS/fetch.sh")"
fi
export GIT_AUTHOR_NAME="HugeTLB LU harness" GIT_AUTHOR_EMAIL="hugetlb-lu@example.org"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
git -C "$am" init -q
git -C "$am" add -A -f
git -C "$am" commit -q -m "pristine base"
mapfile -t patches < <(ls "$dir"/[0-9]*.patch | grep -v /0000-cover-letter.patch)
if ! git -C "$am" am -q "${patches[@]}" 2>"$tmp/am.log" >&2; then
	sed 's/^/  /' "$tmp/am.log" >&2
	echo "FAIL series-am (git am failed: $(grep -m1 -iE 'patch failed|error' "$tmp/am.log" || echo see above))"
	exit 1
fi
# What git am built must be what the assembled tree has on its base.
# (Up to the maintainer line, which names the submitter in the series.)
if ! cmp -s <(git -C "$am" diff --binary "HEAD~$n" HEAD | grep -v '^index ') \
	    <(git_t diff --binary base HEAD | grep -v '^index ' |
	      sed "s|$M_PLACEHOLDER|$me|g"); then
	echo "FAIL series-am (git am applied, but the result differs from the assembled tree)"
	exit 1
fi
rm -rf "$am"
echo "PASS series-am ($n patches apply with git am to a fresh unpack of the base)"
