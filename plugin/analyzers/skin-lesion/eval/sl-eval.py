#!/usr/bin/python3
"""Evaluates the skin-lesion analyzer module on the shared dermoscopy data.

What is scored is the module itself, run exactly as the gateway runs it:
each JPEG is wrapped unchanged as a VL Photographic Image with DCMTK's
img2dcm in a temporary folder, and `preread analyze --analyzer MODULE` is
run on it. From the findings document: the total dermoscopy score (TDS),
the model's melanoma likelihood, the category, and the outline.

Prints (Markdown):
  - HAM10000 dev set (../shared/data/derm/ham10000-dev, labels.csv): ROC AUC
    melanoma vs nevus and melanoma vs all benign, with a bootstrap 95 %
    interval, sensitivity at 80 % and 90 % specificity, the confusion table
    of category vs diagnosis;
  - the 9-class low-resolution ISIC set: the same per class;
  - segmentation Dice of the outline against the lesion masks in
    masks-sample/ (the polygon is rasterised at pixel centres, as DICOM
    SCOORD places them).

Usage:
  sl-eval.py --module /tmp/skin/skin-lesion.so [--preread PATH] [--data DIR]
             [--sets ham,isic,masks] [--jobs 2] [--json results.json]

Needs: python3 with numpy, DCMTK (img2dcm). No PIL: the PNG masks are read
by the small decoder below. The data is CC BY-NC: testing only.
"""
import argparse
import concurrent.futures
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..', '..', '..'))
LESION = ('SCT', '95324001')
BENIGN_DX = {'nv', 'bkl', 'df', 'vasc'}        # HAM10000 benign classes
ISIC_MALIGNANT = {'melanoma', 'basal-cell-carcinoma', 'squamous-cell-carcinoma'}


# ---- running the module ------------------------------------------------------------

def analyse(preread, module, jpeg, work, params=()):
    """Wraps @jpeg as a VL Photographic image and runs the module on it.
    Returns a dict: category, tds, likelihood, outline, measurements, refused."""
    name = os.path.splitext(os.path.basename(jpeg))[0]
    folder = tempfile.mkdtemp(prefix=name + '-', dir=work)
    dcm = os.path.join(folder, 'photo.dcm')
    subprocess.run(['img2dcm', '-q', '-i', 'JPEG', '--vl-photo', '-k', 'PatientID=SL-EVAL',
                    '-k', 'PatientName=Eval^' + name, jpeg, dcm], check=True)
    job = os.path.join(folder, 'job')
    cmd = [preread, 'analyze', '--analyzer', module, '-q', '--output', job]
    for p in params:
        cmd += ['--param', p]
    proc = subprocess.run(cmd + [dcm], capture_output=True, text=True)
    result = {'image': name, 'exit': proc.returncode}
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        result['error'] = proc.stderr.strip()[-500:]
        shutil.rmtree(folder, ignore_errors=True)
        return result
    result['status'] = doc.get('status')
    result['priority'] = doc.get('priority')
    result['refused'] = doc.get('refused_findings', 0)
    log = open(os.path.join(job, 'analyzer.log'), errors='replace').read() if os.path.exists(
        os.path.join(job, 'analyzer.log')) else ''
    result['refused_in_log'] = log.count('finding refused')
    for f in doc.get('findings', []):
        t = f['type']
        if (t['scheme'], t['value']) != LESION:
            continue
        m = {x['concept']['value']: x['value'] for x in f.get('measurements', [])}
        result['measurements'] = m
        result['tds'] = m.get('tds')
        result['likelihood'] = m.get('melanoma-likelihood')
        result['confidence'] = f.get('confidence')
        for e in f.get('evaluations', []):
            if e['concept']['value'] == 'dermoscopy-category':
                result['category'] = e['value']['value']
        result['outline'] = f['location']['points']
        break
    shutil.rmtree(folder, ignore_errors=True)
    return result


def analyse_all(args, jpegs):
    work = tempfile.mkdtemp(prefix='sl-eval-')
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(analyse, args.preread, args.module, j, work) for j in jpegs]
            out = []
            for k, fut in enumerate(futures):
                out.append(fut.result())
                if (k + 1) % 20 == 0:
                    print('  %d/%d analysed' % (k + 1, len(jpegs)), file=sys.stderr)
            return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- metrics ---------------------------------------------------------------------------

