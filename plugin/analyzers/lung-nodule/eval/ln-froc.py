#!/usr/bin/python3
"""Score the lung-nodule analyzer: FROC on inserted nodules, and the expert
tumour boxes of the real CT.

    ln-froc.py [--preread BIN] [--module SO] [--work DIR]
               [--series L|B] [--cases 30] [--seed-base 1] [--count 12] [--sizes luna16]
               [--expert] [--param NAME=VALUE ...] [--json OUT] [--markdown OUT]

Inserted nodules: --cases cases are made by ln-insert.py in the real CT series
--series (L: the lung-kernel series, B: the soft-tissue one), seeds
--seed-base, --seed-base + 1, ..., with --count nodules each (cached under
--work). Every case is analysed by `preread analyze` exactly as the gateway
runs the module, with min-confidence=0 and max-nodules=100000 so that every
scored candidate comes back and the whole FROC curve can be drawn.

A detection hits an inserted nodule when its 3D centre is within the nodule's
radius of the true centre, or within half a slice plus 1 mm when that is
larger (on 5 mm slices a 4 mm nodule's centre can only be found on the
nearest slice). The most confident hit counts; further hits on the same nodule
are ignored, as are detections inside the regions the ground truth marks
(the real tumour). Every other detection is a false positive.

Reported: sensitivity at 1/8, 1/4, 1/2, 1, 2, 4 and 8 false positives per scan
and their mean (CPM, the LUNA16 metric) with a bootstrap 95 % interval over
cases; the same for nodules of 6 mm and more; sensitivity and diameter error
by size, density and attachment; Lung-RADS agreement; at the default operating
point (min-confidence from ln_classifier_model.h) the sensitivity and false
positives per scan. --json also lists every inserted nodule with its best
match ("per_nodule"), for looking into the misses.

--expert: the real CT's series (each alone, and the whole study) are analysed
with the default parameters; the tumour is found when a reported nodule's
centre lies inside an expert box on a boxed slice.
"""

import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ln_eval_common as C  # noqa: E402


def pct(x):
    return "%.1f %%" % (100.0 * x)


# ---- inserted nodules -------------------------------------------------------------------


def score_cases(args):
    root = os.path.join(args.work, "cases")
    os.makedirs(root, exist_ok=True)
    params = ["min-confidence=0", "max-nodules=100000"] + args.param
    cases = []
    for k in range(args.cases):
        seed = args.seed_base + k
        folder = C.make_case(args.series, seed, root, args.count, args.sizes)
        truth = C.truth_of(folder)
        run = C.analyze(args.preread, args.module, folder, params)
        if run.status != "done":
            raise SystemExit("case %s: analyzer %s: %s" % (folder, run.status, run.stderr[-400:]))
        dets = C.nodules_of(run.findings)
        labels = C.match(dets, truth)
        cases.append({"folder": folder, "seed": seed, "truth": truth, "detections": dets, "labels": labels,
                      "seconds": run.seconds})
        n_tp = sum(1 for l in labels if l[0] == "tp")
        C.log("case %s: %d nodules, %d detections, %d hits, %.1f s" % (os.path.basename(folder),
                                                                       len(truth["nodules"]), len(dets), n_tp,
                                                                       run.seconds))
    return cases


def collect(cases, select=None):
    """Best score per true nodule (None: missed) and every FP score."""
    tp, fp, rows = [], [], []
    for c in cases:
        best = {}
        for d, (kind, k) in zip(c["detections"], c["labels"]):
            if kind == "tp":
                if k not in best or d["confidence"] > best[k]["confidence"]:
                    best[k] = d
            elif kind == "fp":
                fp.append(d["confidence"])
        for k, n in enumerate(c["truth"]["nodules"]):
            if select and not select(n):
                continue
            d = best.get(k)
            tp.append(d["confidence"] if d else None)
            rows.append((n, d, c))
    return tp, fp, rows


def bootstrap_cpm(cases, select=None, reps=1000, seed=7):
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        pick = [cases[i] for i in rng.integers(len(cases), size=len(cases))]
        tp, fp, _ = collect(pick, select)
        values.append(C.froc(tp, fp, len(tp), len(pick))[1])
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def diameter_errors(pairs, key):
    errs = [(d["diameter"] - n[key], (d["diameter"] - n[key]) / n[key]) for n, d in pairs if d and n.get(key)]
    if not errs:
        return None
    a = np.array(errs)
    within = np.mean((np.abs(a[:, 0]) <= 1.5) | (np.abs(a[:, 1]) <= 0.15))
    return {"n": len(a), "mean_abs_mm": float(np.mean(np.abs(a[:, 0]))), "mean_signed_mm": float(np.mean(a[:, 0])),
            "mean_abs_rel": float(np.mean(np.abs(a[:, 1]))), "within_1.5mm_or_15pct": float(within)}


