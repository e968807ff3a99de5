#!/usr/bin/python3
"""Train the lung-nodule analyzer's classifier and write ln_classifier_model.h.

    ln-train.py [--preread BIN] [--work DIR] [--series L] [--cases 64]
                [--seed-base 1001] [--count 12] [--seed 2024] [--jobs 1] [--cc cc]
                [--out plugin/analyzers/lung-nodule/ln_classifier_model.h]

Training data never overlaps the evaluation's nodules: they are inserted
(ln-insert.py) with seeds from --seed-base (1001 on; ln-froc.py evaluates
seeds 1 on) into the real CT's lung-kernel series (--series L, the one the
gateway reads; ln-froc.py evaluates on it too), each case with correlated
noise added. The expert-boxed tumour is in the ground truth's ignore regions:
no candidate on it is used. Disjoint seeds are disjoint placements, but the
patient is the same: the classifier has seen this patient's vessels and
pleura. EVALUATION.md says what that means. (--series B, the soft-tissue
kernel, trains on the other reconstruction; its operating point transferred
badly to the lung kernel.)

The analyzer itself produces the training data, so that it learns from exactly
what it will see:

  1. the module (built from this source tree with the current model) runs
     every case with dump-candidates=2: every local maximum of the blob
     detector is logged with its triage features. A logistic model on the
     standardised features and their squares is fitted (class-weighted, L2,
     Newton steps): the triage that ranks maxima before segmentation;
  2. the module is rebuilt with that triage and runs every case with
     dump-candidates=1: every segmented candidate is logged with its features.
     Gradient-boosted trees (logistic loss; --trees trees of depth --depth,
     shrinkage --rate, rows subsampled 80 % with --seed) are fitted on them;
  3. the default operating point is the score at which 5-fold (by case)
     out-of-fold predictions give one false positive per training scan;
  4. the module is rebuilt with the model, and must give a training case's
     candidates the probabilities the trees give them here (the serving
     check). The logs carry every feature exactly (%.17g) and split
     thresholds lie halfway between data values: once, five-digit logs put
     thresholds on rounded values, and every candidate of a detection scale
     went the other way in C than in training.

A candidate is positive when its centre is within the nodule's radius (at
least half a slice plus 1 mm) of an inserted nodule's centre; negative when it
is farther than 1.5 times that from every nodule and outside the ignore
regions; in between it is left out.

Needs python3 with numpy and pydicom, a C compiler, and `preread`.
"""

import argparse
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ln_eval_common as C  # noqa: E402

TRIAGE_NAMES = ["log_sigma", "log_blob", "log_response", "smoothed_hu", "contrast_hu", "hessian_mid",
                "hessian_min", "log_curvature"]
FEATURE_NAMES = ["log_diameter", "log_volume", "contrast", "mean_hu", "sd_hu", "dog_ratio", "log_sigma",
                 "hessian_mid", "hessian_min", "elongation", "ellipsoid_fill", "wall_fraction", "opening_kept",
                 "shell_dense", "z_ratio", "touches_box", "axis_ratio", "solid_fraction"]


# ---- building and running -------------------------------------------------------------


def build(cc, out):
    sources = sorted(os.path.join(C.MODULE_DIR, f) for f in os.listdir(C.MODULE_DIR) if f.endswith(".c"))
    cmd = shlex.split(cc) + ["-std=gnu11", "-O2", "-shared", "-fPIC", "-I" + os.path.join(C.SRCDIR, "plugin"),
                             "-o", out] + sources + ["-lm"]
    subprocess.run(cmd, check=True)
    return out


def label(centres, truth):
    """1 positive, 0 negative, -1 left out (near a nodule, or in an ignore region)."""
    tol = C.tolerance(truth)
    out = np.zeros(len(centres), int)
    for i, c in enumerate(centres):
        c = np.asarray(c)
        lab = 0
        for n in truth["nodules"]:
            dist = np.linalg.norm(c - np.asarray(n["centre_mm"]))
            reach = max(0.5 * n["diameter_mm"], tol)
            if dist <= reach:
                lab = 1
                break
            if dist <= 1.5 * reach:
                lab = -1
        if lab == 0 and any(np.linalg.norm(c - np.asarray(g["centre_mm"])) <= g["radius_mm"]
                            for g in truth.get("ignore", [])):
            lab = -1
        out[i] = lab
    return out


