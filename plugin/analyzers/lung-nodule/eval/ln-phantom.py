#!/usr/bin/python3
"""Make a synthetic chest CT with lung nodules of known position and size.

The lung-nodule analyzer's own test runs on this, never on patient data:

    ln-phantom.py --out DIR [--seed N] [--size 256] [--pixel-spacing 1.4]
                  [--thickness 2.5] [--length 200] [--kernel LUNG]
                  [--body-part CHEST] [--no-lungs]
                  [--nodule X,Y,Z,DIAMETER,HU ...]   (patient mm, LPS; mm; HU)

What it draws, in Hounsfield units:
  - a body (an elliptic cylinder of soft tissue, +40 HU, in a 12 mm layer of
    fat, -100 HU) in air, with a spine (+400 HU) behind and a mediastinum;
  - two lungs (ellipsoids of parenchyma, -850 HU), fully inside the scanned
    length unless the length is made shorter, and a trachea (air) down the
    midline in the upper part;
  - vessels: tubes of 1-4 mm diameter (+40 HU) out from each hilum,
    tapering, drawn with partial volume and kept 4 mm away from the nodules,
    so that the detector meets the usual false candidates;
  - nodules: balls (solid above -300 HU, ground glass below) drawn with
    partial volume (each voxel's occupancy, sampled 4 x 4 x 4), then noise
    (white, 18 HU, blurred by half a pixel) over everything.

With --no-lungs the body is solid tissue (an abdomen-like phantom): the
analyzer must decline it. --body-part names BodyPartExamined (HEAD: the
analyzer must decline by the description alone).

Prints one JSON line: the series folder, the study UID and, per nodule, its
centre (patient mm), diameter, density, the Lung-RADS v2022 category a
baseline screening would give it, and the slices (index, SOP Instance UID)
it crosses. Needs python3 with numpy and pydicom only.
"""

import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian


def uid(*parts):
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def lungrads(diameter, hu):
    d = round(diameter, 1)
    if hu >= -300:
        return "2" if d < 6 else "3" if d < 8 else "4A" if d < 15 else "4B"
    return "2" if d < 30 else "3"


