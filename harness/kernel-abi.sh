#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The abi kernel ($OBJ-abi): the test kernel speaking the next version of
# the hand-over data. HUGETLB_LUO_COMPATIBLE of the ABI header, "hugetlb-vN"
# in the tree, is "hugetlb-v(N+1)" for the time of this build only; the
# header gets its bytes and its time stamp back, so the test kernel's
# build does not see the change. Scenarios cross the version change in
# both directions: KERNEL2=abi (an older tree handed to a newer kernel) and
# KERNEL1=abi (a newer tree handed to an older kernel).
. "$(dirname "$0")/lib.sh"

hdr=$TREE/include/linux/kho/abi/hugetlb.h
cur=$(sed -n 's/^#define HUGETLB_LUO_COMPATIBLE[[:space:]]*"\(hugetlb-v[0-9]*\)"$/\1/p' "$hdr")
[ -n "$cur" ] || die "no HUGETLB_LUO_COMPATIBLE \"hugetlb-vN\" in $hdr"
next=hugetlb-v$(( ${cur#hugetlb-v} + 1 ))
saved=$BUILD/abi-header.saved
cp -p "$hdr" "$saved"
trap 'cp -p "$saved" "$hdr" && rm -f "$saved"' EXIT
sed -i "s/\"$cur\"/\"$next\"/" "$hdr"
grep -q "\"$next\"" "$hdr" || die "could not change $cur to $next in $hdr"
note "abi kernel: hand-over data of version $next (the tree's is $cur)"
OBJ=$OBJ-abi "$HARNESS/kernel.sh"
