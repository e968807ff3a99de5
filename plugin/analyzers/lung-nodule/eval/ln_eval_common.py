"""What the lung-nodule evaluation scripts share: making cases, running the
analyzer as the gateway does, reading its findings, matching them to ground
truth, FROC. Python 3 with numpy and pydicom only."""

import glob
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_DIR = os.path.dirname(HERE)
SRCDIR = os.path.abspath(os.path.join(MODULE_DIR, "..", "..", ".."))
SHARED = os.path.abspath(os.path.join(SRCDIR, "..", "shared", "data"))
CT_STUDY = os.path.join(SHARED, "ct", "lung-pet-ct-dx-A0001", "images", "04-04-2007-NA-Chest-07990")
SERIES = {
    "L": os.path.join(CT_STUDY, "2.000000-5mm-40805"),  # lung kernel
    "B": os.path.join(CT_STUDY, "3.000000-5mm-41315"),  # soft-tissue kernel
}
BOXES = os.path.join(SHARED, "ct", "lung-pet-ct-dx-A0001", "boxes")
INSERT = os.path.join(HERE, "ln-insert.py")

FP_RATES = (0.125, 0.25, 0.5, 1, 2, 4, 8)
SIZE_BINS = ((4, 6), (6, 8), (8, 15), (15, 30.01))


def truth_of(folder):
    with open(folder.rstrip("/") + ".truth.json") as f:
        return json.load(f)


def default_threshold():
    """The operating point the training wrote into the model header."""
    with open(os.path.join(MODULE_DIR, "ln_classifier_model.h")) as f:
        m = re.search(r"#define LN_MODEL_DEFAULT_THRESHOLD ([0-9.eE+-]+)", f.read())
    return float(m.group(1)) if m else 0.5


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---- cases --------------------------------------------------------------------------


def case_folder(series_key, seed, root):
    """Where make_case puts (and finds) the case of @series_key and @seed."""
    return os.path.join(root, "%s-%05d" % (series_key, seed))


def make_case(series_key, seed, root, count=12, sizes="luna16", extra=()):
    """Inserts nodules into series @series_key with @seed (cached in @root).
    Returns the series folder; its ground truth is FOLDER.truth.json."""
    out = case_folder(series_key, seed, root)
    if os.path.exists(out + ".truth.json"):
        return out
    subprocess.run([sys.executable, INSERT, "--series", SERIES[series_key], "--out", out, "--seed", str(seed),
                    "--count", str(count), "--sizes", sizes, "--boxes", BOXES] + list(extra),
                   check=True, stdout=subprocess.DEVNULL)
    return out


# ---- running the analyzer --------------------------------------------------------------


class Run:
    def __init__(self, status, findings, summary, seconds, log_text, stderr):
        self.status, self.findings, self.summary = status, findings, summary
        self.seconds, self.log, self.stderr = seconds, log_text, stderr


def analyze(preread, module, study, params=(), keep=None, timeout=600):
    """Runs `preread analyze` on @study; returns a Run."""
    cmd = [preread, "analyze", "--analyzer", module, "--quiet", "--timeout", str(timeout)]
    for p in params:
        cmd += ["--param", p]
    if keep:
        cmd += ["--output", keep]
    cmd.append(study)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - start
    doc = {}
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        pass
    text = ""
    if keep and os.path.exists(os.path.join(keep, "analyzer.log")):
        with open(os.path.join(keep, "analyzer.log"), errors="replace") as f:
            text = f.read()
    return Run(doc.get("status", "error %d" % proc.returncode), doc.get("findings", []), doc.get("summary"),
               seconds, text, proc.stderr)


def nodules_of(findings):
    """The reported nodules: each one's 3D centre (point-3d finding) joined to
    its key-slice finding (polygon) by tracking identifier."""
    by_id = {}
    for f in findings:
        tid = f.get("tracking_id")
        loc = f.get("location") or {}
        if not tid or not tid.startswith("nodule"):
            continue
        entry = by_id.setdefault(tid, {"id": tid})
        if loc.get("shape") == "point-3d":
            entry["centre"] = loc["points"][0]
            entry["confidence"] = f.get("confidence", 0.0)
        elif loc.get("shape") == "polygon":
            entry["sop"] = loc.get("sop_instance_uid")
            entry["type_code"] = f["type"]["value"]
            for m in f.get("measurements", []):
                meaning = m["concept"]["meaning"]
                entry[{"Diameter": "diameter", "Long axis": "long", "Short axis": "short", "Volume": "volume",
                       "Solid component mean diameter": "solid"}.get(meaning, meaning)] = m["value"]
            for e in f.get("evaluations", []):
                c = e["concept"]["value"]
                if c == "lungrads-v2022":
                    entry["lungrads"] = e["value"]["value"].replace("lungrads-", "")
                elif c == "attenuation-type":
                    entry["type"] = {"solid": "solid", "part-solid": "part-solid"}.get(e["value"]["value"],
                                                                                       "ground-glass")
    return [n for n in by_id.values() if "centre" in n]


def candidates_of(log_text):
    """The ln-candidate lines a run with dump-candidates=1 logged (the log
    has the module's tabs as spaces)."""
    rows = []
    for line in log_text.splitlines():
        i = line.find("ln-candidate ")
        if i < 0:
            continue
        parts = line[i:].split()[1:]
        vals = [float(v) for v in parts]
        rows.append({"centre": vals[0:3], "diameter": vals[3], "probability": vals[4], "type": int(vals[5]),
                     "features": vals[6:]})
    return rows


