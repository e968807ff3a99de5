#!/usr/bin/python3
"""Insert synthetic lung nodules into a real chest CT series (lesion insertion).

Writes a new DICOM series (new Study, Series and SOP Instance UIDs; same
geometry, Frame of Reference and pixel format) with nodules of known position,
size, density and attachment, and a ground-truth JSON beside it (OUT.truth.json).

    ln-insert.py --series DIR --out DIR [--truth FILE] [--seed N] [--count 12]
                 [--sizes luna16|uniform|D1,D2,...] [--annotations CSV]
                 [--types solid,part-solid,ground-glass] [--attachments ...]
                 [--boxes DIR]

How a nodule is made, and why:
  - shape: an ellipsoid with random orientation and axes within +-8 % of the
    radius, scaled to the requested volume-equivalent diameter, with a soft
    0.25 mm edge;
  - density: solid +50..+100 HU; ground glass -600..-300 HU; part-solid a
    ground-glass nodule with a centred solid core of 30-70 % of its diameter;
  - imaging: the nodule is sampled on a sub-voxel grid (3 x 3 in plane, every
    0.5 mm across the slice thickness), i.e. averaged over each voxel and the
    slice profile, then blurred in plane by the kernel's point spread function
    (Gaussian, 0.5 pixel for a sharp kernel, 0.9 for a soft one);
  - insertion: new = image + f * max(0, density - local mean of the image),
    where f is the imaged occupancy and the local mean is the image smoothed
    by 1 mm: parenchyma is raised to the nodule's density, anything denser
    (a vessel, the chest wall) is left as it is, and the image's own noise
    stays on top, plus a faint texture (15 HU solid, 30 HU ground glass);
  - optionally (--noise, for training) correlated noise over the whole series;
  - placement, reproducible from the seed: isolated nodules where the
    neighbourhood is parenchyma (fewest dense voxels of 40 random tries);
    vessel-attached ones beside a vessel of at least 2 mm, overlapping it;
    juxtapleural ones with their centre 0.4-0.7 radii inside the costal
    pleura, so that they merge with the chest wall. Nodules keep 15 mm apart
    and 25 mm from the expert tumour boxes (--boxes), which the ground truth
    lists as regions to ignore.

The ground truth gives each nodule's centre (patient mm, LPS, and voxel
indices with slices sorted by position), nominal diameter, the axial long and
short axes and mean diameter of the part that is visible (what Lung-RADS would
measure: a juxtapleural nodule's part inside the wall is not), the solid core's
diameter, density, attachment and the expected Lung-RADS v2022 category.
Needs python3 with numpy and pydicom only.
"""

import argparse
import csv
import glob
import hashlib
import json
import math
import os
import re
import sys

import numpy as np
import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
DEFAULT_ANNOTATIONS = os.path.join(SRCDIR, "..", "shared", "data", "annotations", "lidc-luna16",
                                   "luna16_annotations.csv")

TYPES = ("solid", "part-solid", "ground-glass")
ATTACHMENTS = ("isolated", "vessel", "juxtapleural")


def uid(*parts):
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


# ---- the series ----------------------------------------------------------------


