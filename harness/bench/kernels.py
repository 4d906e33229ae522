#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: the medians of the production kernel (the headline) beside
those of the debug kernel (the second column), and how far they differ.

Usage: kernels.py PROD_DIR DEBUG_DIR   (each holds a bench-summary.csv)
"""

import csv
import os
import sys

METRICS = [('preserve_s', 'preserve ioctl ms', 1e3),
           ('luo_kho_cost_s', 'LUO/KHO at kexec ms', 1e3),
           ('kexec_to_init_s', 'kexec -e to /init s', 1),
           ('retrieve_s', 'retrieve ioctl ms', 1e3),
           ('touch_s', 'first access ms', 1e3)]


def load(d):
    out = {}
    with open(os.path.join(d, 'bench-summary.csv')) as f:
        for row in csv.DictReader(f):
            out[(row['method'], int(row['size_mib']), row['metric'])] = float(row['median'])
    return out


prod, debug = load(sys.argv[1]), load(sys.argv[2])
print('make bench: medians of the production kernel (prod, no debug option)')
print('beside make check\'s debug kernel (debug); debug/prod is how much slower')
print('the debug options make each step. QEMU TCG times: compare, side by side.')
print()
print('%-11s %6s  %-20s %10s %10s %9s' % ('method', 'MiB', 'metric', 'prod', 'debug',
                                          'debug/prod'))
ratios = {}
for (method, size, metric) in sorted(prod, key=lambda k: (k[0], k[1])):
    for key, label, unit in METRICS:
        if metric != key or (method, size, metric) not in debug:
            continue
        p, d = prod[(method, size, metric)], debug[(method, size, metric)]
        ratio = d / p if p > 0 and d > 0 and key != 'luo_kho_cost_s' else None
        if ratio:
            ratios.setdefault(key, []).append(ratio)
        print('%-11s %6d  %-20s %10.4g %10.4g %9s' % (
            method, size, label, p * unit, d * unit,
            '-' if ratio is None else '%.2fx' % ratio))
print()
for key, label, _ in METRICS:
    r = sorted(ratios.get(key, []))
    if r:
        print('%-20s debug/prod median %.2fx [%.2f..%.2f] over %d sizes and methods' % (
            label, r[len(r) // 2], r[0], r[-1], len(r)))
for (method, size) in (('shmem', 1024),):
    for key, label in (('preserve_s', 'preserve'), ('retrieve_s', 'retrieve')):
        for name, data in (('prod', prod), ('debug', debug)):
            h = data.get(('hugetlb-2M', 1024, key))
            sh = data.get((method, size, key))
            if h and sh:
                print('%s: shmem / hugetlb-2M %s at 1 GiB = %.0fx (goal: 200x)' % (
                    name, label, sh / h))