def occupancy_ball(X, Y, Z, c, r, sx, sz):
    """Fraction of each voxel (centres X, Y, Z; size sx, sx, sz) inside the
    ball (centre c, radius r), sampled 4 x 4 x 4."""
    occ = np.zeros(X.shape, np.float32)
    offs = (np.arange(4) + 0.5) / 4 - 0.5
    for oz in offs:
        for oy in offs:
            for ox in offs:
                d2 = (X + ox * sx - c[0]) ** 2 + (Y + oy * sx - c[1]) ** 2 + (Z + oz * sz - c[2]) ** 2
                occ += d2 <= r * r
    return occ / 64.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--pixel-spacing", type=float, default=1.4)
    ap.add_argument("--thickness", type=float, default=2.5)
    ap.add_argument("--length", type=float, default=200.0, help="scanned length, mm")
    ap.add_argument("--kernel", default="LUNG")
    ap.add_argument("--body-part", default="CHEST")
    ap.add_argument("--description", default=None, help="StudyDescription (default: from the body part)")
    ap.add_argument("--no-lungs", action="store_true")
    ap.add_argument("--vessels", type=int, default=10, help="vessel trees' branches per lung")
    ap.add_argument("--nodule", action="append", default=[], help="X,Y,Z,DIAMETER,HU (patient mm, LPS)")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    n, sx, sz = args.size, args.pixel_spacing, args.thickness
    nz = int(round(args.length / sz))
    fov = n * sx
    # voxel centres in patient mm: x left, y posterior, z superior (slice 0 at the top)
    xs = -0.5 * fov + (np.arange(n) + 0.5) * sx
    zs = -(np.arange(nz) + 0.5) * sz
    Z, Y, X = np.meshgrid(zs, xs, xs, indexing="ij")
    zc = 0.5 * (zs[0] + zs[-1])
    half_len = 0.5 * (zs[0] - zs[-1])

    hu = np.full(X.shape, -1000.0, np.float32)
    body = (X / 165.0) ** 2 + (Y / 115.0) ** 2 <= 1.0
    inner = (X / 153.0) ** 2 + (Y / 103.0) ** 2 <= 1.0
    hu[body] = -100.0
    hu[inner] = 40.0
    spine = (X / 16.0) ** 2 + ((Y - 75.0) / 16.0) ** 2 <= 1.0
    hu[spine] = 400.0

    nodules = []
    for text in args.nodule:
        x, y, z, diameter, density = (float(v) for v in text.split(","))
        nodules.append((np.array([x, y, z]), diameter))

    if not args.no_lungs:
        # lungs: ellipsoids, 85 % of the scanned length, beside the mediastinum
        lz = 0.85 * half_len
        for side in (-1, 1):
            cx = side * 72.0
            e = ((X - cx) / 55.0) ** 2 + ((Y + 5.0) / 78.0) ** 2 + ((Z - zc) / lz) ** 2
            hu[e <= 1.0] = -850.0
        # trachea: the midline, upper 40 % of the lungs
        trachea = (X ** 2 + (Y + 25.0) ** 2 <= 9.0 ** 2) & (Z > zc + 0.2 * lz)
        wall = (X ** 2 + (Y + 25.0) ** 2 <= 11.0 ** 2) & (Z > zc + 0.2 * lz) & ~trachea
        hu[wall] = 40.0
        hu[trachea] = -1000.0
        # vessels: tapering random walks out of each hilum, drawn as balls along them
        for side in (-1, 1):
            hilum = np.array([side * 35.0, 0.0, zc])
            for b in range(args.vessels):
                p = hilum + rng.normal(0, 4.0, 3)
                d = np.array([side * 1.0, rng.uniform(-0.8, 0.8), rng.uniform(-0.9, 0.9)])
                d /= np.linalg.norm(d)
                r = rng.uniform(1.2, 2.0)
                for step in range(60):
                    lo = np.floor((p - r - 1.0 - np.array([xs[0], xs[0], 0])) / sx).astype(int)
                    ix0, iy0 = max(lo[0], 0), max(lo[1], 0)
                    ix1, iy1 = min(ix0 + int(2 * (r + 1) / sx) + 3, n), min(iy0 + int(2 * (r + 1) / sx) + 3, n)
                    kz0 = max(int(math.floor((zs[0] - (p[2] + r + 1)) / sz)), 0)
                    kz1 = min(int(math.ceil((zs[0] - (p[2] - r - 1)) / sz)) + 1, nz)
                    clear = all(np.linalg.norm(p - q) > r + 0.5 * dq + 4.0 for q, dq in nodules)
                    if ix0 < ix1 and iy0 < iy1 and kz0 < kz1 and clear:
                        sub = (slice(kz0, kz1), slice(iy0, iy1), slice(ix0, ix1))
                        occ = occupancy_ball(X[sub], Y[sub], Z[sub], p, r, sx, sz)
                        hu[sub] = np.maximum(hu[sub], -850.0 + occ * 890.0)
                    p = p + d * 1.5
                    d = d + rng.normal(0, 0.08, 3)
                    d /= np.linalg.norm(d)
                    r = max(0.45, r * 0.975)
                    # stop when leaving the lung
                    e = ((p[0] - side * 72.0) / 55.0) ** 2 + ((p[1] + 5.0) / 78.0) ** 2 + ((p[2] - zc) / lz) ** 2
                    if e > 0.85:
                        break

    truths = []
    for text in args.nodule:
        x, y, z, diameter, density = (float(v) for v in text.split(","))
        r = 0.5 * diameter
        c = (x, y, z)
        ix = np.nonzero(np.abs(xs - x) <= r + 2 * sx)[0]
        iy = np.nonzero(np.abs(xs - y) <= r + 2 * sx)[0]
        iz = np.nonzero(np.abs(zs - z) <= r + 2 * sz)[0]
        sub = (slice(iz[0], iz[-1] + 1), slice(iy[0], iy[-1] + 1), slice(ix[0], ix[-1] + 1))
        occ = occupancy_ball(X[sub], Y[sub], Z[sub], c, r, sx, sz)
        hu[sub] = hu[sub] * (1 - occ) + density * occ
        truths.append({"centre_mm": [x, y, z], "diameter_mm": diameter, "hu": density,
                       "type": "solid" if density >= -300 else "ground-glass",
                       "lungrads": lungrads(diameter, density),
                       "slice": int(np.argmin(np.abs(zs - z))),
                       "slices": [int(k) for k in np.nonzero(np.abs(zs - z) < r)[0]]})

    noise = rng.normal(0, 18.0, hu.shape).astype(np.float32)
    k = np.array([0.25, 0.5, 0.25], np.float32)
    noise = 1.6 * (noise * k[1] + np.roll(noise, 1, 2) * k[0] + np.roll(noise, -1, 2) * k[2])
    hu += noise

    os.makedirs(args.out, exist_ok=True)
    tag = "%s/%d/%s" % (args.body_part, args.seed, ";".join(args.nodule))
    study_uid, series_uid, frame_uid = uid("ln-phantom", tag, "study"), uid("ln-phantom", tag, "series"), \
        uid("ln-phantom", tag, "frame")
    description = args.description if args.description is not None else "CT %s SYNTHETIC" % args.body_part
    stored = np.clip(np.round(hu + 1024.0), 0, 4095).astype(np.uint16)
    for k in range(nz):
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = uid("ln-phantom", tag, "instance", k)
        ds.StudyDate = ds.SeriesDate = "20260101"
        ds.StudyTime = "090000"
        ds.AccessionNumber = "LNPH%d" % args.seed
        ds.Modality = "CT"
        ds.Manufacturer = "preread lung-nodule phantom"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = description
        ds.SeriesDescription = "AXIAL %.1f mm" % sz
        ds.PatientName = "Phantom^Lung"
        ds.PatientID = "LNPHANTOM%d" % args.seed
        ds.PatientBirthDate = "19600101"
        ds.PatientSex = "O"
        if args.body_part:
            ds.BodyPartExamined = args.body_part
        ds.SliceThickness = "%.2f" % sz
        ds.KVP = "120"
        ds.ConvolutionKernel = args.kernel
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(xs[0]), float(xs[0]), float(zs[k])]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = float(zs[k])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ds.Columns = n
        ds.PixelSpacing = [sx, sx]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.WindowCenter = "-600"
        ds.WindowWidth = "1500"
        ds.PixelData = stored[k].tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = uid("ln-phantom", "implementation")
        ds.file_meta = meta
        ds.is_little_endian, ds.is_implicit_VR = True, False
        pydicom.dcmwrite(os.path.join(args.out, "ph%04d.dcm" % (k + 1)), ds, write_like_original=False)
    for t in truths:
        t["slice_uids"] = [uid("ln-phantom", tag, "instance", k) for k in t["slices"]]
    print(json.dumps({"out": args.out, "study_uid": study_uid, "slices": nz, "slice_spacing_mm": sz,
                      "nodules": truths}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