def collect(args, module, dump, parse):
    """Runs the module on every training case (--jobs at a time); the data
    come back in seed order whatever order the runs finish in."""
    root = os.path.join(args.work, "cases")

    def one(seed):
        noise = float(np.random.default_rng(seed).uniform(0, args.noise_max)) if args.noise_max > 0 else 0.0
        folder = C.make_case(args.series, seed, root, args.count, args.sizes,
                             extra=["--noise", "%.2f" % noise] if noise > 0 else [])
        truth = C.truth_of(folder)
        keep = os.path.join(args.work, "job-%d" % seed)
        run = C.analyze(args.preread, module, folder, ["dump-candidates=%d" % dump, "min-confidence=0",
                                                       "max-nodules=1000"], keep=keep)
        if run.status != "done":
            raise SystemExit("case %s: %s %s" % (folder, run.status, run.stderr[-400:]))
        rows = parse(run.log)
        centres = np.array([r[0] for r in rows], float).reshape(-1, 3)
        y = label(centres, truth)
        X = np.array([r[1] for r in rows], float)
        C.log("%s, case %d (noise +%.0f HU): %d candidates, %d positive, %d of %d nodules covered" % (
            "triage data" if dump == 2 else "tree data", seed, truth.get("added_noise_hu", 0), len(rows),
            int(np.sum(y == 1)), covered(centres, truth), len(truth["nodules"])))
        return (seed, centres, X, y, truth)

    seeds = [args.seed_base + k for k in range(args.cases)]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        return list(pool.map(one, seeds))


def covered(centres, truth):
    """How many of the case's nodules have a candidate within reach."""
    tol = C.tolerance(truth)
    n = 0
    for nod in truth["nodules"]:
        reach = max(0.5 * nod["diameter_mm"], tol)
        if len(centres) and np.min(np.linalg.norm(centres - np.asarray(nod["centre_mm"]), axis=1)) <= reach:
            n += 1
    return n


def parse_raw(text):
    rows = []
    for line in text.splitlines():
        i = line.find("ln-raw ")
        if i >= 0:
            v = [float(t) for t in line[i:].split()[1:]]
            rows.append((v[0:3], v[4:]))
    return rows


def parse_candidates(text):
    return [(r["centre"], r["features"]) for r in C.candidates_of(text)]


# ---- the triage: logistic on features and squares -------------------------------------------


def expand(Z):
    return np.concatenate([Z, Z * Z], 1)


def fit_logistic(X, y, l2=1e-3, pos_weight=None):
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = expand((X - mean) / scale)
    n, d = Z.shape
    w = np.zeros(d)
    b = 0.0
    pw = pos_weight if pos_weight else max(1.0, np.sum(y == 0) / max(np.sum(y == 1), 1))
    sw = np.where(y == 1, pw, 1.0)
    for _ in range(50):  # Newton
        s = Z @ w + b
        p = 1 / (1 + np.exp(-np.clip(s, -30, 30)))
        g = sw * (p - y)
        h = sw * p * (1 - p) + 1e-9
        A = np.concatenate([Z, np.ones((n, 1))], 1)
        H = (A * h[:, None]).T @ A / n + l2 * np.diag(np.r_[np.ones(d), 0.0])
        G = A.T @ g / n + l2 * np.r_[w, 0.0]
        step = np.linalg.solve(H, G)
        w -= step[:d]
        b -= step[d]
        if np.max(np.abs(step)) < 1e-7:
            break
    return {"mean": mean, "scale": scale, "weight": w, "bias": b}


def logistic_score(model, X):
    return expand((X - model["mean"]) / model["scale"]) @ model["weight"] + model["bias"]


# ---- gradient-boosted trees ------------------------------------------------------------------


def midpoints(values, edges):
    """The split thresholds for bin edges that are data values: halfway to the
    next larger value in the data. A threshold on a data value itself is
    fragile: features with ties (the detection scale, voxel-count volumes)
    put whole groups of candidates on it, and the least difference in how
    the C module computes or prints them sends them all the other way."""
    u = np.unique(values)
    nxt = np.searchsorted(u, edges, side="right")
    above = u[np.minimum(nxt, len(u) - 1)]
    return np.where(nxt < len(u), 0.5 * (edges + above), edges)


