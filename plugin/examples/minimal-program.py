#!/usr/bin/python3
"""minimal-program.py: the smallest preread analyzer written as a program.

Any language works: preread runs the program as

    minimal-program.py --job JOB-FOLDER

with JOB-FOLDER/job.json describing the study (plugin/JOB-FOLDER.md), and
reads back the findings document it writes to job["findings_file"]
(plugin/FINDINGS.md). Lines "progress FRACTION MESSAGE" on stdout are its
heartbeat. This one reports, per series, how many instances it has, and,
when the analyzer is configured with inputs="volumes", the brightest voxel
of each decoded volume. Standard library only.
"""

import argparse
import array
import json
import os
import sys


def progress(fraction, message):
    print("progress %.3f %s" % (fraction, message), flush=True)


def brightest(volume):
    """Largest value of a float32 little-endian volume file, read in slices."""
    plane = volume["columns"] * volume["rows"] * volume["samples_per_pixel"]
    best = None
    with open(volume["file"], "rb") as f:
        for _ in range(volume["slices"]):
            values = array.array("f")
            values.frombytes(f.read(plane * 4))
            if sys.byteorder != "little":
                values.byteswap()
            top = max(values)
            best = top if best is None else max(best, top)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", required=True, help="the job folder")
    args = parser.parse_args()
    with open(os.path.join(args.job, "job.json"), encoding="utf-8") as f:
        job = json.load(f)
    if job.get("schema") != "preread-job/1":
        print("unsupported job schema %r" % job.get("schema"), file=sys.stderr)
        return 1

    findings = []
    series = job["series"]
    for i, s in enumerate(series):
        text = "%d instance(s)" % len(s["instances"])
        finding = {
            "type": {"scheme": "99PREREAD", "value": "series-count", "meaning": "Series inventory"},
            "text": text,
        }
        if "volume" in s:
            value = brightest(s["volume"])
            finding["measurements"] = [{
                "concept": {"scheme": "99PREREAD", "value": "max-value", "meaning": "Maximum pixel value"},
                "value": value,
                "unit": "1",
            }]
        findings.append(finding)
        progress((i + 1) / len(series), "series %d of %d" % (i + 1, len(series)))

    document = {
        "schema": "preread-findings/1",
        "status": "done" if series else "declined",
        "message": None if series else "no series",
        "priority": "routine",
        "summary": "%d series looked at" % len(series),
        "findings": findings,
    }
    # Write then rename: preread must never read half a document.
    target = job["findings_file"]
    with open(target + ".tmp", "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2)
    os.replace(target + ".tmp", target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