class Series:
    def __init__(self, folder):
        files = sorted(glob.glob(os.path.join(folder, "*.dcm"))) or sorted(
            f for f in glob.glob(os.path.join(folder, "*")) if os.path.isfile(f))
        self.datasets = [pydicom.dcmread(f) for f in files]
        normal = np.cross([float(v) for v in self.datasets[0].ImageOrientationPatient[:3]],
                          [float(v) for v in self.datasets[0].ImageOrientationPatient[3:]])
        self.datasets.sort(key=lambda d: float(np.dot(normal, [float(v) for v in d.ImagePositionPatient])))
        d0 = self.datasets[0]
        self.row = np.array([float(v) for v in d0.ImageOrientationPatient[:3]])
        self.col = np.array([float(v) for v in d0.ImageOrientationPatient[3:]])
        self.normal = normal
        self.ipp = np.array([[float(v) for v in d.ImagePositionPatient] for d in self.datasets])
        pos = self.ipp @ normal
        self.dz = float(np.median(np.diff(pos)))
        self.sy, self.sx = (float(v) for v in d0.PixelSpacing)  # row spacing, column spacing
        self.sp = np.array([self.sx, self.sy, self.dz])          # x, y, z
        self.thickness = float(getattr(d0, "SliceThickness", self.dz) or self.dz)
        self.hu = np.stack([d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept)
                            for d in self.datasets])             # z, y, x
        self.kernel = str(getattr(d0, "ConvolutionKernel", "") or "")

    def to_patient(self, v):
        """Voxel (x, y, z) to patient mm."""
        return self.ipp[0] + v[0] * self.sx * self.row + v[1] * self.sy * self.col + v[2] * self.dz * self.normal

    def to_voxel(self, p):
        d = np.asarray(p, float) - self.ipp[0]
        return np.array([d @ self.row / self.sx, d @ self.col / self.sy, d @ self.normal / self.dz])


def sharp_kernel(kernel):
    k = kernel.upper()
    if "LUNG" in k or k in ("L", "YC", "YD") or "BONE" in k or "SHARP" in k:
        return True
    m = re.search(r"(\d+)", k)
    return bool(m and int(m.group(1)) >= 50)


# ---- lungs (coarse, numpy only) ----------------------------------------------------


def pool(a, f):
    z, y, x = a.shape
    a = a[:, : y - y % f, : x - x % f]
    return a.reshape(z, y // f, f, x // f, f).mean(axis=(2, 4))


def flood_border_2d(passable):
    """Per slice: passable voxels 4-connected to the border."""
    reach = np.zeros_like(passable)
    reach[:, 0, :] = passable[:, 0, :]
    reach[:, -1, :] = passable[:, -1, :]
    reach[:, :, 0] |= passable[:, :, 0]
    reach[:, :, -1] |= passable[:, :, -1]
    while True:
        grown = reach.copy()
        grown[:, 1:, :] |= reach[:, :-1, :]
        grown[:, :-1, :] |= reach[:, 1:, :]
        grown[:, :, 1:] |= reach[:, :, :-1]
        grown[:, :, :-1] |= reach[:, :, 1:]
        grown &= passable
        if np.array_equal(grown, reach):
            return reach
        reach = grown


class Lungs:
    """A coarse lung mask (4 x 4 pixel blocks) for choosing positions."""

    F = 4

    def __init__(self, s):
        self.s = s
        c = pool(s.hu, self.F)
        air = c < -400
        outside = flood_border_2d(air)
        self.body = ~outside
        self.lung = air & ~outside
        # the body's midline per slice (coarse x)
        xs = np.arange(c.shape[2])[None, None, :]
        cnt = self.body.sum(axis=(1, 2))
        self.mid = (self.body * xs).sum(axis=(1, 2)) / np.maximum(cnt, 1)
        self.csp = np.array([s.sx * self.F, s.sy * self.F, s.dz])
        # a smoothed lung fraction, for normals
        f = self.lung.astype(np.float32)
        for axis in (0, 1, 2):
            f = (np.roll(f, 1, axis) + f + np.roll(f, -1, axis)) / 3
        self.frac = f

    def coarse(self, v):
        return np.array([v[0] / self.F, v[1] / self.F, v[2]])

    def all_lung_within(self, v, radius_mm):
        """Whether every coarse voxel within @radius_mm of voxel @v is lung."""
        c = self.coarse(v)
        r = np.ceil(radius_mm / self.csp).astype(int)
        lo = np.floor(c).astype(int) - r
        hi = np.floor(c).astype(int) + r + 1
        shape = np.array(self.lung.shape[::-1])
        if np.any(lo < 0) or np.any(hi > shape):
            return False
        sub = self.lung[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]]
        zz, yy, xx = np.meshgrid(*[np.arange(lo[a], hi[a]) for a in (2, 1, 0)], indexing="ij")
        d2 = ((xx + 0.5 - c[0]) * self.csp[0]) ** 2 + ((yy + 0.5 - c[1]) * self.csp[1]) ** 2 + \
             ((zz - c[2]) * self.csp[2]) ** 2
        return bool(np.all(sub[d2 <= radius_mm ** 2]))