class Trees:
    def __init__(self, n_trees, depth, rate, seed, min_leaf=8, l2=1.0, bins=32):
        self.n_trees, self.depth, self.rate, self.min_leaf, self.l2 = n_trees, depth, rate, min_leaf, l2
        self.rng = np.random.default_rng(seed)
        self.n_bins = bins

    def fit(self, X, y):
        n, d = X.shape
        self.edges, self.cuts = [], []
        B = np.zeros((n, d), np.int32)
        for j in range(d):
            e = np.unique(np.quantile(X[:, j], np.linspace(0, 1, self.n_bins + 1)[1:-1]))
            self.edges.append(e)
            B[:, j] = np.searchsorted(e, X[:, j], side="left")  # x <= e[b] -> bin <= b
            self.cuts.append(midpoints(X[:, j], e))
        p0 = np.clip(np.mean(y), 1e-4, 1 - 1e-4)
        self.bias = float(np.log(p0 / (1 - p0)))
        score = np.full(n, self.bias)
        self.nodes, self.roots = [], []
        for _ in range(self.n_trees):
            p = 1 / (1 + np.exp(-score))
            g, h = p - y, p * (1 - p)
            rows = np.nonzero(self.rng.random(n) < 0.8)[0]
            self.roots.append(len(self.nodes))
            self._grow(B, X, g, h, rows, 0)
            score += self._predict_tree(X, self.roots[-1])
        return self

    def _grow(self, B, X, g, h, rows, level):
        me = len(self.nodes)
        self.nodes.append(None)
        G, H = g[rows].sum(), h[rows].sum()
        best = None
        if level < self.depth and len(rows) >= 2 * self.min_leaf:
            base = G * G / (H + self.l2)
            for j in range(B.shape[1]):
                nb = len(self.edges[j]) + 1
                gs = np.bincount(B[rows, j], weights=g[rows], minlength=nb)
                hs = np.bincount(B[rows, j], weights=h[rows], minlength=nb)
                cs = np.bincount(B[rows, j], minlength=nb)
                gl, hl, cl = np.cumsum(gs)[:-1], np.cumsum(hs)[:-1], np.cumsum(cs)[:-1]
                gr, hr, cr = G - gl, H - hl, len(rows) - cl
                ok = (cl >= self.min_leaf) & (cr >= self.min_leaf)
                if not np.any(ok):
                    continue
                gain = gl * gl / (hl + self.l2) + gr * gr / (hr + self.l2) - base
                gain[~ok] = -np.inf
                b = int(np.argmax(gain))
                if gain[b] > 1e-9 and (best is None or gain[b] > best[0]):
                    best = (float(gain[b]), j, b)
        if best is None:
            self.nodes[me] = (-1, 0.0, 0, 0, float(-G / (H + self.l2) * self.rate))
            return me
        _, j, b = best
        threshold = float(self.cuts[j][b])
        left_rows = rows[B[rows, j] <= b]
        right_rows = rows[B[rows, j] > b]
        left = self._grow(B, X, g, h, left_rows, level + 1)
        right = self._grow(B, X, g, h, right_rows, level + 1)
        self.nodes[me] = (j, threshold, left, right, 0.0)
        return me

    def _predict_tree(self, X, root):
        out = np.zeros(len(X))
        idx = np.arange(len(X))
        stack = [(root, idx)]
        while stack:
            k, rows = stack.pop()
            f, t, l, r, v = self.nodes[k]
            if f < 0:
                out[rows] = v
                continue
            go_left = X[rows, f] <= t
            stack.append((l, rows[go_left]))
            stack.append((r, rows[~go_left]))
        return out

    def decision(self, X):
        s = np.full(len(X), self.bias)
        for r in self.roots:
            s += self._predict_tree(X, r)
        return s


def sigmoid(s):
    return 1 / (1 + np.exp(-s))


def fp_threshold(scores_by_case, labels_by_case, rate):
    """The lowest probability at which the false positives per scan stay <= @rate."""
    neg = np.sort(np.concatenate([s[y == 0] for s, y in zip(scores_by_case, labels_by_case)]))[::-1]
    allowed = int(np.floor(rate * len(scores_by_case)))
    if allowed >= len(neg):
        return 0.0
    return float(neg[allowed]) + 1e-6


# ---- the header ---------------------------------------------------------------------------


