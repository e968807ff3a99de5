#!/usr/bin/python3
"""Times the skin-lesion analyzer per 600 x 450 photo on one core.

  1. Many photos in one job: every HAM10000 dev photo (600 x 450) is wrapped
     as VL Photographic (JPEG baseline, as it is) into ONE series of one
     study, and `taskset -c CPU preread analyze` runs the module once over all
     of them. The job's own duration (printed by preread analyze: module
     load, decoding every JPEG, analysis, findings) divided by the number of
     photos is the per-photo cost with process start amortised.
  2. One photo per job: the wall time of `taskset -c CPU preread analyze` on a
     single photo, as a user uploading one photo waits for it (process
     start, job folder, decoding, analysis). Median of several runs.

Usage: sl-bench.py --module skin-lesion.so [--preread PATH] [--data DIR] [--runs 5] [--cpu 0]
Needs DCMTK (img2dcm) and taskset (util-linux).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..', '..', '..'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--module', required=True)
    ap.add_argument('--preread', default=shutil.which('preread') or os.path.join(TOP, 'preread'))
    ap.add_argument('--data', default=os.path.join(os.environ.get('PREREAD_SHARED_DATA') or
                                                   os.path.join(TOP, '..', 'shared', 'data'), 'derm'))
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--cpu', type=int, default=0, help='the core taskset pins preread to (default 0)')
    args = ap.parse_args()
    for tool in ('img2dcm', 'taskset'):
        if shutil.which(tool) is None:
            sys.exit('sl-bench: needs %s' % tool)
    images = os.path.join(args.data, 'ham10000-dev', 'images')
    jpegs = sorted(os.path.join(images, f) for f in os.listdir(images) if f.endswith('.jpg'))
    work = tempfile.mkdtemp(prefix='sl-bench-')
    try:
        study = os.path.join(work, 'study')
        os.mkdir(study)
        first = None
        for k, jpeg in enumerate(jpegs):
            out = os.path.join(study, 'photo%03d.dcm' % k)
            cmd = ['img2dcm', '-q', '-i', 'JPEG', '--vl-photo', '-k', 'PatientID=SL-BENCH', '-k',
                   'InstanceNumber=%d' % (k + 1)]
            if first:
                cmd += ['--series-from', first]
            subprocess.run(cmd + [jpeg, out], check=True)
            first = first or out
        one = ['taskset', '-c', str(args.cpu), args.preread, 'analyze', '--analyzer', args.module]

        # 1. All photos in one job.
        job = os.path.join(work, 'job-all')
        start = time.monotonic()
        proc = subprocess.run(one + ['--output', job, study], capture_output=True, text=True)
        wall = time.monotonic() - start
        if proc.returncode != 0:
            sys.exit('sl-bench: preread analyze failed: %s' % proc.stderr[-500:])
        m = re.search(r' in ([0-9.]+) s \(peak memory ([0-9.]+)', proc.stderr)
        job_s = float(m.group(1)) if m else wall
        n_findings = proc.stdout.count('"95324001"')
        print('| measure | value |')
        print('|---|---|')
        print('| photos in one job (600 x 450, JPEG baseline) | %d (%d lesion findings) |' % (len(jpegs), n_findings))
        print('| job duration reported by preread analyze | %.2f s (peak memory %s MB) |' % (
            job_s, m.group(2) if m else '?'))
        print('| **per photo, one core, process start amortised** | **%.0f ms** |' % (1000 * job_s / len(jpegs)))
        print('| wall time of that preread analyze run | %.2f s (%.0f ms per photo) |' % (
            wall, 1000 * wall / len(jpegs)))

        # 2. One photo per job.
        single = os.path.join(study, 'photo000.dcm')
        times = []
        for r in range(args.runs):
            start = time.monotonic()
            proc = subprocess.run(one + ['-q', single], capture_output=True, text=True)
            times.append(time.monotonic() - start)
            if proc.returncode != 0:
                sys.exit('sl-bench: preread analyze failed on one photo: %s' % proc.stderr[-500:])
        print('| single-photo `preread analyze` wall time, median of %d | %.0f ms (min %.0f, max %.0f) |' % (
            args.runs, 1000 * statistics.median(times), 1000 * min(times), 1000 * max(times)))
        print('| target | <= 1000 ms per photo on one core |')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
