"""A quality data set with exact ground truth: objects pasted with generated masks onto real photographs.

Real photographs and textures come from scikit-image's ``skimage.data`` (the ``bench`` extra). Each image is a
photo background, resized to the target size, with full-resolution detail from a real texture; one object cut
from another photo with an exact generated mask (blob, ring with a hole, thin branches, the horse silhouette) is
composited with a hard or soft edge, sometimes in low contrast, sometimes small in a big frame. ``NAME.tif`` is
the image (16-bit above 10 MP, like a darktable export), ``NAME_gt.png`` the mask (255 object, 0 rest).

Soft-alpha composites follow (``--fur``): a body fringed with hundreds of thin, partly transparent strands (fur all
around, long wavy hair, grass blades growing upwards), each drawn anti-aliased with its own width and opacity, so
the exact alpha is known; ``NAME_alpha.png`` holds it (16-bit), ``NAME_gt.png`` is alpha >= 0.5.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "immunohistochemistry")
TEXTURES = ("grass", "gravel", "brick")
SHAPES = ("blob", "ring", "branches", "horse")
STRANDS = ("fur", "hair", "grass")
# soft-alpha composites: (megapixels, object size), cycled like SIZES; the 7th and 8th (``--fur 8``) are the
# large frames where strands reach far past the matte's band
STRAND_SIZES = ((2.0, 0.4), (4.0, 0.35), (1.5, 0.45), (6.0, 0.3), (3.0, 0.4), (1.0, 0.5), (24.0, 0.35), (12.0, 0.4))
# (megapixels, object size as a fraction of the longest side): small objects in big frames included
SIZES = ((1.0, 0.45), (2.0, 0.35), (1.5, 0.5), (4.0, 0.3), (24.0, 0.07), (3.0, 0.4), (6.0, 0.25),
         (1.0, 0.3), (12.0, 0.12), (2.0, 0.55), (24.0, 0.2), (1.5, 0.2))


@dataclass
class Recipe:
    """How one image of the set is made (stored in set.json so a set can be told apart and remade)."""

    name: str
    width: int
    height: int
    shape: str
    background: str
    texture: str
    object_photo: str
    size: float  # object size, fraction of the longest side
    soft: bool  # soft (blurred) or hard edge
    low_contrast: bool
    seed: int
    strands: str = ""  # soft-alpha composites: the kind of strands fringing the body (STRANDS)


def recipes(count: int, seed: int, max_mp: float, fur: int = 0) -> list[Recipe]:
    """The set's recipes: sizes, shapes and edge kinds cycle so every kind appears in a small set; then ``fur``
    soft-alpha composites (drawn after the others, so adding them leaves the first ``count`` images as they were)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count + fur):
        strands = STRANDS[(i - count) % len(STRANDS)] if i >= count else ""
        mp, size = STRAND_SIZES[(i - count) % len(STRAND_SIZES)] if strands else SIZES[i % len(SIZES)]
        mp = min(mp, max_mp)
        aspect = 1.5 if i % 4 != 3 else 2 / 3
        height = int(round((mp * 1e6 / aspect) ** 0.5))
        width = int(round(height * aspect))
        background, object_photo = rng.choice(PHOTOS, 2, replace=False)
        shape = "blob" if strands else SHAPES[i % len(SHAPES)]
        out.append(Recipe(name=f"{i:02d}_{strands or shape}", width=width, height=height,
                          shape=shape, background=str(background), texture=str(rng.choice(TEXTURES)),
                          object_photo=str(object_photo), size=size, soft=bool(i % 2) and not strands,
                          low_contrast=i % 3 == 2 and not strands, seed=int(rng.integers(2**31)), strands=strands))
    return out