# ---- matching -----------------------------------------------------------------------------


def tolerance(truth):
    """How far a detected centre may be from a true one and still hit it: the
    nodule's radius, but at least half a slice plus a millimetre, because on
    thick slices a small nodule's centre can only be found on the nearest
    slice."""
    return 0.5 * truth.get("slice_spacing_mm", 1.0) + 1.0


def match(detections, truth):
    """Labels detections of one case: ('tp', nodule index), ('fp', None) or
    ('ignore', None) (inside an ignore region: the real tumour, or a second
    hit on a nodule already hit by a more confident detection)."""
    nods = truth["nodules"]
    tol = tolerance(truth)
    order = sorted(range(len(detections)), key=lambda i: -detections[i].get("confidence", detections[i].get("probability", 0)))
    taken = set()
    labels = [None] * len(detections)
    for i in order:
        d = np.asarray(detections[i]["centre"], float)
        best, best_dist = None, None
        for k, n in enumerate(nods):
            dist = float(np.linalg.norm(d - np.asarray(n["centre_mm"])))
            if dist <= max(0.5 * n["diameter_mm"], tol) and (best is None or dist < best_dist):
                best, best_dist = k, dist
        if best is not None:
            labels[i] = ("tp", best) if best not in taken else ("ignore", best)
            taken.add(best)
            continue
        ignored = any(np.linalg.norm(d - np.asarray(g["centre_mm"])) <= g["radius_mm"] for g in truth.get("ignore", []))
        labels[i] = ("ignore", None) if ignored else ("fp", None)
    return labels


# ---- expert boxes ---------------------------------------------------------------------------


def series_geometry(folder):
    """The series' slices (headers only), sorted along the normal."""
    import pydicom
    ds = [pydicom.dcmread(f, stop_before_pixels=True) for f in glob.glob(os.path.join(folder, "*.dcm"))]
    if not ds:
        return ds
    iop = [float(v) for v in ds[0].ImageOrientationPatient]
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(np.dot(normal, [float(v) for v in d.ImagePositionPatient])))
    return ds


def load_boxes(folder):
    """The expert boxes: SOP Instance UID -> [xmin, ymin, xmax, ymax] list
    (PASCAL-VOC XML per slice, named by the slice's SOP Instance UID)."""
    boxes = {}
    for path in glob.glob(os.path.join(folder, "*.xml")):
        with open(path) as f:
            text = f.read()
        for obj in re.findall(r"<bndbox>(.*?)</bndbox>", text, re.S):
            b = [float(re.search(r"<%s>([-0-9.]+)</%s>" % (k, k), obj).group(1)) for k in ("xmin", "ymin", "xmax", "ymax")]
            boxes.setdefault(os.path.basename(path)[:-4], []).append(b)
    return boxes


def in_box(centre, datasets, boxes):
    """Whether @centre (patient mm) lies in an expert box on a boxed slice:
    the slice nearest to it must have a box, and the centre's pixel position
    on it must lie inside (one pixel of slack for the box convention).
    Returns (hit, slice index)."""
    iop = [float(v) for v in datasets[0].ImageOrientationPatient]
    normal = np.cross(iop[:3], iop[3:])
    z = np.array([float(np.dot(normal, [float(v) for v in d.ImagePositionPatient])) for d in datasets])
    k = int(np.argmin(np.abs(z - float(np.dot(normal, centre)))))
    d = datasets[k]
    if d.SOPInstanceUID not in boxes:
        return False, k
    ipp = np.array([float(v) for v in d.ImagePositionPatient])
    row = np.array([float(v) for v in d.ImageOrientationPatient[:3]])
    col = np.array([float(v) for v in d.ImageOrientationPatient[3:]])
    sy, sx = (float(v) for v in d.PixelSpacing)
    # pixel index of the centre; box coordinates count pixels from 0 at the first one
    x = (np.asarray(centre) - ipp) @ row / sx
    y = (np.asarray(centre) - ipp) @ col / sy
    for b in boxes[d.SOPInstanceUID]:
        if b[0] - 1 <= x <= b[2] + 1 and b[1] - 1 <= y <= b[3] + 1:
            return True, k
    return False, k


# ---- FROC ----------------------------------------------------------------------------------


def froc(scores_tp, scores_fp, n_truth, n_scans):
    """@scores_tp: for every true nodule its best detection's score (None:
    never detected); @scores_fp: every false positive's score. Returns the
    sensitivity at each of FP_RATES, their mean (CPM) and the curve."""
    fp = np.sort(np.asarray(scores_fp, float))[::-1]
    tp = np.asarray([s for s in scores_tp if s is not None], float)
    thresholds = np.unique(np.concatenate([tp, fp, [np.inf]]))[::-1]
    curve = []
    for t in thresholds:
        sens = float(np.sum(tp >= t)) / max(n_truth, 1)
        rate = float(np.sum(fp >= t)) / max(n_scans, 1)
        curve.append((rate, sens, float(t)))
    points = []
    for r in FP_RATES:
        best = 0.0
        for rate, sens, _ in curve:
            if rate <= r:
                best = max(best, sens)
        points.append(best)
    return points, float(np.mean(points)), curve


def threshold_at(curve, rate):
    """The lowest score threshold whose FP rate stays at or below @rate."""
    best = math.inf
    for r, _, t in curve:
        if r <= rate:
            best = min(best, t)
    return best


def size_bin(d):
    for lo, hi in SIZE_BINS:
        if lo <= d < hi:
            return "%g-%g mm" % (lo, min(hi, 30))
    return "other"