def auc(pos, neg):
    """ROC AUC as the Mann-Whitney probability, ties counted half."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float('nan')
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (len(pos) * len(neg))


def auc_interval(pos, neg, rounds=2000, seed=1):
    """Stratified bootstrap 95 % interval."""
    rng = np.random.default_rng(seed)
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    values = [auc(rng.choice(pos, len(pos)), rng.choice(neg, len(neg))) for _ in range(rounds)]
    return np.percentile(values, 2.5), np.percentile(values, 97.5)


def sensitivity_at(pos, neg, specificity):
    """The smallest threshold t with specificity (share of negatives < t)
    at least @specificity; returns (sensitivity, specificity reached, t)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    for t in np.unique(np.concatenate([pos, neg, [np.inf]])):
        spec = (neg < t).mean()
        if spec >= specificity:
            return (pos >= t).mean(), spec, t
    return 0.0, 1.0, np.inf


def score_of(r, key):
    v = r.get(key)
    return -1.0 if v is None else float(v)   # no lesion found: least suspicious


def roc_rows(label, results, positive, negative):
    rows = []
    for key, name in (('tds', 'TDS'), ('likelihood', 'model likelihood')):
        pos = [score_of(r, key) for r in results if positive(r)]
        neg = [score_of(r, key) for r in results if negative(r)]
        a = auc(pos, neg)
        lo, hi = auc_interval(pos, neg)
        s80 = sensitivity_at(pos, neg, 0.8)
        s90 = sensitivity_at(pos, neg, 0.9)
        rows.append('| %s | %s | %d / %d | %.3f | %.2f-%.2f | %.2f (spec %.2f) | %.2f (spec %.2f) |' % (
            label, name, len(pos), len(neg), a, lo, hi, s80[0], s80[1], s90[0], s90[1]))
    return rows


ROC_HEAD = ['| comparison | score | n pos / neg | ROC AUC | 95 % CI (bootstrap) | sens. at 80 % spec. | '
            'sens. at 90 % spec. |', '|---|---|---|---|---|---|---|']


def confusion(results, truth_of, classes):
    cats = ['benign-looking', 'suspicious', 'highly-suspicious', 'none']
    lines = ['| category \\ diagnosis | ' + ' | '.join(classes) + ' |', '|---' * (len(classes) + 1) + '|']
    for c in cats:
        counts = [sum(1 for r in results if r.get('category', 'none') == c and truth_of(r) == k)
                  for k in classes]
        if c == 'none' and sum(counts) == 0:
            continue
        lines.append('| %s | ' % c + ' | '.join(str(n) for n in counts) + ' |')
    return lines


# ---- masks -----------------------------------------------------------------------------

