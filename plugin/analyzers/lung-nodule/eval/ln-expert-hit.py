#!/usr/bin/python3
"""Whether a findings document hits the expert tumour boxes of a real CT.

    ln-expert-hit.py --findings FINDINGS.json --study STUDY_DIR --boxes BOXES_DIR

The study folder holds one or more series (one folder each); the boxes are
PASCAL-VOC XML files, one per slice, named by the slice's SOP Instance UID
(the layout of ../shared/data/ct/*/boxes). A reported nodule hits when its 3D
centre, on the slice of the series it was read on nearest to it, lies inside
a box of that slice (ln_eval_common.in_box, as ln-froc.py --expert scores).
The series read is the one holding the nodule's key-slice image.

Prints one JSON line: {"found": bool, "boxed_slices": n, "reported": n,
"hit": {the most confident hitting nodule} or null, "others": n}.
Needs python3 with numpy and pydicom.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ln_eval_common as C  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--findings", required=True)
    ap.add_argument("--study", required=True)
    ap.add_argument("--boxes", required=True)
    args = ap.parse_args()
    with open(args.findings) as f:
        doc = json.load(f)
    nodules = C.nodules_of(doc.get("findings", []))
    boxes = C.load_boxes(args.boxes)
    series = {}
    for root, _, files in os.walk(args.study):
        if any(f.endswith(".dcm") for f in files):
            ds = C.series_geometry(root)
            series[root] = (ds, set(d.SOPInstanceUID for d in ds))
    hits = []
    for n in nodules:
        for ds, uids in series.values():
            if n.get("sop") in uids:
                hit, k = C.in_box(n["centre"], ds, boxes)
                if hit:
                    hits.append(n)
    boxed = sum(1 for ds, uids in series.values() for u in uids if u in boxes)
    best = max(hits, key=lambda n: n.get("confidence", 0)) if hits else None
    print(json.dumps({"found": best is not None, "boxed_slices": boxed, "reported": len(nodules), "hit": best,
                      "others": len(nodules) - len(hits)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
