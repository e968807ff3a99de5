#!/usr/bin/python3
"""End to end: a chest CT through the gateway to a real PACS (Orthanc).

    ln-e2e.py --preread BIN --analyzer-path DIR [--study DIR] [--work DIR]
              [--config conf/examples/chest-ct-lung-screening.xml]

Starts Orthanc (Debian package orthanc) on free loopback ports with its own
storage, and `preread serve` with the example configuration's analyzers and
routes unchanged; only the node (storage folder, loopback, a free port, no
calling-AE allow-list) and the peer "pacs" (the Orthanc just started) are
replaced so that it runs on one machine. Sends the study with `preread send`,
waits until the route's quiet period has passed, the analyzer has run and
the results have arrived in Orthanc, then lists what Orthanc holds for the
study (modality and SOP class per instance, the SR's text) and renders every
secondary capture (the key images with the nodules burned in) to PNG in
WORK/png/. Everything it started is stopped at the end.

Default study: ../shared/data/ct/lung-pet-ct-dx-A0001/images (both series).
Needs python3 with numpy and pydicom, Orthanc, and the preread build.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

import numpy as np
import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
DEFAULT_STUDY = os.path.join(SRCDIR, "..", "shared", "data", "ct", "lung-pet-ct-dx-A0001", "images")
DEFAULT_CONFIG = os.path.join(SRCDIR, "conf", "examples", "chest-ct-lung-screening.xml")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def get(port, path, raw=False):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
        data = r.read()
    return data if raw else json.loads(data)


def derived_config(example, storage, port, pacs_port):
    """The example with the node and the PACS peer made local."""
    with open(example) as f:
        xml = f.read()
    xml = re.sub(r"<node\b.*?</node>",
                 '<node ae-title="PREREAD" bind="127.0.0.1" port="%d" storage="%s" quiet-period="30" '
                 'free-space-reserve-mb="100"/>' % (port, storage), xml, flags=re.S)
    xml = re.sub(r'<peer name="pacs"[^>]*/>',
                 '<peer name="pacs" ae-title="ORTHANC" host="127.0.0.1" port="%d" objects="sr sc gsps"/>' % pacs_port,
                 xml)
    return xml


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preread", default=os.environ.get("PREREAD_BINARY", "preread"))
    ap.add_argument("--analyzer-path", default=os.environ.get("PREREAD_ANALYZER_PATH", ""))
    ap.add_argument("--study", default=DEFAULT_STUDY)
    ap.add_argument("--config", default=DEFAULT_CONFIG)
    ap.add_argument("--work")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="ln-e2e-")
    os.makedirs(work, exist_ok=True)
    procs = []
    try:
        # Orthanc
        odir = os.path.join(work, "orthanc")
        os.makedirs(os.path.join(odir, "db"), exist_ok=True)
        dicom_port, http_port = free_port(), free_port()
        with open(os.path.join(odir, "orthanc.json"), "w") as f:
            json.dump({"Name": "ln-e2e-pacs", "StorageDirectory": os.path.join(odir, "db"),
                       "IndexDirectory": os.path.join(odir, "db"), "DicomAet": "ORTHANC", "DicomPort": dicom_port,
                       "DicomCheckCalledAet": True, "HttpPort": http_port, "HttpServerEnabled": True,
                       "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "Plugins": [],
                       "UnknownSopClassAccepted": True}, f)
        olog = open(os.path.join(odir, "orthanc.log"), "w")
        procs.append(subprocess.Popen(["Orthanc", os.path.join(odir, "orthanc.json")], stdout=olog, stderr=olog,
                                      cwd=odir))
        for _ in range(100):
            try:
                get(http_port, "/system")
                break
            except OSError:
                time.sleep(0.2)
        # preread
        port = free_port()
        storage = os.path.join(work, "storage")
        config = os.path.join(work, "preread.xml")
        with open(config, "w") as f:
            f.write(derived_config(args.config, storage, port, dicom_port))
        env = dict(os.environ)
        if args.analyzer_path:
            env["PREREAD_ANALYZER_PATH"] = args.analyzer_path
        subprocess.run([args.preread, "check-config", config], check=True, stdout=subprocess.DEVNULL, env=env)
        plog = open(os.path.join(work, "preread.log"), "w")
        procs.append(subprocess.Popen([args.preread, "serve", "--config", config, "--http", "off"], env=env,
                                      stdout=plog, stderr=plog))
        time.sleep(1.0)
        start = time.monotonic()
        subprocess.run([args.preread, "send", "-q", "--to", "PREREAD@127.0.0.1:%d" % port, args.study], check=True)
        print("sent %s in %.1f s" % (args.study, time.monotonic() - start), flush=True)
        # wait for the results in Orthanc: an SR, at least one SC, a GSPS
        found = {}
        while time.monotonic() - start < args.timeout:
            time.sleep(5)
            found = {}
            for sid in get(http_port, "/series"):
                s = get(http_port, "/series/%s" % sid)
                found.setdefault(s["MainDicomTags"].get("Modality", "?"), []).extend(s["Instances"])
            if all(m in found for m in ("SR", "PR")) and found.get("OT", found.get("SC")):
                time.sleep(5)  # the rest of the key images
                break
        print("after %.0f s Orthanc holds: %s" % (time.monotonic() - start,
                                                  ", ".join("%s %d" % (m, len(v)) for m, v in sorted(found.items()))))
        pngdir = os.path.join(work, "png")
        os.makedirs(pngdir, exist_ok=True)
        summary = {"orthanc": {m: len(v) for m, v in found.items()}, "key_images": []}
        for modality, instances in sorted(found.items()):
            if modality == "CT":
                continue
            for iid in instances:
                data = get(http_port, "/instances/%s/file" % iid, raw=True)
                path = os.path.join(work, "%s-%s.dcm" % (modality, iid[:8]))
                with open(path, "wb") as f:
                    f.write(data)
                ds = pydicom.dcmread(path)
                print("%s %s %s" % (modality, ds.SOPClassUID.name, getattr(ds, "SeriesDescription", "")))
                if modality == "SR":
                    dump = subprocess.run(["dsrdump", path], capture_output=True, text=True).stdout
                    with open(os.path.join(work, "sr.txt"), "w") as f:
                        f.write(dump)
                if "PixelData" in ds and modality != "CT":
                    a = ds.pixel_array
                    if a.ndim == 2:
                        a = np.stack([a] * 3, -1)
                    a = a.astype(np.uint8) if a.dtype != np.uint8 else a
                    out = os.path.join(pngdir, "%s-%s.png" % (modality, iid[:8]))
                    png(out, np.ascontiguousarray(a))
                    summary["key_images"].append(out)
        with open(os.path.join(work, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
        print("work folder %s" % work)
        return 0
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