def read_png(path):
    """8-bit greyscale / RGB(A), non-interlaced PNG: enough for the masks."""
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', path
    pos, idat = 8, b''
    while pos < len(data):
        length, = struct.unpack('>I', data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert depth == 8 and interlace == 0, 'unsupported PNG'
        elif kind == b'IDAT':
            idat += body
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw, stride = zlib.decompress(idat), w * ch
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 255
        else:
            cur, lv, pv = [0] * stride, line.tolist(), prev.tolist()
            for i in range(stride):
                a = cur[i - ch] if i >= ch else 0
                b, c = pv[i], (pv[i - ch] if i >= ch else 0)
                if ftype == 1:
                    pred = a
                elif ftype == 3:
                    pred = (a + b) >> 1
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (lv[i] + pred) & 255
            cur = np.array(cur, np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch)[:, :, 0]


def rasterise(points, w, h):
    """Pixels whose centre lies inside the polygon (even-odd rule)."""
    pts = np.asarray(points, float)
    mask = np.zeros((h, w), bool)
    x0, y0 = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    centres = np.arange(w) + 0.5
    for row in range(h):
        y = row + 0.5
        cross = ((y0 <= y) & (y1 > y)) | ((y1 <= y) & (y0 > y))
        xs = np.sort(x0[cross] + (y - y0[cross]) * (x1[cross] - x0[cross]) / (y1[cross] - y0[cross]))
        mask[row] = np.searchsorted(xs, centres) % 2 == 1
    return mask


# ---- the sets ----------------------------------------------------------------------------

def evaluate_ham(args, data, report):
    root = os.path.join(data, 'ham10000-dev')
    labels = list(csv.DictReader(open(os.path.join(root, 'labels.csv'))))
    jpegs = [os.path.join(root, 'images', r['image_id'] + '.jpg') for r in labels]
    results = analyse_all(args, jpegs)
    for r, l in zip(results, labels):
        r['dx'] = l['dx']
        r['set'] = 'ham'
    report.append('## HAM10000 dev set (%d photos, 600 x 450)\n' % len(results))
    report += ROC_HEAD
    report += roc_rows('melanoma vs nevus', results, lambda r: r['dx'] == 'mel', lambda r: r['dx'] == 'nv')
    report += roc_rows('melanoma vs all benign', results, lambda r: r['dx'] == 'mel',
                       lambda r: r['dx'] in BENIGN_DX)
    report.append('\nCategory (from the TDS) vs diagnosis:\n')
    report += confusion(results, lambda r: r['dx'], ['mel', 'nv', 'bkl', 'bcc', 'akiec', 'df', 'vasc'])
    report.append('')
    return results


def evaluate_isic(args, data, report):
    root = os.path.join(data, 'isic-9class-lowres', 'test')
    classes = sorted(os.listdir(root))
    jpegs, truth = [], []
    for c in classes:
        for f in sorted(os.listdir(os.path.join(root, c))):
            if f.endswith('.jpg'):
                jpegs.append(os.path.join(root, c, f))
                truth.append(c)
    results = analyse_all(args, jpegs)
    for r, c in zip(results, truth):
        r['dx'] = c
        r['set'] = 'isic'
    report.append('## ISIC 9-class low-resolution set (%d photos, 180 x 180)\n' % len(results))
    report.append('The learned model was trained on this set (eval/sl-train.py): its rows here are in-sample '
                  'and optimistic; sl-train.py prints the cross-validated ones. The TDS involves no training.\n')
    report += ROC_HEAD
    report += roc_rows('melanoma vs nevus', results, lambda r: r['dx'] == 'melanoma', lambda r: r['dx'] == 'nevus')
    report += roc_rows('melanoma vs all other', results, lambda r: r['dx'] == 'melanoma',
                       lambda r: r['dx'] != 'melanoma')
    report.append('\nCategory (from the TDS) vs class:\n')
    report += confusion(results, lambda r: r['dx'], classes)
    report.append('\nMean TDS per class: ' + ', '.join(
        '%s %.2f' % (c, np.mean([score_of(r, 'tds') for r in results if r['dx'] == c])) for c in classes))
    report.append('')
    return results


def evaluate_masks(args, data, report):
    root = os.path.join(data, 'ham10000-dev', 'masks-sample', 'data')
    names = sorted(f[:-4] for f in os.listdir(os.path.join(root, 'test_masks')) if f.endswith('.png'))
    jpegs = [os.path.join(root, 'test_images', n + '.jpg') for n in names]
    results = analyse_all(args, jpegs)
    report.append('## Segmentation: Dice against the %d expert masks in masks-sample/\n' % len(names))
    report.append('| image | Dice | Jaccard | outline area / mask area |')
    report.append('|---|---|---|---|')
    dices = []
    for n, r in zip(names, results):
        truth = read_png(os.path.join(root, 'test_masks', n + '.png')) > 127
        h, w = truth.shape
        pred = rasterise(r['outline'], w, h) if r.get('outline') else np.zeros_like(truth)
        inter = (pred & truth).sum()
        dice = 2 * inter / max(pred.sum() + truth.sum(), 1)
        jac = inter / max((pred | truth).sum(), 1)
        dices.append(dice)
        r['dice'] = dice
        report.append('| %s | %.3f | %.3f | %.2f |' % (n, dice, jac, pred.sum() / max(truth.sum(), 1)))
    report.append('| **mean** | **%.3f** | | |' % np.mean(dices))
    report.append('| median | %.3f | | |\n' % np.median(dices))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--module', required=True, help='skin-lesion.so (or its name on PREREAD_ANALYZER_PATH)')
    ap.add_argument('--preread', default=shutil.which('preread') or os.path.join(TOP, 'preread'))
    ap.add_argument('--data', default=os.environ.get('PREREAD_SHARED_DATA_DERM') or
                    os.path.join(os.environ.get('PREREAD_SHARED_DATA') or os.path.join(TOP, '..', 'shared', 'data'),
                                 'derm'))
    ap.add_argument('--sets', default='ham,isic,masks')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--json', help='write every photo\'s results (with all measurements) here')
    args = ap.parse_args()
    if shutil.which('img2dcm') is None:
        sys.exit('sl-eval: needs DCMTK\'s img2dcm (Debian: dcmtk)')
    if not os.path.isdir(args.data):
        sys.exit('sl-eval: no data at %s (../shared/data/derm)' % args.data)
    report, everything = [], []
    sets = args.sets.split(',')
    if 'ham' in sets:
        everything += evaluate_ham(args, args.data, report)
    if 'isic' in sets:
        everything += evaluate_isic(args, args.data, report)
    if 'masks' in sets:
        everything += [dict(r, set='masks') for r in evaluate_masks(args, args.data, report)]
    refused = sum(r.get('refused', 0) + r.get('refused_in_log', 0) for r in everything)
    failed = [r['image'] for r in everything if r.get('exit') != 0]
    report.append('Photos analysed: %d; runs not exiting 0: %d %s; findings refused by the host: %d' % (
        len(everything), len(failed), failed[:5], refused))
    print('\n'.join(report))
    if args.json:
        for r in everything:
            r.pop('outline', None)
        json.dump(everything, open(args.json, 'w'), indent=1)


if __name__ == '__main__':
    main()