# ---- placement ------------------------------------------------------------------------


def ball(s, centre, radius_mm):
    """HU values of the voxels within @radius_mm of voxel @centre."""
    r = np.ceil(radius_mm / s.sp).astype(int)
    c = np.round(centre).astype(int)
    lo = np.maximum(c - r, 0)
    hi = np.minimum(c + r + 1, np.array(s.hu.shape[::-1]))
    sub = s.hu[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]]
    zz, yy, xx = np.meshgrid(*[np.arange(lo[a], hi[a]) for a in (2, 1, 0)], indexing="ij")
    d2 = ((xx - centre[0]) * s.sp[0]) ** 2 + ((yy - centre[1]) * s.sp[1]) ** 2 + ((zz - centre[2]) * s.sp[2]) ** 2
    return sub[d2 <= radius_mm ** 2]


class Placer:
    def __init__(self, s, lungs, rng, avoid):
        self.s, self.lungs, self.rng = s, lungs, rng
        self.avoid = avoid              # (centre mm, radius mm) to keep away from
        self.placed = []
        self.lung_voxels = np.argwhere(lungs.lung)  # z, y, x (coarse)
        # candidate vessel voxels: dense, inside the lungs
        hu = s.hu
        cz, cy, cx = np.nonzero(hu > -150)
        keep = lungs.lung[np.minimum(cz, lungs.lung.shape[0] - 1), cy // Lungs.F, cx // Lungs.F] \
            if len(cz) else np.zeros(0, bool)
        self.dense = np.stack([cx[keep], cy[keep], cz[keep]], 1) if len(cz) else np.zeros((0, 3), int)

    def far_enough(self, p_mm, r):
        for q, rq in self.placed + self.avoid:
            if np.linalg.norm(p_mm - q) < r + rq + 15.0:
                return False
        return True

    def z_ok(self, v, r):
        return r + 2.0 <= v[2] * self.s.dz <= (self.s.hu.shape[0] - 1) * self.s.dz - r - 2.0

    def random_lung_voxel(self):
        z, y, x = self.lung_voxels[self.rng.integers(len(self.lung_voxels))]
        f = Lungs.F
        return np.array([x * f + self.rng.uniform(0, f), y * f + self.rng.uniform(0, f), z + self.rng.uniform(-0.5, 0.5)])

    def isolated(self, r):
        best, best_dense = None, 2.0
        for _ in range(400):
            v = self.random_lung_voxel()
            p = self.s.to_patient(v)
            if not self.z_ok(v, r) or not self.far_enough(p, r) or not self.lungs.all_lung_within(v, r + 5.0):
                continue
            vals = ball(self.s, v, r + 1.0)
            if not len(vals) or np.median(vals) < -950:  # an airway, not parenchyma
                continue
            dense = float(np.mean(vals > -400))
            if dense < best_dense:
                best, best_dense = v, dense
            if best_dense < 0.01:
                break
        return best

    def vessel(self, r):
        for _ in range(3000):
            if not len(self.dense):
                return None
            w = self.dense[self.rng.integers(len(self.dense))].astype(float)
            x, y, z = (int(t) for t in w)
            patch = self.s.hu[z, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
            if patch.mean() < -300:             # thinner than about 2 mm
                continue
            if not self.lungs.all_lung_within(w, r + 8.0):
                continue
            a = self.rng.uniform(0, 2 * np.pi)
            elev = self.rng.uniform(-0.3, 0.3)
            d = np.array([np.cos(a), np.sin(a), elev])
            d /= np.linalg.norm(d)
            dist = 0.7 * r + 1.0
            v = w + d * dist / self.s.sp
            p = self.s.to_patient(v)
            if not self.z_ok(v, r) or not self.far_enough(p, r):
                continue
            c = np.round(v).astype(int)
            if self.s.hu[c[2], c[1], c[0]] > -500:  # the centre itself in parenchyma
                continue
            vals = ball(self.s, v, r)
            dense = float(np.mean(vals > -400)) if len(vals) else 1.0
            if 0.01 <= dense <= 0.3:
                return v
        return None

    def juxtapleural(self, r):
        L = self.lungs
        for _ in range(3000):
            v = self.random_lung_voxel()
            c = np.floor(L.coarse(v)).astype(int)
            z, y, x = c[2], c[1], c[0]
            if not (1 <= z < L.lung.shape[0] - 1 and 1 <= y < L.lung.shape[1] - 1 and 1 <= x < L.lung.shape[2] - 1):
                continue
            # a lung voxel next to body tissue (not outside air), away from the mediastinum
            nb = [L.lung[z, y - 1, x], L.lung[z, y + 1, x], L.lung[z, y, x - 1], L.lung[z, y, x + 1]]
            if all(nb):
                continue
            if abs(x - L.mid[z]) * L.csp[0] < 40.0:
                continue
            g = np.array([(L.frac[z, y, x + 1] - L.frac[z, y, x - 1]) / L.csp[0],
                          (L.frac[z, y + 1, x] - L.frac[z, y - 1, x]) / L.csp[1],
                          (L.frac[z + 1, y, x] - L.frac[z - 1, y, x]) / L.csp[2]])
            if np.linalg.norm(g) == 0:
                continue
            n = g / np.linalg.norm(g)            # into the lung, in mm space
            if abs(n[2]) > 0.5:
                continue
            # walk from inside the lung outwards to the pleura (-400 HU) at full resolution
            start = v.copy()
            pleura = None
            for step in np.arange(-12.0, 12.0, 0.25):
                q = start - n * step / self.s.sp
                qi = np.round(q).astype(int)
                if np.any(qi < 0) or np.any(qi >= np.array(self.s.hu.shape[::-1])):
                    break
                if step > -12.0 and self.s.hu[qi[2], qi[1], qi[0]] > -400 and self.s.hu[qi[2], qi[1], qi[0]] < 300 \
                        and not L.lung[qi[2], qi[1] // L.F, qi[0] // L.F]:
                    pleura = q
                    break
            if pleura is None:
                continue
            depth = self.rng.uniform(0.4, 0.7) * r
            cv = pleura + n * depth / self.s.sp
            p = self.s.to_patient(cv)
            if not self.z_ok(cv, r) or not self.far_enough(p, r):
                continue
            ci = np.round(cv).astype(int)
            if self.s.hu[ci[2], ci[1], ci[0]] > -500:
                continue
            # the rest of the nodule must be in lung, not across a fissure into another structure
            vals = ball(self.s, cv, 0.5 * r)
            if not len(vals) or np.mean(vals > -400) > 0.25:
                continue
            return cv
        return None


# ---- rendering ---------------------------------------------------------------------------


def gauss1d(sigma):
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return k / k.sum()


def blur_inplane(a, sigma_px):
    """Gaussian blur along the last two axes (edges replicated)."""
    if sigma_px <= 0.05:
        return a
    k = gauss1d(sigma_px)
    r = len(k) // 2
    out = a
    for axis in (-1, -2):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r, r)
        p = np.pad(out, pad, mode="edge")
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for i, w in enumerate(k):
            acc += w * np.take(p, range(i, i + n), axis=axis)
        out = acc
    return out


def random_rotation(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    a, b, c, d = q
    return np.array([[a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                     [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
                     [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d]])


class Shape:
    """An ellipsoid (patient mm) with a soft edge."""

    EDGE_MM = 0.25

    def __init__(self, centre_mm, diameter, rng):
        self.c = np.asarray(centre_mm, float)
        self.R = random_rotation(rng)
        e = rng.uniform(-0.08, 0.08, 3)
        axes = 1.0 + e
        axes /= np.prod(axes) ** (1 / 3)          # volume-equivalent diameter stays
        self.axes = 0.5 * diameter * axes

    def scaled(self, factor):
        s = Shape.__new__(Shape)
        s.c, s.R, s.axes = self.c, self.R, self.axes * factor
        return s

    def occupancy(self, pts):
        """Soft membership (0..1) of points (..., 3) in patient mm."""
        q = (pts - self.c) @ self.R
        rho = np.sqrt(np.sum((q / self.axes) ** 2, axis=-1))
        r = float(np.mean(self.axes))
        return 1.0 / (1.0 + np.exp(-(1.0 - rho) * r / self.EDGE_MM))


def render(s, nodule, rng):
    """Inserts one nodule into s.hu (in place); returns what the truth needs."""
    d = nodule["diameter_mm"]
    shape = Shape(nodule["centre_mm"], d, rng)
    core = shape.scaled(nodule["core_mm"] / d) if nodule["type"] == "part-solid" else None
    v = s.to_voxel(shape.c)
    sharp = sharp_kernel(s.kernel)
    psf_px = 0.5 if sharp else 0.9
    half_xy = 0.5 * d * 1.1 + 4.0
    half_z = 0.5 * d * 1.1 + 0.5 * s.thickness + 1.0
    lo = np.maximum(np.floor(v - np.array([half_xy / s.sx, half_xy / s.sy, half_z / s.dz])).astype(int), 0)
    hi = np.minimum(np.ceil(v + np.array([half_xy / s.sx, half_xy / s.sy, half_z / s.dz])).astype(int) + 1,
                    np.array(s.hu.shape[::-1]))
    xs, ys, zs = (np.arange(lo[a], hi[a]) for a in range(3))
    # sub-voxel samples: 3 x 3 in plane, every 0.5 mm across the slice profile
    sub_xy = (np.arange(3) - 1) / 3.0
    nzs = max(3, int(math.ceil(s.thickness / 0.5)))
    sub_z = ((np.arange(nzs) + 0.5) / nzs - 0.5) * s.thickness / s.dz
    occ = np.zeros((len(zs), len(ys), len(xs)), np.float32)
    occ_core = np.zeros_like(occ)
    Z, Y, X = np.meshgrid(zs, ys, xs, indexing="ij")
    n = 0
    for oz in sub_z:
        for oy in sub_xy:
            for ox in sub_xy:
                pts = (s.ipp[0] + (X[..., None] + ox) * s.sx * s.row + (Y[..., None] + oy) * s.sy * s.col +
                       (Z[..., None] + oz) * s.dz * s.normal)
                occ += shape.occupancy(pts)
                if core is not None:
                    occ_core += core.occupancy(pts)
                n += 1
    occ /= n
    occ_core /= n
    occ = blur_inplane(occ, psf_px)
    occ_core = blur_inplane(occ_core, psf_px)
    bg = s.hu[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]]
    bg_mean = blur_inplane(bg, 1.0 / s.sx)
    texture_sd = 15.0 if nodule["type"] == "solid" else 30.0
    texture = blur_inplane(rng.normal(0, 1, bg.shape).astype(np.float32), 1.0) * texture_sd * 2.0
    if nodule["type"] == "solid":
        target = np.full(bg.shape, nodule["hu"], np.float32)
    elif nodule["type"] == "ground-glass":
        target = np.full(bg.shape, nodule["hu"], np.float32)
    else:
        # ground glass whose core is solid: the core's share of the occupancy is solid
        ratio = np.where(occ > 1e-4, np.minimum(occ_core / np.maximum(occ, 1e-4), 1.0), 0.0)
        target = nodule["hu"] + ratio * (nodule["core_hu"] - nodule["hu"])
    add = occ * np.maximum(0.0, target - bg_mean) + occ * texture
    s.hu[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = bg + add.astype(np.float32)

    # What Lung-RADS would measure: the visible part, on the axial plane through the centre.
    visible = visible_axes(s, shape, nodule["hu"], bg_mean, lo)
    truth = dict(nodule)
    truth["centre_voxel"] = [round(float(t), 2) for t in v]
    truth["volume_mm3"] = round(math.pi / 6 * d ** 3, 1)
    truth.update(visible)
    truth["slices"] = sorted(set(int(z) for z in np.nonzero(occ.max(axis=(1, 2)) > 0.25)[0] + lo[2]))
    return truth


def visible_axes(s, shape, hu, bg_mean, lo):
    """Long and short axis of the nodule's visible part (where the image was
    less dense than the nodule) on the axial plane through its centre, on a
    0.1 mm grid."""
    r = float(np.max(shape.axes)) + 1.0
    g = np.arange(-r, r + 0.05, 0.1)
    U, V = np.meshgrid(g, g, indexing="xy")
    pts = shape.c + U[..., None] * s.row + V[..., None] * s.col
    inside = shape.occupancy(pts) >= 0.5
    vox = s.to_voxel(shape.c)
    z = int(round(vox[2])) - lo[2]
    z = min(max(z, 0), bg_mean.shape[0] - 1)
    px = np.clip(np.round(vox[0] + U / s.sx).astype(int) - lo[0], 0, bg_mean.shape[2] - 1)
    py = np.clip(np.round(vox[1] + V / s.sy).astype(int) - lo[1], 0, bg_mean.shape[1] - 1)
    visible = inside & (bg_mean[z, py, px] < hu - 100.0)
    if visible.sum() < 3:
        return {"visible_long_mm": 0.0, "visible_short_mm": 0.0, "visible_mean_diameter_mm": 0.0}
    P = np.stack([U[visible], V[visible]], 1)
    # long axis: the farthest pair among hull-ish extreme points (angles every 2 degrees)
    angles = np.deg2rad(np.arange(0, 180, 2))
    dirs = np.stack([np.cos(angles), np.sin(angles)], 1)
    proj = P @ dirs.T
    extent = proj.max(0) - proj.min(0) + 0.1
    k = int(np.argmax(extent))
    long_mm = float(extent[k])
    # short axis: longest chord perpendicular to it (max over positions along the long axis)
    u = proj[:, k]
    w = P @ np.array([-dirs[k, 1], dirs[k, 0]])
    bins = np.round(u / 0.1).astype(int)
    short_mm = 0.0
    order = np.argsort(bins)
    b_sorted, w_sorted = bins[order], w[order]
    splits = np.nonzero(np.diff(b_sorted))[0] + 1
    for chunk in np.split(w_sorted, splits):
        short_mm = max(short_mm, float(chunk.max() - chunk.min()) + 0.1)
    return {"visible_long_mm": round(long_mm, 2), "visible_short_mm": round(short_mm, 2),
            "visible_mean_diameter_mm": round(0.5 * (long_mm + short_mm), 2)}


def lungrads(n, diameter):
    d = round(diameter, 1)
    if n["type"] == "solid":
        return "2" if d < 6 else "3" if d < 8 else "4A" if d < 15 else "4B"
    if n["type"] == "part-solid":
        c = round(n["core_mm"], 1)
        return "2" if d < 6 else "3" if c < 6 else "4A" if c < 8 else "4B"
    return "2" if d < 30 else "3"


# ---- expert boxes ---------------------------------------------------------------------------


def box_regions(s, boxes_dir):
    """The expert boxes (PASCAL-VOC per slice, named by SOP Instance UID) as
    (centre mm, radius mm) spheres, matched to this series by slice position."""
    regions = []
    if not boxes_dir or not os.path.isdir(boxes_dir):
        return regions, []
    pos = s.ipp @ s.normal
    # slice positions of every series in the study folder, by SOP Instance UID
    study = os.path.dirname(os.path.dirname(os.path.abspath(s.datasets[0].filename)))
    where = {}
    for f in glob.glob(os.path.join(study, "*", "*.dcm")):
        d = pydicom.dcmread(f, stop_before_pixels=True)
        where[d.SOPInstanceUID] = float(np.dot(s.normal, [float(v) for v in d.ImagePositionPatient]))
    boxes = []
    for path in sorted(glob.glob(os.path.join(boxes_dir, "*.xml"))):
        u = os.path.basename(path)[:-4]
        if u not in where:
            continue
        text = open(path).read()
        for obj in re.findall(r"<bndbox>(.*?)</bndbox>", text, re.S):
            b = [float(re.search(r"<%s>([-0-9.]+)</%s>" % (k, k), obj).group(1)) for k in ("xmin", "ymin", "xmax", "ymax")]
            k = int(np.argmin(np.abs(pos - where[u])))
            boxes.append({"slice": k, "box": b})
            c = s.to_patient([0.5 * (b[0] + b[2]) - 0.5, 0.5 * (b[1] + b[3]) - 0.5, k])
            rad = 0.5 * math.hypot((b[2] - b[0]) * s.sx, (b[3] - b[1]) * s.sy)
            regions.append((c, rad))
    return regions, boxes


# ---- the case ---------------------------------------------------------------------------------


def draw_sizes(args, rng, count):
    if args.sizes == "luna16":
        with open(args.annotations) as f:
            d = np.array([float(r["diameter_mm"]) for r in csv.DictReader(f)])
        d = d[(d >= args.min_mm) & (d <= args.max_mm)]
        return list(rng.choice(d, count))
    if args.sizes == "uniform":
        return list(np.exp(rng.uniform(np.log(args.min_mm), np.log(args.max_mm), count)))
    values = [float(v) for v in args.sizes.split(",")]
    return [values[i % len(values)] for i in range(count)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", required=True, help="folder of one CT series")
    ap.add_argument("--out", required=True, help="folder for the new series")
    ap.add_argument("--truth", help="ground-truth JSON (default: OUT.truth.json, beside the folder)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--sizes", default="luna16", help="luna16 (the LUNA16 diameters), uniform (log-uniform), or a list")
    ap.add_argument("--annotations", default=DEFAULT_ANNOTATIONS)
    ap.add_argument("--min-mm", type=float, default=4.0)
    ap.add_argument("--max-mm", type=float, default=30.0)
    ap.add_argument("--types", default="solid:0.6,part-solid:0.15,ground-glass:0.25")
    ap.add_argument("--attachments", default="isolated:0.5,vessel:0.25,juxtapleural:0.25")
    ap.add_argument("--boxes", help="folder of expert boxes to keep away from (and list as ignore regions)")
    ap.add_argument("--noise", type=float, default=0.0,
                    help="add correlated noise of this standard deviation (HU) to the whole series, as a sharper "
                         "kernel or a lower dose would (white noise blurred by 0.5 pixel): training augmentation")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    s = Series(args.series)
    lungs = Lungs(s)
    avoid, boxes = box_regions(s, args.boxes)
    placer = Placer(s, lungs, rng, [(c, r + 10.0) for c, r in avoid])

    def mix(text, names):
        parts = dict((p.split(":")[0], float(p.split(":")[1])) for p in text.split(","))
        w = np.array([parts.get(n, 0.0) for n in names])
        return w / w.sum()

    type_w, attach_w = mix(args.types, TYPES), mix(args.attachments, ATTACHMENTS)
    truths = []
    sizes = draw_sizes(args, rng, args.count)
    for i, d in enumerate(sizes):
        d = float(min(max(d, args.min_mm), args.max_mm))
        ntype = TYPES[rng.choice(3, p=type_w)]
        attach = ATTACHMENTS[rng.choice(3, p=attach_w)]
        r = 0.5 * d
        v = getattr(placer, attach)(r)
        if v is None and attach != "isolated":
            print("nodule %d (%.1f mm): no %s place found, made isolated" % (i + 1, d, attach), file=sys.stderr)
            attach = "isolated"
            v = placer.isolated(r)
        if v is None:
            print("nodule %d (%.1f mm %s): no place found, skipped" % (i + 1, d, attach), file=sys.stderr)
            continue
        p = s.to_patient(v)
        nodule = {"id": len(truths) + 1, "centre_mm": [round(float(t), 2) for t in p], "diameter_mm": round(d, 2),
                  "type": ntype, "attachment": attach}
        if ntype == "solid":
            nodule["hu"] = round(float(rng.uniform(50, 100)), 1)
        else:
            nodule["hu"] = round(float(rng.uniform(-600, -300)), 1)
        if ntype == "part-solid":
            nodule["core_mm"] = round(float(rng.uniform(0.3, 0.7)) * d, 2)
            nodule["core_hu"] = round(float(rng.uniform(50, 100)), 1)
        else:
            nodule["core_mm"] = d if ntype == "solid" else 0.0
        placer.placed.append((p, r))
        truth = render(s, nodule, rng)
        truth["lungrads_nominal"] = lungrads(nodule, d)
        truth["lungrads_visible"] = lungrads(nodule, truth["visible_mean_diameter_mm"] or d)
        truths.append(truth)

    if args.noise > 0:
        noise_rng = np.random.default_rng(args.seed + 7919)
        for k in range(s.hu.shape[0]):
            n = blur_inplane(noise_rng.normal(0, 1, s.hu.shape[1:]).astype(np.float32)[None], 0.5)[0]
            s.hu[k] += (args.noise / max(float(np.std(n)), 1e-6)) * n

    # Write the series: same pixel format, new UIDs.
    os.makedirs(args.out, exist_ok=True)
    source = s.datasets[0]
    study_uid = uid("ln-insert", source.StudyInstanceUID, args.seed, "study")
    series_uid = uid("ln-insert", source.SeriesInstanceUID, args.seed, "series")
    sops = []
    for k, ds in enumerate(s.datasets):
        ds = ds.copy()
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        info = np.iinfo(ds.pixel_array.dtype)
        stored = np.clip(np.round((s.hu[k] - intercept) / slope), info.min, min(info.max, 2 ** ds.BitsStored - 1
                                                                                  if ds.PixelRepresentation == 0 else info.max))
        ds.PixelData = stored.astype(ds.pixel_array.dtype).tobytes()
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = uid("ln-insert", ds.SOPInstanceUID, args.seed)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesDescription = ("%s +%d synthetic nodules (seed %d)" % (getattr(ds, "SeriesDescription", ""),
                                                                          len(truths), args.seed))[:64]
        sops.append(ds.SOPInstanceUID)
        pydicom.dcmwrite(os.path.join(args.out, "ins%04d.dcm" % (k + 1)), ds, write_like_original=False)
    for t in truths:
        t["slice_uids"] = [sops[z] for z in t["slices"]]
    gt = {"schema": "ln-insert/1", "source_series": os.path.abspath(args.series),
          "source_series_uid": str(source.SeriesInstanceUID), "series_uid": series_uid, "seed": args.seed,
          "slice_spacing_mm": s.dz, "pixel_spacing_mm": [s.sx, s.sy], "kernel": s.kernel, "added_noise_hu": args.noise,
          "nodules": truths,
          "ignore": [{"centre_mm": [round(float(t), 2) for t in c], "radius_mm": round(r, 1)} for c, r in avoid],
          "expert_boxes": boxes}
    with open(args.truth or args.out.rstrip("/") + ".truth.json", "w") as f:
        json.dump(gt, f, indent=1)
    print(json.dumps({"out": args.out, "nodules": len(truths)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