def report_inserted(args, cases, out):
    n_scans = len(cases)
    tp, fp, rows = collect(cases)
    points, cpm, curve = C.froc(tp, fp, len(tp), n_scans)
    lo, hi = bootstrap_cpm(cases)
    tp6, fp6, rows6 = collect(cases, lambda n: n["diameter_mm"] >= 6.0)
    points6, cpm6, curve6 = C.froc(tp6, fp6, len(tp6), n_scans)
    lo6, hi6 = bootstrap_cpm(cases, lambda n: n["diameter_mm"] >= 6.0)
    t_op = args.threshold if args.threshold is not None else C.default_threshold()
    t1, t2 = C.threshold_at(curve, 1.0), C.threshold_at(curve, 2.0)
    fp_op = sum(1 for s in fp if s >= t_op) / n_scans
    sens_op = sum(1 for s in tp if s is not None and s >= t_op) / len(tp)
    sens6_2 = sum(1 for s in tp6 if s is not None and s >= t2) / max(len(tp6), 1)
    total_truth = len(tp)
    result = {"scans": n_scans, "nodules": total_truth, "fp_rates": list(C.FP_RATES), "sensitivity": points,
              "cpm": cpm, "cpm_ci95": [lo, hi], "sensitivity_6mm": points6, "cpm_6mm": cpm6, "cpm_6mm_ci95": [lo6, hi6],
              "nodules_6mm": len(tp6), "operating_threshold": t_op, "operating_sensitivity": sens_op,
              "operating_fp_per_scan": fp_op, "sensitivity_6mm_at_2fp": sens6_2,
              "max_sensitivity": sum(1 for s in tp if s is not None) / total_truth,
              "fp_per_scan_all": len(fp) / n_scans,
              "seconds_per_case": float(np.mean([c["seconds"] for c in cases]))}

    # Every true nodule with its best match, for looking into the misses.
    result["per_nodule"] = [dict(n, case=os.path.basename(c["folder"]), detected=d) for n, d, c in rows]

    lines = []
    w = lines.append
    w("Inserted nodules: %d scans (series %s, seeds %d-%d), %d nodules (%d of 6 mm or more)." % (
        n_scans, args.series, args.seed_base, args.seed_base + n_scans - 1, total_truth, len(tp6)))
    w("")
    w("| FP per scan | " + " | ".join("%g" % r for r in C.FP_RATES) + " | CPM (95 % CI) |")
    w("|---|" + "---|" * (len(C.FP_RATES) + 1))
    w("| all sizes | " + " | ".join("%.3f" % p for p in points) + " | **%.3f** (%.3f-%.3f) |" % (cpm, lo, hi))
    w("| >= 6 mm | " + " | ".join("%.3f" % p for p in points6) + " | %.3f (%.3f-%.3f) |" % (cpm6, lo6, hi6))
    w("")
    w("Operating point (min-confidence %.3f): sensitivity %s at %.2f FP/scan; %s of nodules >= 6 mm at the "
      "2 FP/scan threshold (%.3f). Every candidate the classifier scored: sensitivity %s at %.1f FP/scan." % (
          t_op, pct(sens_op), fp_op, pct(sens6_2), t2, pct(result["max_sensitivity"]), result["fp_per_scan_all"]))
    w("")

    def group_table(title, key_fn, keys):
        w("| %s | nodules | sens. @1 FP/scan | @2 FP/scan | @operating point | diameter MAE | rel. error | "
          "within 1.5 mm or 15 %% |" % title)
        w("|---|---|---|---|---|---|---|---|")
        groups = {}
        for k in keys:
            sel = [(n, d) for n, d, _ in rows if key_fn(n) == k]
            if not sel:
                continue
            s1 = np.mean([bool(d and d["confidence"] >= t1) for n, d in sel])
            s2 = np.mean([bool(d and d["confidence"] >= t2) for n, d in sel])
            so = np.mean([bool(d and d["confidence"] >= t_op) for n, d in sel])
            err = diameter_errors([(n, d) for n, d in sel if d and d["confidence"] >= t_op], "visible_mean_diameter_mm")
            groups[k] = {"n": len(sel), "sens_1fp": s1, "sens_2fp": s2, "sens_op": so, "diameter": err}
            w("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                k, len(sel), pct(s1), pct(s2), pct(so),
                "%.2f mm" % err["mean_abs_mm"] if err else "-", pct(err["mean_abs_rel"]) if err else "-",
                pct(err["within_1.5mm_or_15pct"]) if err else "-"))
        w("")
        return groups

    result["by_size"] = group_table("size", lambda n: C.size_bin(n["diameter_mm"]),
                                    [C.size_bin(lo) for lo, _ in C.SIZE_BINS])
    result["by_density"] = group_table("density", lambda n: n["type"], ["solid", "part-solid", "ground-glass"])
    result["by_attachment"] = group_table("attachment", lambda n: n["attachment"],
                                          ["isolated", "vessel", "juxtapleural"])
    detected = [(n, d) for n, d, _ in rows if d and d["confidence"] >= t_op]
    ev = diameter_errors(detected, "visible_mean_diameter_mm")
    en = diameter_errors(detected, "diameter_mm")
    result["diameter_vs_visible"], result["diameter_vs_nominal"] = ev, en
    if ev:
        w("Mean diameter of the %d nodules detected at the operating point, against the visible axial mean diameter "
          "(ground truth): mean absolute error %.2f mm (signed %+.2f mm), mean relative error %s, %s within 1.5 mm or "
          "15 %%. Against the nominal (volume-equivalent) diameter: %.2f mm, %s, %s within." % (
              ev["n"], ev["mean_abs_mm"], ev["mean_signed_mm"], pct(ev["mean_abs_rel"]),
              pct(ev["within_1.5mm_or_15pct"]), en["mean_abs_mm"], pct(en["mean_abs_rel"]),
              pct(en["within_1.5mm_or_15pct"])))
        w("")
    agree = [(n, d) for n, d in detected if "lungrads" in d]
    if agree:
        lr = np.mean([d["lungrads"] == n["lungrads_visible"] for n, d in agree])
        ty = np.mean([d.get("type") == n["type"] for n, d in agree])
        result["lungrads_agreement"], result["type_agreement"] = float(lr), float(ty)
        w("Lung-RADS category equal to the ground truth's (from the visible diameter and true density): %s; "
          "attenuation type equal: %s (%d detected nodules)." % (pct(lr), pct(ty), len(agree)))
        w("")
    w("Analysis time per case (5 mm, 64 slices, whole `preread analyze`): %.1f s." % result["seconds_per_case"])
    out["inserted"] = result
    return "\n".join(lines)