def write_header(path, triage, trees, threshold, notes):
    def arr(values):
        return ", ".join("%.9g" % v for v in values)

    lines = ["/* ln_classifier_model.h: GENERATED by eval/ln-train.py; do not edit.", " *"]
    lines += [" * " + n if n else " *" for n in notes]
    lines += [" */", "", "/* triage: logistic on standardised features z and z^2 (ln_triage_names) */",
              "#define LN_TRIAGE_BIAS %.9g" % triage["bias"],
              "static const double ln_triage_mean[LN_N_TRIAGE] = { %s };" % arr(triage["mean"]),
              "static const double ln_triage_scale[LN_N_TRIAGE] = { %s };" % arr(triage["scale"]),
              "static const double ln_triage_weight[2 * LN_N_TRIAGE] = { %s };" % arr(triage["weight"]), ""]
    if trees is None:
        lines += ["#define LN_MODEL_N_TREES 1", "#define LN_MODEL_BIAS 0.0", "#define LN_MODEL_DEFAULT_THRESHOLD 0.5",
                  "static const int ln_model_roots[1] = { 0 };",
                  "static const LnTreeNode ln_model_nodes[1] = { { -1, 0.0, 0, 0, 1.0 } };"]
    else:
        lines += ["/* boosted trees on ln_feature_names: score = bias + sum of leaves; p = 1 / (1 + exp(-score)) */",
                  "#define LN_MODEL_N_TREES %d" % len(trees.roots), "#define LN_MODEL_BIAS %.9g" % trees.bias,
                  "#define LN_MODEL_DEFAULT_THRESHOLD %.6f" % threshold,
                  "static const int ln_model_roots[LN_MODEL_N_TREES] = { %s };" % ", ".join(str(r) for r in trees.roots),
                  "static const LnTreeNode ln_model_nodes[%d] = {" % len(trees.nodes)]
        for f, t, l, r, v in trees.nodes:
            lines.append("  { %d, %.9g, %d, %d, %.9g }," % (f, t, l, r, v))
        lines.append("};")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preread", default=os.environ.get("PREREAD_BINARY", "preread"))
    ap.add_argument("--work", default="/tmp/ln-train")
    ap.add_argument("--series", default="L", choices=sorted(C.SERIES))
    ap.add_argument("--cases", type=int, default=64)
    ap.add_argument("--seed-base", type=int, default=1001)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--sizes", default="luna16")
    ap.add_argument("--noise-max", type=float, default=60.0,
                    help="each case gets added noise drawn uniformly from 0 to this (HU): other kernels and doses")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--trees", type=int, default=400)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--rate", type=float, default=0.05, help="shrinkage")
    ap.add_argument("--keep", type=int, default=1500, help="candidates the module segments per scan")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at a time (the result does not depend on it)")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--out", default=os.path.join(C.MODULE_DIR, "ln_classifier_model.h"))
    args = ap.parse_args()
    if not os.path.isdir(C.SERIES[args.series]):
        raise SystemExit("the shared CT data is missing: %s" % C.SERIES[args.series])
    os.makedirs(args.work, exist_ok=True)
    command = ("plugin/analyzers/lung-nodule/eval/ln-train.py --preread PREREAD --series %s --cases %d --seed-base %d "
               "--count %d --sizes %s --noise-max %g --seed %d --trees %d --depth %d --rate %g --keep %d" % (
                   args.series, args.cases, args.seed_base, args.count, args.sizes, args.noise_max, args.seed,
                   args.trees, args.depth, args.rate, args.keep))

    # 1. the triage
    module = build(args.cc, os.path.join(args.work, "phase1.so"))
    raw = collect(args, module, 2, parse_raw)
    X = np.concatenate([d[2] for d in raw])
    y = np.concatenate([d[3] for d in raw])
    keep = y >= 0
    triage = fit_logistic(X[keep], y[keep])
    # out-of-fold: how many nodules have a positive maximum among the top --keep
    folds = 4
    rec = []
    for f in range(folds):
        tr = [d for i, d in enumerate(raw) if i % folds != f]
        te = [d for i, d in enumerate(raw) if i % folds == f]
        Xt = np.concatenate([d[2] for d in tr])
        yt = np.concatenate([d[3] for d in tr])
        m = fit_logistic(Xt[yt >= 0], yt[yt >= 0])
        for seed, cc, Xc, yc, truth in te:
            sc = logistic_score(m, Xc)
            top = np.argsort(-sc)[:4 * args.keep]  # maxima before cross-scale suppression
            top = top[yc[top] == 1]
            rec.append((covered(cc[top], truth), len(truth["nodules"])))
    C.log("triage fitted on %d maxima (%d positive)" % (int(keep.sum()), int(np.sum(y == 1))))
    write_header(args.out, triage, None, 0.5, ["(intermediate: triage only)"])

    # 2. the trees, on what the module with this triage segments
    module = build(args.cc, os.path.join(args.work, "phase2.so"))
    cands = collect(args, module, 1, parse_candidates)
    Xs = [d[2] for d in cands]
    ys = [d[3] for d in cands]
    covered_nodules = sum(covered(d[1], d[4]) for d in cands)
    total_nodules = sum(len(d[4]["nodules"]) for d in cands)
    # out-of-fold scores for the operating point
    folds = 5
    oof_s, oof_y = [], []
    for f in range(folds):
        tr = [i for i in range(len(cands)) if i % folds != f]
        te = [i for i in range(len(cands)) if i % folds == f]
        Xt = np.concatenate([Xs[i] for i in tr])
        yt = np.concatenate([ys[i] for i in tr])
        model = Trees(args.trees, args.depth, args.rate, args.seed + f).fit(Xt[yt >= 0], yt[yt >= 0])
        for i in te:
            m = ys[i] >= 0
            oof_s.append(sigmoid(model.decision(Xs[i][m])))
            oof_y.append(ys[i][m])
    threshold = fp_threshold(oof_s, oof_y, 1.0)
    s_all = np.concatenate(oof_s)
    y_all = np.concatenate(oof_y)
    sens_cand = float(np.mean(s_all[y_all == 1] >= threshold))
    Xa = np.concatenate(Xs)
    ya = np.concatenate(ys)
    trees = Trees(args.trees, args.depth, args.rate, args.seed).fit(Xa[ya >= 0], ya[ya >= 0])
    importance = np.zeros(len(FEATURE_NAMES))
    for f, t, l, r, v in trees.nodes:
        if f >= 0:
            importance[f] += 1
    top = ", ".join("%s %d" % (FEATURE_NAMES[i], importance[i]) for i in np.argsort(-importance)[:8])
    notes = [
        "Command (from the top source folder, with the shared data beside it):",
        "  %s" % command,
        "Seed %d; %d trees of depth %d, shrinkage %g, 80 %% row subsampling; triage:" % (
            args.seed, args.trees, args.depth, args.rate),
        "logistic on %d features and their squares." % len(TRIAGE_NAMES),
        "Training data: %d cases of %d nodules inserted by eval/ln-insert.py into series %s" % (args.cases, args.count,
                                                                                              args.series),
        "(%s) with seeds %d-%d, sizes %s," % (os.path.basename(C.SERIES[args.series]), args.seed_base,
                                             args.seed_base + args.cases - 1, args.sizes),
        "with correlated noise of 0-%g HU added (seeded per case), as other kernels and doses have." % args.noise_max,
        "Triage: %d maxima, %d positive; out-of-fold, %.1f %% of nodules keep a positive maximum" % (
            int(keep.sum()), int(np.sum(y == 1)), 100.0 * sum(a for a, b in rec) / max(sum(b for a, b in rec), 1)),
        "among each scan's best-ranked %d." % (4 * args.keep),
        "Trees: %d candidates (%d positive) from %d of %d nodules reaching segmentation." % (
            int(np.sum(ya >= 0)), int(np.sum(ya == 1)), covered_nodules, total_nodules),
        "Operating point %.4f: 1 false positive per training scan out of fold (5-fold by case);" % threshold,
        "%.1f %% of positive candidates above it." % (100 * sens_cand),
        "Splits per feature: %s." % top,
    ]
    write_header(args.out, triage, trees, threshold, notes)
    final = build(args.cc, os.path.join(args.work, "final.so"))
    check_serving(args, final, trees, cands[0])
    print("\n".join(notes))
    return 0


