"""Scenes with one clear salient object, and the measurement of how often ``--subject`` picks it.

Run: ``python tests/subject_bench.py [--count 60] [--seed 1000] [--makeset DIR]`` (needs scikit-image; the model
from DTMASK_HOME). Each scene: an out-of-focus photo, a two-tone horizon or a textured gradient as background,
0-3 small distractors near the edges, and one subject (blob, rounded box, star, horse silhouette or a "person"
standing on the lower edge) of 4-35 % of the frame, placed off-centre like a photographer would.
A hit is a final mask with IoU >= 0.5 against the subject's exact mask.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes import Scene, _texture, iou  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "coins", "immunohistochemistry", "camera", "hubble_deep_field")
SHAPES = ("blob", "roundbox", "star", "horse", "person")


def _photo(name: str, w: int, h: int) -> np.ndarray:
    from skimage import data, transform

    photo = getattr(data, name)()
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    photo = photo[..., :3].astype(np.float32) / 255.0
    return transform.resize(photo, (h, w), order=1, anti_aliasing=True).astype(np.float32)


def _background(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, str]:
    from skimage import filters

    kind = rng.choice(["bokeh", "horizon", "gradient"])
    if kind == "bokeh":  # a photograph far out of focus, like a shallow depth of field
        img = _photo(str(rng.choice(PHOTOS)), w, h)
        img = filters.gaussian(img, sigma=max(w, h) / 60, channel_axis=-1)
        img = img * rng.uniform(0.6, 1.0) + rng.uniform(0, 0.2)
    elif kind == "horizon":
        yy = np.arange(h)[:, None]
        line = int(h * rng.uniform(0.3, 0.65))
        sky = _texture(rng, h, w, rng.uniform(120, 230, 3), 6) / 255
        ground = _texture(rng, h, w, rng.uniform(40, 150, 3), 14) / 255
        img = np.where((yy < line)[..., None], sky, ground)
    else:
        top, bottom = rng.uniform(30, 220, 3), rng.uniform(30, 220, 3)
        t = np.linspace(0, 1, h)[:, None, None]
        img = (top * (1 - t) + bottom * t + _texture(rng, h, w, (0, 0, 0), 12)) / 255
    return np.clip(img, 0, 1).astype(np.float32), str(kind)


def _shape(kind: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """A bool mask about side x side (the person is taller than wide)."""
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2.0
    radius, angle = np.hypot(xx, yy), np.arctan2(yy, xx)
    if kind == "blob":
        a, b = rng.uniform(0.3, 0.48), rng.uniform(0.25, 0.48)
        wobble = sum(rng.uniform(0.02, 0.08) / k * np.cos(k * angle + rng.uniform(0, 6.3)) for k in range(2, 5))
        return np.hypot(xx / (a * side), yy / (b * side)) < 1 + wobble
    if kind == "roundbox":
        hw, hh, r = rng.uniform(0.25, 0.48) * side, rng.uniform(0.25, 0.48) * side, 0.08 * side
        return np.hypot(np.maximum(abs(xx) - (hw - r), 0), np.maximum(abs(yy) - (hh - r), 0)) < r
    if kind == "star":
        arms = rng.integers(5, 8)
        return radius < side * (0.32 + 0.13 * np.cos(arms * angle))
    if kind == "person":  # head and shoulders: a circle over a rounded body reaching the bottom
        head = np.hypot(xx, yy + 0.28 * side) < 0.16 * side
        body = (yy > -0.1 * side) & (np.hypot(np.maximum(abs(xx) - 0.22 * side, 0),
                                              np.maximum(-0.0 * side - yy, 0)) < 0.12 * side)
        return head | body
    from skimage import data, transform

    horse = ~data.horse()
    scale = side / max(horse.shape)
    small = transform.resize(horse.astype(np.float32), (int(horse.shape[0] * scale), int(horse.shape[1] * scale)),
                             order=1) >= 0.5
    out = np.zeros((side, side), bool)
    oy, ox = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    out[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    return out


def _paste(img: np.ndarray, mask: np.ndarray, y0: int, x0: int, fill: np.ndarray) -> np.ndarray:
    """Paste a shape (clipped to the frame) with fill colours; returns the full-frame bool mask."""
    h, w = img.shape[:2]
    sh, sw = mask.shape
    full = np.zeros((h, w), bool)
    ya, xa = max(0, y0), max(0, x0)
    yb, xb = min(h, y0 + sh), min(w, x0 + sw)
    if ya >= yb or xa >= xb:
        return full
    full[ya:yb, xa:xb] = mask[ya - y0:yb - y0, xa - x0:xb - x0]
    img[full] = fill[full]
    return full


def _fill(rng: np.random.Generator, w: int, h: int, against: np.ndarray, strength: float) -> np.ndarray:
    """A textured fill whose mean colour differs from ``against`` by about ``strength`` (0..1 per channel)."""
    if rng.random() < 0.4:
        fill = _photo(str(rng.choice(PHOTOS)), w, h) * 0.7
        shift = rng.normal(0, 1, 3)
    else:
        fill = _texture(rng, h, w, (0, 0, 0), 10) / 255
        shift = rng.normal(0, 1, 3)
    shift = shift / (np.linalg.norm(shift) + 1e-6) * strength * 1.7
    base = np.clip(against + shift, 0.05, 0.95)
    return np.clip(fill - fill.mean(axis=(0, 1)) + base, 0, 1).astype(np.float32)


def subject_scene(seed: int, width: int = 768, height: int = 512) -> Scene:
    """One scene with a single clear salient object named ``subject``."""
    rng = np.random.default_rng(seed)
    if rng.random() < 0.25:
        width, height = height, width  # portrait
    img, _ = _background(rng, width, height)
    mean = img.mean(axis=(0, 1))
    for _ in range(rng.integers(0, 4)):  # small distractors near the edges
        side = int(rng.uniform(0.05, 0.12) * min(width, height))
        edge = rng.integers(4)
        x0 = int(rng.uniform(0, width - side)) if edge < 2 else (int(rng.uniform(-0.3, 0.1) * side) if edge == 2
                                                                  else width - int(rng.uniform(0.7, 1.3) * side))
        y0 = int(rng.uniform(0, height - side)) if edge >= 2 else (int(rng.uniform(-0.3, 0.1) * side) if edge == 0
                                                                    else height - int(rng.uniform(0.7, 1.3) * side))
        _paste(img, _shape("blob", side, rng), y0, x0, _fill(rng, width, height, mean, 0.15))
    kind = SHAPES[seed % len(SHAPES)]
    frac = rng.uniform(0.05, 0.35)
    side = int(np.sqrt(frac * width * height / 0.5))
    side = min(side, int(0.95 * min(width, height)))
    shape = _shape(kind, side, rng)
    cx = width * (0.5 + rng.uniform(-0.17, 0.17))
    cy = height * (0.5 + rng.uniform(-0.15, 0.15))
    x0, y0 = int(cx - side / 2), int(cy - side / 2)
    x0 = int(np.clip(x0, 0.02 * width, width - side - 0.02 * width))
    y0 = int(np.clip(y0, 0.02 * height, height - side - 0.02 * height))
    if kind == "person":
        y0 = height - side + int(0.1 * side)  # cut off by the lower edge
    subject = _paste(img, shape, y0, x0, _fill(rng, width, height, mean, rng.uniform(0.2, 0.4)))
    img = np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1)
    ys, xs = np.nonzero(subject)
    return Scene(image=np.round(img * 255).astype(np.uint8), masks={"subject": subject},
                 centres={"subject": (float(xs.mean()), float(ys.mean()))})


def measure(model, images, log=print) -> dict:
    """Subject hit rate over (name, image, truth) triples: hits at IoU >= 0.5, mean IoU, proposals' oracle."""
    from dtmask import subject as subj

    rows = []
    for name, image, truth in images:
        emb = model.encode(image)
        t = time.perf_counter()
        try:
            found = subj.find_subject(model, emb)
        except Exception as exc:  # noqa: BLE001 - a miss, recorded
            rows.append({"name": name, "iou": 0.0, "error": str(exc)})
            log(f"{name}: {exc}")
            continue
        seconds = time.perf_counter() - t
        final = iou(found.result.mask(), truth)
        props = [(c, iou(c.proposal.mask(refine=_raw()), truth)) for c in found.candidates]
        best = max((v for _, v in props), default=0.0)
        rows.append({"name": name, "iou": final, "oracle": best, "seconds": seconds, "decodes": found.decodes,
                     "candidates": [{**c.cues, "iou": v} for c, v in props]})
        log(f"{name}: IoU {final:.3f} (best proposal {best:.3f}) {seconds:.2f} s, {found.decodes} decodes")
    ious = np.array([r["iou"] for r in rows])
    return {"count": len(rows), "hit_rate": float((ious >= 0.5).mean()), "hit_rate_80": float((ious >= 0.8).mean()),
            "mean_iou": float(ious.mean()), "oracle_rate": float(np.mean([r.get("oracle", 0) >= 0.5 for r in rows])),
            "mean_seconds": float(np.mean([r.get("seconds", 0) for r in rows])), "rows": rows}