def make_set(folder: str | Path, count: int = 12, seed: int = 0, max_mp: float = 24.0, fur: int = 4) -> list[Recipe]:
    """Write ``count`` images and ``fur`` soft-alpha composites with ground truths into ``folder`` (created), plus
    set.json describing them."""
    import tifffile
    from skimage import io

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = recipes(count, seed, max_mp, fur)
    for recipe in made:
        image, alpha = compose_alpha(recipe)
        tifffile.imwrite(folder / f"{recipe.name}.tif", image, photometric="rgb")
        io.imsave(folder / f"{recipe.name}_gt.png", np.where(alpha >= 0.5, 255, 0).astype(np.uint8),
                  check_contrast=False)
        if recipe.strands:
            io.imsave(folder / f"{recipe.name}_alpha.png", np.round(alpha * 65535).astype(np.uint16),
                      check_contrast=False)
    (folder / "set.json").write_text(json.dumps({"count": count, "fur": fur, "seed": seed, "max_mp": max_mp,
                                                 "images": [asdict(r) for r in made]}, indent=1))
    return made


def compose(recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """One composite image (uint8, or uint16 above 10 MP) and its exact bool mask."""
    image, alpha = compose_alpha(recipe)
    return image, alpha >= 0.5


def compose_alpha(recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """One composite image (uint8, or uint16 above 10 MP) and its exact alpha (float32 0..1)."""
    from skimage import filters

    rng = np.random.default_rng(recipe.seed)
    w, h = recipe.width, recipe.height
    image = _photo(recipe.background, w, h)
    detail = _texture(recipe.texture, w, h, rng)
    side = max(16, int(recipe.size * max(w, h)))
    shape = _shape(recipe.shape, side, rng)
    if recipe.strands:  # room around the body for the strands
        margin = int(0.12 * side)
        shape = np.pad(shape, margin)
    sh, sw = shape.shape
    y0, x0 = int(rng.integers(0, h - sh + 1)), int(rng.integers(0, w - sw + 1))
    region = (slice(y0, y0 + sh), slice(x0, x0 + sw))
    if recipe.low_contrast:  # the object is the background itself, slightly lighter and warmer
        obj = image[region] * np.array([1.12, 1.06, 0.97], np.float32) + 0.03
    else:
        obj = _photo(recipe.object_photo, sw, sh)
    sigma = max(w, h) / 1500 if recipe.soft else 0.6  # a soft edge scales with the frame; a hard one is ~1 px
    alpha = filters.gaussian(shape.astype(np.float32), sigma=sigma)
    if recipe.strands:
        alpha = 1 - (1 - alpha) * (1 - _strands(recipe.strands, shape, max(w, h), rng))
    image[region] = image[region] * (1 - alpha[..., None]) + obj * alpha[..., None]
    image *= detail[..., None]
    image += 0.01 * rng.standard_normal(image.shape, dtype=np.float32)  # sensor grain
    full = np.zeros((h, w), np.float32)
    full[region] = alpha
    np.clip(image, 0, 1, out=image)
    dtype = np.uint16 if w * h > 10e6 else np.uint8
    return np.round(image * np.iinfo(dtype).max).astype(dtype), full


# per kind: strands per boundary pixel, length (fraction of the body's side), waviness, upward only
STRAND_KINDS = {"fur": (0.7, (0.03, 0.07), 0.15, False), "hair": (0.35, (0.05, 0.11), 0.5, False),
                "grass": (0.5, (0.04, 0.10), 0.1, True)}


def _strands(kind: str, body: np.ndarray, frame: int, rng: np.random.Generator) -> np.ndarray:
    """The alpha (float32, body's shape) of thin strands growing outwards from the body's boundary.

    Each strand is a wavy polyline, anti-aliased, tapering in width and opacity towards its tip; strands
    overlap as alphas do (1 - product of 1 - a).
    """
    density, lengths, wave, upward = STRAND_KINDS[kind]
    side = max(body.shape) / 1.24
    edge = body & ~(np.roll(body, 1, 0) & np.roll(body, -1, 0) & np.roll(body, 1, 1) & np.roll(body, -1, 1))
    ys, xs = np.nonzero(edge)
    cy, cx = np.mean(np.nonzero(body), axis=1)
    outward = np.arctan2(ys - cy, xs - cx)
    if upward:  # grass: only from the top of the body, growing up
        keep = np.sin(outward) < -0.3
        ys, xs, outward = ys[keep], xs[keep], np.full(keep.sum(), -np.pi / 2)
    pick = rng.choice(len(ys), size=int(density * len(ys)), replace=True)
    scale = max(1.0, frame / 2000)  # strands a pixel or two wide, wider in big frames
    alpha = np.zeros(body.shape, np.float32)
    for i in pick:
        length = rng.uniform(*lengths) * side
        theta = outward[i] + rng.normal(0, 0.35) + wave * np.sin(np.linspace(0, rng.uniform(2, 6), 7)
                                                                  + rng.uniform(0, 2 * np.pi))
        steps = np.stack([np.cos(theta), np.sin(theta)], axis=1) * length / 6
        path = np.vstack([[xs[i], ys[i]], [xs[i], ys[i]] + np.cumsum(steps[:6], axis=0)])
        _draw_strand(alpha, path, rng.uniform(0.6, 1.8) * scale, rng.uniform(0.35, 0.95))
    return alpha


def _draw_strand(alpha: np.ndarray, path: np.ndarray, width: float, opacity: float) -> None:
    """Composite one anti-aliased polyline (x, y rows) into ``alpha``, in place: width and opacity taper to the tip."""
    h, w = alpha.shape
    x0, y0 = np.floor(path.min(axis=0) - width - 1).astype(int)
    x1, y1 = np.ceil(path.max(axis=0) + width + 2).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    cover = np.zeros(yy.shape, np.float32)
    k = len(path) - 1
    for j in range(k):
        (ax, ay), (bx, by) = path[j], path[j + 1]
        dx, dy = bx - ax, by - ay
        t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        dist = np.hypot(xx - ax - t * dx, yy - ay - t * dy)
        taper = 1 - (j + t) / k * 0.7
        cover = np.maximum(cover, np.clip(width * taper / 2 + 0.5 - dist, 0, 1) * taper)
    region = alpha[y0:y1, x0:x1]
    region[:] = 1 - (1 - region) * (1 - opacity * cover)


def _photo(name: str, w: int, h: int) -> np.ndarray:
    """A skimage.data photograph cropped to the w:h aspect and resized: float32 (h, w, 3) in 0..1."""
    from skimage import data, transform

    photo = getattr(data, name)()[..., :3].astype(np.float32) / 255.0
    ph, pw = photo.shape[:2]
    scale = min(pw / w, ph / h)
    cw, ch = int(w * scale), int(h * scale)
    top, left = (ph - ch) // 2, (pw - cw) // 2
    return transform.resize(photo[top:top + ch, left:left + cw], (h, w), order=1, anti_aliasing=False
                            ).astype(np.float32)


def _texture(name: str, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Full-resolution detail from a real texture tiled at its own scale: a gain around 1 (h, w)."""
    from skimage import data

    tex = getattr(data, name)().astype(np.float32) / 255.0
    tex = 1.0 + 0.25 * (tex - tex.mean())
    reps = (-(-h // tex.shape[0]) + 1, -(-w // tex.shape[1]) + 1)
    dy, dx = rng.integers(0, tex.shape[0]), rng.integers(0, tex.shape[1])
    return np.tile(tex, reps)[dy:dy + h, dx:dx + w]


def _shape(kind: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """A bool mask of about side x side pixels."""
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2.0
    radius, angle = np.hypot(xx, yy), np.arctan2(yy, xx)

    def blob(r: float) -> np.ndarray:
        wobble = sum(rng.uniform(0.03, 0.12) / k * np.cos(k * angle + rng.uniform(0, 2 * np.pi)) for k in range(2, 6))
        return radius < r * (1 + wobble)

    if kind == "blob":
        return blob(0.4 * side)
    if kind == "ring":
        return blob(0.45 * side) & ~blob(rng.uniform(0.18, 0.25) * side)
    if kind == "branches":
        mask = blob(0.2 * side)
        for theta in rng.uniform(0, 2 * np.pi, rng.integers(3, 6)):
            width = rng.uniform(0.01, 0.03) * side
            along = xx * np.cos(theta) + yy * np.sin(theta)
            across = -xx * np.sin(theta) + yy * np.cos(theta)
            mask |= (along > 0) & (along < 0.47 * side) & (np.abs(across) < width / 2)
        return mask
    from skimage import data, transform

    horse = ~data.horse()
    scale = side / max(horse.shape)
    return transform.resize(horse.astype(np.float32), (int(horse.shape[0] * scale), int(horse.shape[1] * scale)),
                            order=1) >= 0.5