# ---- expert boxes ----------------------------------------------------------------------------


def report_expert(args, out):
    boxes = C.load_boxes(C.BOXES)
    rows, lines = [], []
    targets = [("series L (lung kernel)", C.SERIES["L"], C.SERIES["L"]),
               ("series B (soft-tissue kernel)", C.SERIES["B"], C.SERIES["B"]),
               ("whole study (2 series)", C.CT_STUDY, None)]
    for label, folder, geometry in targets:
        run = C.analyze(args.preread, args.module, folder, args.param, keep=os.path.join(args.work, "expert-job"))
        m = re.search(r"read on series (\d+)", " ".join(f.get("text", "") for f in run.findings))
        chosen = geometry or (C.SERIES["L"] if m and m.group(1) == "2" else C.SERIES["B"])
        datasets = C.series_geometry(chosen)
        boxed = [d for d in datasets if d.SOPInstanceUID in boxes]
        dets = C.nodules_of(run.findings)
        hits = [(d, C.in_box(d["centre"], datasets, boxes)) for d in dets]
        found = [d for d, (hit, _) in hits if hit]
        best = max(found, key=lambda d: d["confidence"]) if found else None
        row = {"target": label, "status": run.status, "series_read": m.group(1) if m else None,
               "boxed_slices": len(boxed), "reported": len(dets), "found": bool(best),
               "false_positives": len(dets) - len(found), "summary": run.summary, "seconds": run.seconds}
        if best:
            row.update({"confidence": best["confidence"], "long": best.get("long"), "short": best.get("short"),
                        "diameter": best.get("diameter"), "type": best.get("type"), "lungrads": best.get("lungrads")})
        rows.append(row)
        C.log("expert %s: %s" % (label, json.dumps(row)))
    out["expert"] = rows
    w = lines.append
    w("| input | series read | tumour found | confidence | measured (long x short, mean) | type | Lung-RADS | "
      "other nodules reported | worklist summary | time |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        w("| %s | %s | %s | %s | %s | %s | %s | %d | %s | %.1f s |" % (
            r["target"], r["series_read"] or "-", "yes" if r["found"] else "**no**",
            "%.2f" % r["confidence"] if r.get("confidence") is not None else "-",
            "%.1f x %.1f mm, %.1f mm" % (r["long"], r["short"], r["diameter"]) if r.get("long") else "-",
            r.get("type", "-"), r.get("lungrads", "-"), r["false_positives"], r["summary"], r["seconds"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preread", default=os.environ.get("PREREAD_BINARY", "preread"))
    ap.add_argument("--module", default="lung-nodule")
    ap.add_argument("--work", default="/tmp/ln-eval")
    ap.add_argument("--series", default="L", choices=sorted(C.SERIES))
    ap.add_argument("--cases", type=int, default=30)
    ap.add_argument("--seed-base", type=int, default=1)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--sizes", default="luna16")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--threshold", type=float, help="operating point (default: the model's)")
    ap.add_argument("--expert", action="store_true", help="also score the expert tumour boxes")
    ap.add_argument("--no-inserted", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    if not os.path.isdir(C.SERIES[args.series]):
        raise SystemExit("the shared CT data is missing: %s" % C.SERIES[args.series])
    out = {"module": args.module, "params": args.param}
    text = []
    if args.expert:
        text.append("### Expert-boxed tumour\n\n" + report_expert(args, out))
    if not args.no_inserted:
        cases = score_cases(args)
        text.append("### Inserted nodules\n\n" + report_inserted(args, cases, out))
    md = "\n\n".join(text)
    print(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