def check_serving(args, module, trees, case):
    """The built module must give every candidate of a training case the
    probability the trees give the features logged for it in training:
    otherwise what was trained is not what runs (five-digit logs once made it
    so)."""
    seed, centres, X, y, truth = case
    folder = C.case_folder(args.series, seed, os.path.join(args.work, "cases"))
    run = C.analyze(args.preread, module, folder, ["dump-candidates=1", "min-confidence=0", "max-nodules=1000"],
                    keep=os.path.join(args.work, "job-check"))
    rows = C.candidates_of(run.log)
    if run.status != "done" or len(rows) != len(X):
        raise SystemExit("serving check: case %d ran %s with %d candidates (training saw %d)" % (
            seed, run.status, len(rows), len(X)))
    if np.max(np.abs(np.array([r["centre"] for r in rows], float) - centres)) > 0.01:
        raise SystemExit("serving check: case %d gave other candidates than in training" % seed)
    served = np.array([r["probability"] for r in rows])
    trained = sigmoid(trees.decision(X))  # the features as training read them
    worst = float(np.max(np.abs(served - trained)))
    C.log("serving check, case %d: %d candidates, largest difference %.5f (the log rounds to 0.0001)" % (
        seed, len(rows), worst))
    if worst > 1e-3:
        raise SystemExit("serving check failed: the module's probabilities differ from the trained model's by "
                         "up to %.4f" % worst)


if __name__ == "__main__":
    sys.exit(main())
