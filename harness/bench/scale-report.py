#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench-scale's report: read the serial logs of its boots, write
scale.csv (one row per live update), scale.txt (tables, log-log slopes,
the goals of issue 16) and the data and script of scale.png.

Usage: scale-report.py RESULTS_DIR   (logs in RESULTS_DIR/logs/KERNEL/)
"""

import glob
import math
import os
import re
import sys

res = sys.argv[1]
HOST = re.compile(r'^\[\s*([0-9.]+)\] ?(.*)$')
GUEST = re.compile(r'^\[\s*([0-9.]+)\] (.*)$')
KV = re.compile(r'(\w+)=(\S+)')


def parse(path, kernel):
    """One dict per live update of the boot logged in path."""
    scn = os.path.basename(path)[:-4]
    kind, page, gib = (scn.split('-') + ['', ''])[:3]
    rows, kernels, cur, k, pending, fdt_counts = [], [{}], None, 0, [], {}
    for line in open(path, errors='replace'):
        m = HOST.match(line.rstrip('\n'))
        if not m:
            continue
        text = m.group(2)
        g = GUEST.match(text)
        gtime = float(g.group(1)) if g else None
        body = g.group(2) if g else text
        if 'Linux version' in body:
            k += 1
            kernels.append({})
            continue
        if body.startswith('Run /init as init process') and gtime is not None:
            kernels[k]['init'] = gtime
        # The restore, as hugetlb_luo logs it.
        mm = re.search(r'hugetlb_luo: restored the hand-over data in (\d+) ms', body)
        if mm:
            kernels[k]['restore_ms'] = int(mm.group(1)) / 1e3
        # Kernels before that line: from the pages counted towards
        # hugepages= to their restore (per page size).
        if re.search(r'hugetlb_luo: \d+ preserved pages of order \d+ count towards', body) \
                and gtime is not None:
            kernels[k].setdefault('restore_from', gtime)
        mm = re.search(r'hugetlb_luo: order \d+: restored \d+ preserved pages', body)
        # (1 GiB pages are counted before the clock runs: no bracket.)
        if mm and gtime is not None and kernels[k].get('restore_from'):
            kernels[k]['restore'] = gtime - kernels[k]['restore_from']
        # hugepages= allocated at boot: hugetlb says how long it took.
        mm = re.search(r'HugeTLB: allocation took (\d+)ms', body)
        if mm:
            kernels[k]['alloc'] = kernels[k].get('alloc', 0) + int(mm.group(1)) / 1e3
        mm = re.search(r'HugeTLB: allocating (\d+) of page size (\S+) (\S+) failed', body)
        if mm:
            kernels[k]['alloc_failed'] = body
        if body.startswith('HLUB: before '):
            kv = dict(KV.findall(body))
            cur = {'kernel': kernel, 'scenario': scn, 'kind': kind, 'page': page,
                   'pool_gib': gib if kind == 'pool' else '', 'from': k,
                   'method': kv['method'], 'size_mib': int(kv['size_mib']),
                   'size': int(kv.get('size', int(kv['size_mib']) << 20)),
                   'pool': int(kv.get('pool', 0)), 'traced': int(kv.get('trace', 0)),
                   'warm': int(kv.get('warm', 0)),
                   'preserve_s': int(kv.get('preserve_ns', 0)) / 1e9,
                   'pool_preserve_s': int(kv.get('pool_preserve_ns', 0)) / 1e9,
                   'before_2m': int(kv.get('pool_2m_total', -1)),
                   'before_1g': int(kv.get('pool_1g_total', -1))}
            rows.append(cur)
            if pending:
                cur['trace_preserve'], pending = pending, []
        elif 'HLUB: kexec-e' in body and cur is not None and gtime is not None:
            cur['mark'] = gtime
        elif re.search(r'hand-over data: \d+ bytes', body) and cur is not None:
            cur['bytes'] = int(re.search(r'hand-over data: (\d+) bytes', body).group(1))
        elif 'kexec_core: Starting new kernel' in body and cur is not None \
                and 'mark' in cur and gtime is not None:
            cur['blackout_s'] = gtime - cur['mark']
        elif body.startswith('HLUB: fdt '):
            fdt_counts = dict(KV.findall(body))
        elif body.startswith('HLUB: after '):
            kv = dict(KV.findall(body))
            for r in rows:
                if r['method'] == kv['method'] and r['size_mib'] == int(kv['size_mib']) \
                        and r['size'] == int(kv.get('size', r['size'])) \
                        and r['traced'] == int(kv.get('trace', 0)) and 'after' not in r:
                    r['after'] = True
                    if fdt_counts:
                        r['extents'] = int(fdt_counts.get('nr_extents', 0))
                        r['runs'] = int(fdt_counts.get('nr_runs', 0))
                        fdt_counts = {}
                    if pending:
                        r['trace_retrieve'], pending = pending, []
                    r['to'] = k
                    r['retrieve_s'] = int(kv.get('retrieve_ns', 0)) / 1e9
                    r['pool_retrieve_s'] = int(kv.get('pool_retrieve_ns', 0)) / 1e9
                    r['touch_s'] = int(kv.get('touch_ns', 0)) / 1e9
                    r['after_2m'] = int(kv.get('pool_2m_total', -1))
                    r['after_1g'] = int(kv.get('pool_1g_total', -1))
                    r['ok'] = kv.get('bad_pages') == '0' and kv.get('sum') == kv.get('want', kv.get('sum'))
                    break
        elif text.startswith('HLUT: '):
            # A traced preserve or retrieve: its HLUB line comes next.
            pending.append(text[6:])
        elif body.startswith('HLUB: error') and cur is not None:
            cur['ok'] = False
    for r in rows:
        nk = kernels[r['to']] if 'to' in r and r['to'] < len(kernels) else {}
        r['next_init_s'] = nk.get('init')
        r['next_restore_s'] = nk.get('restore_ms', nk.get('restore'))
        r['next_alloc_s'] = nk.get('alloc')
    return rows


FG = re.compile(r'^\s*\d+\)\s*(?:[-+!#*@$]\s*)?(?:([0-9.]+) us)?\s*\|(\s*)(.*)$')


def graph(lines):
    """function_graph lines: {(depth, function): [calls, microseconds]}."""
    out, stack = {}, []
    for line in lines:
        m = FG.match(line.rstrip('\n'))
        if not m:
            continue
        dur, indent, call = m.group(1), len(m.group(2)), m.group(3).strip()
        if call.endswith('{'):
            stack.append(call[:-1].strip().rstrip('()').strip())
            continue
        if call.startswith('}'):
            name = stack.pop() if stack else '?'
            depth = len(stack)
        elif call.endswith('();'):
            name, depth = call[:-3], len(stack)
        else:
            continue
        if dur is None:
            continue
        e = out.setdefault((depth, name), [0, 0.0])
        e[0] += 1
        e[1] += float(dur)
    return out


rows = []
for kdir in sorted(glob.glob(os.path.join(res, 'logs', '*'))):
    for log in sorted(glob.glob(os.path.join(kdir, '*.log'))):
        rows.extend(parse(log, os.path.basename(kdir)))

COLS = ['kernel', 'scenario', 'page', 'pool_gib', 'method', 'size_mib', 'pool',
        'blackout_s', 'next_init_s', 'next_restore_s', 'next_alloc_s', 'bytes', 'preserve_s',
        'pool_preserve_s', 'retrieve_s', 'pool_retrieve_s', 'touch_s',
        'before_2m', 'before_1g', 'after_2m', 'after_1g', 'ok']


def fmt(v):
    if v is None:
        return ''
    if isinstance(v, float):
        return '%.6f' % v
    return str(v)


with open(os.path.join(res, 'scale.csv'), 'w') as f:
    f.write(','.join(COLS) + '\n')
    for r in rows:
        f.write(','.join(fmt(r.get(c)) for c in COLS) + '\n')


def slope(pts):
    """Least-squares slope of log(y) against log(x); None below 2 points."""
    pts = [(x, y) for x, y in pts if x and y and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    lx = [math.log(x) for x, _ in pts]
    ly = [math.log(y) for _, y in pts]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den if den else None


def s(v, unit=1, digits=3):
    return '-' if v is None else '%.*f' % (digits, v * unit)


out = []
bad = [r for r in rows if not r.get('ok') or 'blackout_s' not in r]
out.append('make bench-scale: live updates at host scale, QEMU TCG (emulated CPU:')
out.append('absolute times are not real-hardware times; the ratios and log-log')
out.append('slopes are the result, 1 = linear, 0 = flat).')
out.append('')
out.append('%d live updates parsed, %d with a problem (wrong content, error or'
           ' no kexec)' % (len(rows), len(bad)))
for r in bad:
    out.append('  PROBLEM %s %s %s %s MiB' % (r['kernel'], r['scenario'], r['method'], r['size_mib']))
plot = {}
for kernel in sorted({r['kernel'] for r in rows}, key=lambda k: k != 'prod'):
    for page in ('2M', '1G'):
        pr = [r for r in rows if r['kernel'] == kernel and r['page'] == page and r['kind'] == 'pool']
        if not pr:
            continue
        out.append('')
        out.append('== %s kernel, %s pages: the pool handed over (pool file) against'
                   ' nothing preserved' % (kernel, page))
        out.append('%8s %9s %9s %9s | %8s %8s %7s | %9s %9s | %7s %7s | %8s %8s' % (
            'pool GiB', 'blackout', 'nothing', 'delta', 'boot', 'nothing', 'delta',
            'restore', 'alloc', 'kept', 'realloc', 'bytes', 'B/GiB'))
        pts = {'blackout': [], 'delta': [], 'restore': [], 'alloc': [], 'boot': [],
               'boot_none': [], 'blackout_none': []}
        for gib in sorted({int(r['pool_gib']) for r in pr}):
            hp = [r for r in pr if int(r['pool_gib']) == gib and r['pool']]
            no = [r for r in pr if int(r['pool_gib']) == gib and r['method'] == 'none']
            if not hp or not no:
                continue
            a, b = hp[0], no[0]
            key = 'after_2m' if page == '2M' else 'after_1g'
            dl = None if a.get('blackout_s') is None or b.get('blackout_s') is None \
                else a['blackout_s'] - b['blackout_s']
            bi, bn = a.get('next_init_s'), b.get('next_init_s')
            out.append('%8d %9s %9s %9s | %8s %8s %6s%% | %9s %9s | %7s %7s | %8s %8s' % (
                gib, s(a.get('blackout_s')), s(b.get('blackout_s')), s(dl),
                s(bi, digits=2), s(bn, digits=2),
                '-' if bi is None or not bn else '%+.1f' % ((bi / bn - 1) * 100),
                s(a.get('next_restore_s')), s(b.get('next_alloc_s')),
                a.get(key, '-'), b.get(key, '-'), a.get('bytes', '-'),
                '-' if 'bytes' not in a else '%.1f' % (a['bytes'] / gib)))
            pts['blackout'].append((gib, a.get('blackout_s')))
            pts['blackout_none'].append((gib, b.get('blackout_s')))
            pts['delta'].append((gib, dl))
            pts['restore'].append((gib, a.get('next_restore_s')))
            pts['alloc'].append((gib, b.get('next_alloc_s')))
            pts['boot'].append((gib, bi))
            pts['boot_none'].append((gib, bn))
        out.append('  log-log slope against the pool size: blackout %s (nothing preserved: %s),'
                   ' blackout minus nothing %s, restore %s (hugepages= again: %s),'
                   ' boot to /init %s' % tuple(s(slope(pts[x]), digits=2) for x in (
                       'blackout', 'blackout_none', 'delta', 'restore', 'alloc', 'boot')))
        out.append('  columns: blackout = reboot() to "Starting new kernel" (s, outgoing kernel);'
                   ' boot = the next kernel\'s start to /init (s); restore = "hugetlb_luo: restored'
                   ' the hand-over data in", alloc = "HugeTLB: allocation'
                   ' took" (s); kept/realloc = pages in the next kernel\'s pool;'
                   ' bytes = hand-over data')
        plot[(kernel, page)] = pts
    for page in ('2M', '1G'):
        fr = [r for r in rows if r['kernel'] == kernel and r['page'] == page and
              r['kind'] == 'files' and not r['traced']]
        if not fr:
            continue
        out.append('')
        out.append('== %s kernel, files of %s pages (and shmem at 1 GiB): per live update'
                   % (kernel, page))
        out.append('%10s %8s %8s | %9s %9s %9s | %9s %9s | %9s %9s | %8s %7s %7s' % (
            'method', 'MiB', 'folios', 'preserve', 'us/folio', 'us/GiB', 'retrieve', 'us/folio',
            'touch', 'us/folio', 'bytes', 'B/folio', 'extents'))
        pp, rp = [], []
        for r in fr:
            folio = {'hugetlb-2M': 2, 'hugetlb-1G': 1024, 'shmem': 4 / 1024}.get(r['method'], 0)
            n = int(r['size_mib'] / folio) if folio else 0
            gib = r['size_mib'] / 1024
            out.append('%10s %8d %8d | %9s %9s %9s | %9s %9s | %9s %9s | %8s %7s %7s' % (
                r['method'], r['size_mib'], n, s(r.get('preserve_s')),
                s(r.get('preserve_s', 0) / n, 1e6, 2) if n else '-',
                s(r.get('preserve_s', 0) / gib, 1e6, 0),
                s(r.get('retrieve_s')), s(r.get('retrieve_s', 0) / n, 1e6, 2) if n else '-',
                s(r.get('touch_s')), s(r.get('touch_s', 0) / n, 1e6, 2) if n else '-',
                r.get('bytes', '-'),
                '-' if 'bytes' not in r or not n else '%.1f' % (r['bytes'] / n),
                r.get('extents', '-')))
            if r['method'].startswith('hugetlb'):
                pp.append((n, r.get('preserve_s')))
                rp.append((n, r.get('retrieve_s')))
        out.append('  log-log slope against the folios: preserve %s, retrieve %s' % (
            s(slope(pp), digits=2), s(slope(rp), digits=2)))
        h = [r for r in fr if r['method'] == 'hugetlb-2M' and r['size_mib'] == 1024]
        sh = [r for r in fr if r['method'] == 'shmem' and r['size_mib'] == 1024]
        if h and sh and h[0].get('preserve_s') and h[0].get('retrieve_s'):
            out.append('  1 GiB, same run: shmem / hugetlb-2M = preserve %.0fx, retrieve %.0fx'
                       ' (goal: 200x each)' % (sh[0]['preserve_s'] / h[0]['preserve_s'],
                                               sh[0]['retrieve_s'] / h[0]['retrieve_s']))
        ext = [r for r in fr if r['method'].startswith('hugetlb') and r.get('extents')]
        for r in ext:
            folio = 2 if page == '2M' else 1024
            n = r['size_mib'] // folio
            out.append('  %d MiB: %d folios in %d extents of 12 bytes: %.2f bytes per folio'
                       ' serialized (worst case, one extent per folio: 12; goal: 16)' % (
                           r['size_mib'], n, r['extents'], 12.0 * r['extents'] / n))
        big = [r for r in fr if r['method'].startswith('hugetlb') and 'bytes' in r]
        if len(big) >= 2:
            big.sort(key=lambda r: r['size_mib'])
            folio = 2 if page == '2M' else 1024
            dn = (big[-1]['size_mib'] - big[0]['size_mib']) / folio
            if dn:
                out.append('  hand-over bytes per added folio, %d to %d MiB: %.1f (goal: 16)' % (
                    big[0]['size_mib'], big[-1]['size_mib'],
                    (big[-1]['bytes'] - big[0]['bytes']) / dn))



def median(v):
    v = sorted(x for x in v if x is not None)
    return v[len(v) // 2] if v else None


# The fixed part: files of one folio against 1 GiB, in one boot (scenario
# fixed-2M), cold (the first file of the update, its code run for the first
# time since the boot) and warm (after a file of one page of the method).
for kernel in sorted({r['kernel'] for r in rows}, key=lambda k: k != 'prod'):
    fx = [r for r in rows if r['kernel'] == kernel and r['kind'] == 'fixed' and not r['traced']]
    if not fx:
        continue
    out.append('')
    out.append('== %s kernel: the fixed part, files of one folio against 1 GiB, one boot'
               ' (median of the runs)' % kernel)
    out.append('%10s %11s %5s %5s | %10s %10s' % ('method', 'bytes', 'warm', 'runs',
                                                  'preserve', 'retrieve'))
    med = {}
    for key in sorted({(r['method'], r['size'], r['warm']) for r in fx}):
        rs = [r for r in fx if (r['method'], r['size'], r['warm']) == key]
        p, q = median([r.get('preserve_s') for r in rs]), median([r.get('retrieve_s') for r in rs])
        med[key] = (p, q)
        out.append('%10s %11d %5s %5d | %10s %10s' % (key[0], key[1], 'yes' if key[2] else 'no',
                                                      len(rs), s(p, 1e3, 3) + ' ms',
                                                      s(q, 1e3, 3) + ' ms'))
    sb = med.get(('shmem', 1 << 30, 0))
    for w, what in ((0, 'cold'), (1, 'warm')):
        hs, hb = med.get(('hugetlb-2M', 2 << 20, w)), med.get(('hugetlb-2M', 1 << 30, w))
        ss = med.get(('shmem', 4096, w))
        if not (hs and hb and ss and sb) or None in hs + hb + ss + sb:
            continue
        for i, op in enumerate(('preserve', 'retrieve')):
            dh = hb[i] - hs[i]
            out.append('  %s, %s: one folio hugetlb %.3f ms, shmem %.3f ms; 1 GiB: shmem'
                       ' (cold) / hugetlb-2M %.0fx, per folio past the first %s'
                       ' (goal: 200x)' % (
                           what, op, hs[i] * 1e3, ss[i] * 1e3, sb[i] / hb[i],
                           '%.0fx' % ((sb[i] - ss[i]) / dh) if dh > 0 else 'beyond measure'))

traced = [r for r in rows if r.get('trace_preserve') or r.get('trace_retrieve')]
for r in traced:
    folio = {'hugetlb-2M': 2, 'hugetlb-1G': 1024, 'shmem': 4 / 1024}.get(r['method'], 0)
    n = int(r['size'] / (folio * 1048576)) if folio else 0
    for op in ('preserve', 'retrieve'):
        g = graph(r.get('trace_' + op, []))
        if not g or not n:
            continue
        out.append('')
        out.append('== where the time of a %s goes: %s kernel, %s of %d KiB (%d folios),'
                   ' ftrace function_graph, 4 calls deep' % (op, r['kernel'], r['method'],
                                                            r['size'] >> 10, n))
        out.append('   (tracing adds its own cost to every call: compare the shares)')
        top = sorted(g.items(), key=lambda kv: (kv[0][0], -kv[1][1]))
        total = sum(v[1] for (d, _), v in g.items() if d == 0) or 1
        out.append('%5s  %-44s %8s %11s %10s %6s' % ('depth', 'function', 'calls',
                                                     'total us', 'us/folio', 'share'))
        for (d, name), (calls, us) in top:
            if us < total * 0.01 or d > 3:
                continue
            out.append('%5d  %-44s %8d %11.0f %10.2f %5.1f%%' % (
                d, '  ' * d + name[:44 - 2 * d], calls, us, us / n, 100 * us / total))

with open(os.path.join(res, 'scale.txt'), 'w') as f:
    f.write('\n'.join(out) + '\n')
print('\n'.join(out))

# Plot data: one file per (kernel, page, metric): pool GiB, seconds.
pdir = os.path.join(res, 'plot')
os.makedirs(pdir, exist_ok=True)
for old in glob.glob(os.path.join(pdir, '*.dat')):
    os.unlink(old)
for (kernel, page), pts in plot.items():
    for metric, vals in pts.items():
        with open(os.path.join(pdir, '%s-%s-%s.dat' % (metric, kernel, page)), 'w') as f:
            for x, y in vals:
                if y is not None:
                    f.write('%d %.6f\n' % (x, y))