def _raw():
    from dtmask.refine import Refinement

    return Refinement.raw()


def centre_click(model, images) -> float:
    """Baseline: one click at the frame's centre. Returns the hit rate."""
    import dtmask

    hits = []
    for _, image, truth in images:
        emb = model.encode(image)
        h, w = truth.shape
        hits.append(iou(model.decode(emb, dtmask.Prompts(points=[(w / 2, h / 2)])).mask(), truth) >= 0.5)
    return float(np.mean(hits))


def generated(count: int, seed: int):
    for i in range(count):
        s = subject_scene(seed + i)
        yield f"scene{seed + i}", s.image, s.masks["subject"]


def makeset_images(folder: Path):
    import tifffile
    from skimage import io

    for tif in sorted(folder.glob("*.tif")):
        yield tif.stem, tifffile.imread(tif), io.imread(folder / f"{tif.stem}_gt.png") > 127


def main() -> None:
    import dtmask

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--makeset", type=Path, help="also measure on a `dtmask bench make-set` folder")
    ap.add_argument("--baseline", action="store_true", help="also the centre-click baseline")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    model = dtmask.load_model()
    out = {}
    if args.count:
        out["generated"] = measure(model, list(generated(args.count, args.seed)))
        if args.baseline:
            out["generated"]["centre_click_hit_rate"] = centre_click(model, list(generated(args.count, args.seed)))
    if args.makeset:
        out["makeset"] = measure(model, list(makeset_images(args.makeset)))
        if args.baseline:
            out["makeset"]["centre_click_hit_rate"] = centre_click(model, list(makeset_images(args.makeset)))
    for k, v in out.items():
        print(k, {kk: vv for kk, vv in v.items() if kk != "rows"})
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
