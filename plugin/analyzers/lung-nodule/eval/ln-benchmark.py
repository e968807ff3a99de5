#!/usr/bin/python3
"""Time the lung-nodule analyzer on a 512 x 512 x 300 chest CT, on one core.

The volume is made from the real chest CT in ../shared/data (its 64 slices of
5 mm resampled to 300 slices of about 1.05 mm, with noise added back where
interpolation averaged it away), or, without the shared data, from the
project's phantom (ln-phantom.py). It is written as DICOM to a temporary folder and
analysed by `preread analyze` pinned to one core (taskset -c CPU), as the
gateway would run it. Reported: wall time around the whole command, the
runner's own time and peak memory (its "in X s (peak memory Y MB)" line), and
the CPU time (user + system, /usr/bin/time: the figure a busy shared machine
does not inflate much) and maximum resident set, and the machine's load
average, because other processes on a shared machine slow a run down.

    ln-benchmark.py [--preread BIN] [--module SO] [--runs 3] [--cpu 0]
                    [--source SERIES_DIR | --phantom] [--keep DIR] [--json OUT]

Needs python3 with numpy and pydicom, and taskset (util-linux).
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
DEFAULT_SOURCE = os.path.join(SRCDIR, "..", "shared", "data", "ct", "lung-pet-ct-dx-A0001", "images",
                              "04-04-2007-NA-Chest-07990", "2.000000-5mm-40805")


def uid(*parts):
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def read_series(folder):
    datasets = [pydicom.dcmread(f) for f in sorted(glob.glob(os.path.join(folder, "*.dcm")))]
    datasets.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    hu = np.stack([d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept)
                   for d in datasets])
    return datasets, hu


def make_from_ct(source, out, slices, seed):
    """Resamples the series along z to @slices slices, written to @out."""
    datasets, hu = read_series(source)
    z = np.array([float(d.ImagePositionPatient[2]) for d in datasets])
    rng = np.random.default_rng(seed)
    # Noise of the original: the spread of a pixel minus its 4 neighbours' mean, in the body.
    mid = hu[len(hu) // 2]
    lap = mid[1:-1, 1:-1] - 0.25 * (mid[:-2, 1:-1] + mid[2:, 1:-1] + mid[1:-1, :-2] + mid[1:-1, 2:])
    body = mid[1:-1, 1:-1] > -500
    sigma0 = float(np.median(np.abs(lap[body]))) / 0.6745 / np.sqrt(1.25)
    new_z = np.linspace(z[0], z[-1], slices)
    spacing = float(new_z[1] - new_z[0])
    series_uid = uid("ln-benchmark", source, slices, "series")
    for k, zk in enumerate(new_z):
        i = min(int(np.searchsorted(z, zk, side="right")) - 1, len(z) - 2)
        w = float((zk - z[i]) / (z[i + 1] - z[i]))
        w = min(max(w, 0.0), 1.0)
        plane = (1 - w) * hu[i] + w * hu[i + 1]
        lost = max(0.0, 1.0 - (1 - w) ** 2 - w ** 2)
        plane += rng.normal(0.0, sigma0 * np.sqrt(lost), plane.shape).astype(np.float32)
        ds = datasets[i if w < 0.5 else i + 1].copy()
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        stored = np.clip(np.round((plane - intercept) / slope), 0, 4095).astype(np.uint16)
        ds.PixelRepresentation = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelData = stored.tobytes()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = uid("ln-benchmark", source, slices, k)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        ds.SeriesDescription = "benchmark %d x %.2f mm" % (slices, spacing)
        ds.SliceThickness = "%.3f" % spacing
        ds.ImagePositionPatient = [float(ds.ImagePositionPatient[0]), float(ds.ImagePositionPatient[1]), float(zk)]
        ds.SliceLocation = float(zk)
        pydicom.dcmwrite(os.path.join(out, "b%04d.dcm" % k), ds, write_like_original=False)
    return {"source": os.path.abspath(source), "slices": slices, "spacing_mm": round(spacing, 4),
            "noise_hu": round(sigma0, 1)}


def make_phantom(out, slices):
    tool = os.path.join(HERE, "ln-phantom.py")
    subprocess.run([sys.executable, tool, "--out", out, "--size", "512", "--pixel-spacing", "0.7", "--thickness", "1.0",
                    "--length", str(slices), "--vessels", "30", "--nodule=-70,0,-150,8,40"],
                   check=True, stdout=subprocess.DEVNULL)
    return {"source": "ln-phantom.py", "slices": slices, "spacing_mm": 1.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preread", default=os.environ.get("PREREAD_BINARY", "preread"))
    ap.add_argument("--module", default="lung-nodule")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu", default="0")
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--source", default=DEFAULT_SOURCE)
    ap.add_argument("--phantom", action="store_true", help="use the phantom generator, not the real CT")
    ap.add_argument("--keep", help="write the volume here and keep it")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="ln-benchmark-")
    os.makedirs(work, exist_ok=True)
    try:
        if glob.glob(os.path.join(work, "*.dcm")):
            made = {"source": "existing files in " + work}
        elif not args.phantom and os.path.isdir(args.source):
            made = make_from_ct(args.source, work, args.slices, 1)
        else:
            made = make_phantom(work, args.slices)
        print("volume: %s" % json.dumps(made), flush=True)
        runs = []
        for r in range(args.runs):
            load = os.getloadavg()[0]
            start = time.monotonic()
            proc = subprocess.run(["/usr/bin/time", "-f", "ln-benchmark-time %U %S %M", "taskset", "-c", args.cpu,
                                   args.preread, "analyze", "--analyzer", args.module, "--timeout", "600", work],
                                  capture_output=True, text=True)
            wall = time.monotonic() - start
            m = re.search(r"in ([0-9.]+) s \(peak memory ([0-9.]+)\s*MB\)", proc.stderr)
            t = re.search(r"ln-benchmark-time ([0-9.]+) ([0-9.]+) ([0-9]+)", proc.stderr)
            a = re.search(r"in ([0-9.]+) s; study Lung-RADS", proc.stderr)
            run = {"run": r + 1, "exit": proc.returncode, "wall_s": round(wall, 2),
                   "runner_s": float(m.group(1)) if m else None, "peak_mb": float(m.group(2)) if m else None,
                   "cpu_s": round(float(t.group(1)) + float(t.group(2)), 2) if t else None,
                   "user_s": float(t.group(1)) if t else None, "sys_s": float(t.group(2)) if t else None,
                   "max_rss_mb": round(int(t.group(3)) / 1024.0, 1) if t else None,
                   "load_before": round(load, 2)}
            try:
                doc = json.loads(proc.stdout)
                run["findings"] = len(doc.get("findings", []))
                run["summary"] = doc.get("summary")
            except ValueError:
                run["stderr"] = proc.stderr[-500:]
            runs.append(run)
            print("run %d: exit %d, wall %.2f s, cpu %s s (user %s, sys %s), runner %s s, peak %s MB (max RSS %s MB), "
                  "load %.2f, %s" % (r + 1, proc.returncode, wall, run["cpu_s"], run["user_s"], run["sys_s"],
                                     run["runner_s"], run["peak_mb"], run["max_rss_mb"], load, run.get("summary")),
                  flush=True)
        cpus = sorted(r["cpu_s"] for r in runs if r["cpu_s"] is not None)
        walls = sorted(r["wall_s"] for r in runs)
        peaks = [r["peak_mb"] for r in runs if r["peak_mb"] is not None]
        result = {"volume": made, "runs": runs, "wall_median_s": walls[len(walls) // 2], "wall_min_s": walls[0],
                  "cpu_median_s": cpus[len(cpus) // 2] if cpus else None,
                  "peak_mb_max": max(peaks) if peaks else None, "cpu": args.cpu}
        print("median wall %.2f s (min %.2f s), median cpu %s s, peak memory %s MB, one core (cpu %s)" % (
            result["wall_median_s"], result["wall_min_s"], result["cpu_median_s"], result["peak_mb_max"], args.cpu))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        return 0 if all(r["exit"] == 0 for r in runs) else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
