#!/usr/bin/python3
"""Trains the skin-lesion analyzer's melanoma model and writes sl_model.h.

Training data: the 9-class low-resolution ISIC set (../shared/data/derm/
isic-9class-lowres), melanoma against every other class, WITHOUT the photos
whose ISIC id is also in the HAM10000 dev set (18 of them): HAM10000 is the
held-out test set of eval/sl-eval.py, so training never sees a test photo.
(Other photos of the same lesions could still be in both sets; the ISIC
ids do not say.)

Features: the measurements the module itself reports (read from a results
file of sl-eval.py run with the module, so that training uses exactly what
the C code computes), standardised; counts through log1p. Model: L2
logistic regression fitted by Newton's method; the penalty is chosen by
stratified 5-fold cross-validation (seed below), whose out-of-fold AUCs are
printed. Then it is refitted on all training photos and written as a C
header.

Usage (seed and command are recorded in the header):
  sl-eval.py --module skin-lesion.so --sets isic --json isic.json
  sl-train.py --results isic.json --out ../sl_model.h
"""
import argparse
import csv
import json
import os
import sys

import numpy as np

SEED = 20240611
FEATURES = ['asym-shape-1', 'asym-shape-2', 'asym-colour-1', 'asym-colour-2', 'border-sharpness', 'compactness',
            'solidity', 'colour-spread', 'n-colours', 'frac-white', 'frac-red', 'frac-light-brown',
            'frac-dark-brown', 'frac-blue-gray', 'frac-black', 'network', 'structureless', 'streaks', 'dots',
            'globules', 'image-fraction']
LOG1P = {'network', 'streaks', 'dots', 'globules'}
PENALTIES = [0.3, 1, 3, 10, 30, 100]
HERE = os.path.dirname(os.path.abspath(__file__))


def auc(pos, neg):
    pos, neg = np.asarray(pos), np.asarray(neg)
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))


def fit(x, y, penalty):
    """L2-penalised logistic regression (intercept not penalised)."""
    X = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], penalty)
    reg[0] = 0
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ w))
        grad = X.T @ (p - y) + reg * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def standardise(raw):
    mean, scale = raw.mean(0), raw.std(0)
    scale[scale == 0] = 1
    return mean, scale


def folds(y, k, rng):
    """Stratified fold index per sample."""
    f = np.zeros(len(y), int)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        f[idx] = np.arange(len(idx)) % k
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--results', required=True, help='sl-eval.py --json output with the ISIC set')
    ap.add_argument('--data', default=os.path.join(HERE, '..', '..', '..', '..', '..', 'shared', 'data', 'derm'))
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'sl_model.h'))
    args = ap.parse_args()
    held_out = {r['image_id'] for r in csv.DictReader(open(os.path.join(args.data, 'ham10000-dev', 'labels.csv')))}
    rows = [r for r in json.load(open(args.results)) if r.get('set') == 'isic']
    excluded = [r['image'] for r in rows if r['image'] in held_out]
    rows = [r for r in rows if r['image'] not in held_out and 'measurements' in r]
    if not rows:
        sys.exit('sl-train: no ISIC results in %s' % args.results)
    raw = np.array([[r['measurements'].get(f, 0.0) for f in FEATURES] for r in rows], float)
    for k, f in enumerate(FEATURES):
        if f in LOG1P:
            raw[:, k] = np.log1p(np.maximum(raw[:, k], 0))
    y = np.array([r['dx'] == 'melanoma' for r in rows], float)
    nevus = np.array([r['dx'] == 'nevus' for r in rows])
    print('training photos: %d (%d melanoma), excluded as HAM10000 test photos: %d' % (len(y), y.sum(),
                                                                                        len(excluded)))
    rng = np.random.default_rng(SEED)
    fold = folds(y, 5, rng)
    best = None
    for penalty in PENALTIES:
        oof = np.zeros(len(y))
        for k in range(5):
            tr, te = fold != k, fold == k
            mean, scale = standardise(raw[tr])
            w = fit((raw[tr] - mean) / scale, y[tr], penalty)
            oof[te] = w[0] + ((raw[te] - mean) / scale) @ w[1:]
        a_all = auc(oof[y == 1], oof[y == 0])
        a_nv = auc(oof[y == 1], oof[nevus])
        print('penalty %6.1f: cross-validated AUC melanoma vs all other %.3f, vs nevus %.3f' % (penalty, a_all, a_nv))
        if best is None or a_all > best[1]:
            best = (penalty, a_all, a_nv)
    penalty = best[0]
    mean, scale = standardise(raw)
    w = fit((raw - mean) / scale, y, penalty)
    print('chosen penalty %.1f (cross-validated AUC %.3f vs all other, %.3f vs nevus)' % best)
    for f, wk in sorted(zip(FEATURES, w[1:]), key=lambda t: -abs(t[1])):
        print('  %-18s %+.3f' % (f, wk))

    def arr(values, fmt):
        return '{ ' + ', '.join(fmt % v for v in values) + ' }'
    n = len(FEATURES)
    header = '''/* sl_model.h: GENERATED by eval/sl-train.py; do not edit.
 *
 * Melanoma likelihood model of the skin-lesion analyzer: L2 logistic
 * regression on the module's own standardised measurements.
 *
 * Trained on the ISIC 9-class low-resolution set, melanoma (%d) vs every
 * other class (%d), leaving out the %d photos that are also in the
 * HAM10000 dev set, which is the held-out test set (eval/sl-eval.py).
 * Penalty %.1f chosen by stratified 5-fold cross-validation, seed %d:
 * out-of-fold AUC %.3f melanoma vs all other, %.3f vs nevus.
 *
 * Command:
 *   sl-eval.py --module skin-lesion.so --sets isic --json isic.json
 *   sl-train.py --results isic.json --out sl_model.h
 */
#ifndef SL_MODEL_H
#define SL_MODEL_H
#define SL_MODEL_N_FEATURES %d
static const char *const sl_model_feature_names[SL_MODEL_N_FEATURES] = %s;
static const int sl_model_log1p[SL_MODEL_N_FEATURES] = %s;
static const double sl_model_mean[SL_MODEL_N_FEATURES] = %s;
static const double sl_model_scale[SL_MODEL_N_FEATURES] = %s;
static const double sl_model_weight[SL_MODEL_N_FEATURES] = %s;
static const double sl_model_intercept = %.9g;
#endif
''' % (y.sum(), len(y) - y.sum(), len(excluded), penalty, SEED, best[1], best[2], n,
       '{ ' + ', '.join('"%s"' % f for f in FEATURES) + ' }', arr([int(f in LOG1P) for f in FEATURES], '%d'),
       arr(mean, '%.9g'), arr(scale, '%.9g'), arr(w[1:], '%.9g'), w[0])
    open(args.out, 'w').write(header)
    print('wrote', args.out)


if __name__ == '__main__':
    main()
