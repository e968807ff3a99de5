#!/usr/bin/python3
"""Makes a synthetic dermoscopy-like photo as a DICOM VL Photographic image.

A lesion of known shape on skin-coloured background, with what real photos
have: vignetting, uneven light, noise, and hair lines crossing the lesion.
The lesion's outline is an irregular blob r(theta) = R (1 + a3 sin(3 theta)
+ a5 sin(5 theta)); its pixels are written to a PGM mask so that a test can
compare the analyzer's outline with the truth.

  --kind typical   one brown, symmetric-ish lesion, soft pigment fall-off
  --kind atypical  asymmetric, several colours (black, dark brown, light
                   brown, blue-gray, a white patch), abrupt border
  --kind skin      no lesion at all

The photo is written as a 24-bit BMP and wrapped with DCMTK's img2dcm
(which reads BMP and JPEG; no PIL needed). Prints a JSON line: the mask
path, the lesion's pixel count, its maximum diameter in pixels.

  sl-make-photo.py --out photo.dcm --mask truth.pgm [--seed 1] [--size 600x450]
                   [--kind typical] [--pixel-spacing 0.02]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np


def write_bmp(path, rgb):
    h, w, _ = rgb.shape
    row = (w * 3 + 3) & ~3
    data = bytearray()
    for y in range(h - 1, -1, -1):          # bottom-up
        line = rgb[y, :, ::-1].astype(np.uint8).tobytes()   # BGR
        data += line + b'\0' * (row - w * 3)
    header = struct.pack('<2sIHHI', b'BM', 54 + len(data), 0, 0, 54)
    info = struct.pack('<IiiHHIIiiII', 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    open(path, 'wb').write(header + info + bytes(data))


def blob(w, h, rng, radius, irregular):
    cx = w / 2 + rng.uniform(-0.05, 0.05) * w
    cy = h / 2 + rng.uniform(-0.05, 0.05) * h
    a3, a5 = (0.14, 0.07) if irregular else (0.05, 0.02)
    p3, p5 = rng.uniform(0, 2 * np.pi, 2)
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    theta = np.arctan2(yy - cy, xx - cx)
    r = radius * (1 + a3 * np.sin(3 * theta + p3) + a5 * np.sin(5 * theta + p5))
    dist = np.hypot(xx - cx, yy - cy)
    return dist, r, theta, cx, cy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--mask')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--size', default='600x450')
    ap.add_argument('--kind', choices=['typical', 'atypical', 'skin'], default='typical')
    ap.add_argument('--pixel-spacing', type=float)
    ap.add_argument('--patient-id', default='SL-SYNTH-0001')
    args = ap.parse_args()
    w, h = map(int, args.size.split('x'))
    rng = np.random.default_rng(args.seed)
    side = min(w, h)

    # Skin with uneven light and vignetting.
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    u, v = (xx - w / 2) / (max(w, h) / 2), (yy - h / 2) / (max(w, h) / 2)
    light = (1 + 0.08 * u - 0.05 * v) * (1 - 0.30 * (u * u + v * v))
    skin = np.array([226.0, 176.0, 162.0])
    img = skin[None, None, :] * light[:, :, None]

    truth = np.zeros((h, w), bool)
    if args.kind != 'skin':
        dist, r, theta, cx, cy = blob(w, h, rng, 0.27 * side, args.kind == 'atypical')
        truth = dist <= r
        edge = 1.5 if args.kind == 'atypical' else 4.0      # pigment fall-off, pixels
        alpha = np.clip(0.5 - (dist - r) / (2 * edge), 0, 1)
        depth = np.clip(1 - dist / r, 0, 1)
        if args.kind == 'typical':
            colour = np.array([150.0, 95.0, 70.0])[None, None, :] * (1 - 0.25 * depth[:, :, None])
        else:
            colour = np.zeros((h, w, 3))
            half = np.cos(theta) > 0.2                        # asymmetric: one side much darker
            colour[:] = [175.0, 120.0, 85.0]                  # light brown
            colour[half] = [95.0, 60.0, 45.0]                 # dark brown
            colour[half & (depth > 0.45)] = [35.0, 28.0, 30.0]       # black
            bluegray = (~half) & (depth > 0.35) & (np.sin(theta) > 0)
            colour[bluegray] = [105.0, 115.0, 130.0]          # blue-gray
            white = (~half) & (depth > 0.5) & (np.sin(theta) <= 0)
            colour[white] = [240.0, 228.0, 226.0]             # white (regression)
            # a few dark dots
            for _ in range(12):
                a, d = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.8)
                px, py = cx + d * 0.27 * side * np.cos(a), cy + d * 0.27 * side * np.sin(a)
                colour[np.hypot(xx - px, yy - py) < 2.5] = [40.0, 30.0, 30.0]
        colour = colour * light[:, :, None]
        img = img * (1 - alpha[:, :, None]) + colour * alpha[:, :, None]

    # Hair: a few dark curved lines, some across the lesion.
    for k in range(5):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, np.pi)
        bend = rng.uniform(-0.002, 0.002)
        t = np.linspace(-1.2 * max(w, h), 1.2 * max(w, h), 6000)
        hx = x0 + t * np.cos(angle)
        hy = y0 + t * np.sin(angle) + bend * t * t
        ok = (hx >= 0) & (hx < w) & (hy >= 0) & (hy < h)
        hair = np.zeros((h, w), bool)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                xs = np.clip((hx[ok] + dx).astype(int), 0, w - 1)
                ys = np.clip((hy[ok] + dy).astype(int), 0, h - 1)
                hair[ys, xs] = True
        img[hair] = [45.0, 35.0, 30.0]

    img = np.clip(img + rng.normal(0, 3.0, img.shape), 0, 255)
    with tempfile.TemporaryDirectory() as tmp:
        bmp = os.path.join(tmp, 'photo.bmp')
        write_bmp(bmp, img)
        cmd = ['img2dcm', '-q', '-i', 'BMP', '--vl-photo', '-k', 'PatientID=' + args.patient_id,
               '-k', 'PatientName=Synthetic^Skin', '-k', 'Modality=XC']
        if args.pixel_spacing:
            cmd += ['-k', 'PixelSpacing=%g\\%g' % (args.pixel_spacing, args.pixel_spacing)]
        subprocess.run(cmd + [bmp, args.out], check=True)
    if args.mask:
        with open(args.mask, 'wb') as f:
            f.write(b'P5 %d %d 255\n' % (w, h))
            f.write((truth * 255).astype(np.uint8).tobytes())
    ys, xs = np.nonzero(truth)
    diameter = 0.0
    if len(xs):
        pts = np.stack([xs, ys], 1)[::max(1, len(xs) // 3000)]
        diameter = float(np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)).max()) + 1
    print(json.dumps({'mask': args.mask, 'pixels': int(truth.sum()), 'diameter_px': round(diameter, 1)}))


if __name__ == '__main__':
    main()
