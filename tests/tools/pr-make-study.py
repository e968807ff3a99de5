#!/usr/bin/python3
"""Write a synthetic DICOM study for tests and benchmarks.

The project's own tests run on data the project makes, never on committed
images. This writes a CT-like study (a body phantom with lungs, in Hounsfield
units) as DICOM Part 10 files, one file per slice, with reproducible UIDs.

    pr-make-study.py --out DIR [--slices 300] [--size 512] [--series 1]
                     [--transfer-syntax explicit|implicit|big|deflated]
                     [--seed TEXT] [--patient-id ID] [--patient-name NAME]
                     [--sop-uid UID]   (hostile tests: force this UID on the first slice)
                     [--study-uid UID] (hostile tests: force this Study Instance UID)

Prints the study instance UID on stdout.
"""

import argparse
import hashlib
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

SYNTAXES = {
    "explicit": ExplicitVRLittleEndian,
    "implicit": ImplicitVRLittleEndian,
    "big": ExplicitVRBigEndian,
    "deflated": DeflatedExplicitVRLittleEndian,
}


def uid(seed, *parts):
    """A valid, reproducible UID under the 2.25 (UUID-derived) root."""
    digest = hashlib.sha256("/".join((seed,) + tuple(str(p) for p in parts)).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def phantom(size, z, slices, rng):
    """One axial slice of a chest-like phantom, in HU."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    img = np.full((size, size), -1000.0, dtype=np.float32)  # air
    body = ((x - c) / (0.42 * size)) ** 2 + ((y - c) / (0.32 * size)) ** 2 <= 1.0
    img[body] = 40.0  # soft tissue
    t = z / max(slices - 1, 1)
    lung_r = 0.16 * size * (0.6 + 0.4 * np.sin(np.pi * t))
    for side in (-1, 1):
        lung = ((x - c - side * 0.19 * size) / lung_r) ** 2 + ((y - c) / (1.3 * lung_r)) ** 2 <= 1.0
        img[lung] = -850.0
    spine = (x - c) ** 2 + (y - c - 0.22 * size) ** 2 <= (0.05 * size) ** 2
    img[spine] = 700.0
    img += rng.normal(0.0, 12.0, img.shape).astype(np.float32)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--slices", type=int, default=20)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--series", type=int, default=1)
    ap.add_argument("--transfer-syntax", choices=sorted(SYNTAXES), default="explicit")
    ap.add_argument("--seed", default="preread-test")
    ap.add_argument("--patient-id", default="PR-TEST-0001")
    ap.add_argument("--patient-name", default="Test^Synthetic")
    ap.add_argument("--sop-uid", default=None)
    ap.add_argument("--study-uid", default=None)
    ap.add_argument("--thickness", type=float, default=1.25)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(int(hashlib.sha256(args.seed.encode()).hexdigest()[:8], 16))
    ts = SYNTAXES[args.transfer_syntax]
    study_uid = args.study_uid or uid(args.seed, "study")
    frame_uid = uid(args.seed, "frame")

    for s in range(args.series):
        series_uid = uid(args.seed, "series", s)
        for z in range(args.slices):
            hu = phantom(args.size, z, args.slices, rng)
            stored = np.clip(hu + 1024.0, 0, 4095).astype(np.uint16)

            ds = Dataset()
            ds.SpecificCharacterSet = "ISO_IR 100"
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.SOPClassUID = CTImageStorage
            sop_uid = uid(args.seed, "instance", s, z)
            if args.sop_uid is not None and s == 0 and z == 0:
                sop_uid = args.sop_uid
            ds.SOPInstanceUID = sop_uid
            ds.StudyDate = "20261101"
            ds.SeriesDate = "20261101"
            ds.StudyTime = "101500"
            ds.AccessionNumber = "ACC" + hashlib.sha256(args.seed.encode()).hexdigest()[:8].upper()
            ds.Modality = "CT"
            ds.Manufacturer = "preread test phantom"
            ds.ReferringPhysicianName = ""
            ds.StudyDescription = "CT CHEST SYNTHETIC"
            ds.SeriesDescription = "AXIAL %.2fmm #%d" % (args.thickness, s + 1)
            ds.PatientName = args.patient_name
            ds.PatientID = args.patient_id
            ds.PatientBirthDate = "19600101"
            ds.PatientSex = "O"
            ds.BodyPartExamined = "CHEST"
            ds.SliceThickness = "%.2f" % args.thickness
            ds.KVP = "120"
            ds.ConvolutionKernel = "LUNG"
            ds.PatientPosition = "HFS"
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.StudyID = "1"
            ds.SeriesNumber = s + 1
            ds.InstanceNumber = z + 1
            ds.ImagePositionPatient = [-0.5 * args.size * 0.7, -0.5 * args.size * 0.7, -z * args.thickness]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.FrameOfReferenceUID = frame_uid
            ds.PositionReferenceIndicator = ""
            ds.SliceLocation = -z * args.thickness
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows = args.size
            ds.Columns = args.size
            ds.PixelSpacing = [0.7, 0.7]
            ds.BitsAllocated = 16
            ds.BitsStored = 12
            ds.HighBit = 11
            ds.PixelRepresentation = 0
            ds.RescaleIntercept = "-1024"
            ds.RescaleSlope = "1"
            ds.WindowCenter = "-600"
            ds.WindowWidth = "1500"
            ds.PixelData = stored.tobytes()

            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = ds.SOPClassUID
            meta.MediaStorageSOPInstanceUID = sop_uid
            meta.TransferSyntaxUID = ts
            meta.ImplementationClassUID = uid("preread-test-generator", "implementation")
            ds.file_meta = meta
            ds.is_little_endian = ts != ExplicitVRBigEndian
            ds.is_implicit_VR = ts == ImplicitVRLittleEndian
            if ts == ExplicitVRBigEndian:
                ds.PixelData = stored.byteswap().tobytes()
            name = os.path.join(args.out, "s%02d-%04d.dcm" % (s + 1, z + 1))
            pydicom.dcmwrite(name, ds, write_like_original=False)

    print(study_uid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
