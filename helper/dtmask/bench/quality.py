"""``dtmask bench quality``: the standard interactive-segmentation protocol on a folder with exact ground truth.

For each ``NAME.tif`` / ``NAME.png`` with a ``NAME_gt.png`` (255 object, 0 rest): the click robot of
:mod:`.metrics` clicks, the model decodes with the previous low-res logits fed back, and the full-resolution
mask (refined, or raw with ``raw=True``) is scored. Clicks and masks are made as the picker makes them: a click
decodes without the zoom stage (``click_ms``), the mask is what Apply makes from it (``refine_ms``). A run stops
once IoU 0.90 is reached after at least 5 clicks, or at a perfect mask (every reported metric is then known), like
RITM's evaluation stops at its target IoU.

Where a ``NAME_alpha.png`` (16-bit exact alpha, from ``make-set``'s soft-alpha composites) exists, the soft mask
after 3 clicks is also scored against it: the mean absolute alpha error over the soft band (``alpha3``); the IoU
at 0.5 is the usual one, the ground truth being alpha >= 0.5.

With ``prompt="stroke"`` the first click is replaced by a brush stroke along the object's medial axis
(:mod:`.stroke`); the robot's clicks follow it as usual and the stroke stays among the prompts.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import UsageError
from ..imageio import Image, from_array, read_image
from ..model import Model, Prompts, Result
from ..refine import Refinement
from . import metrics
from .stroke import medial_stroke

TARGET = 0.90
MIN_CLICKS = 5
BF_CLICKS = 3
SUMMARY_KEYS = ("noc85", "noc90", "nof90", "miou1", "miou3", "miou5", "bf3", "alpha3", "alpha_iou3", "click_ms",
                "refine_ms")


@dataclass
class ImageRow:
    name: str
    width: int
    height: int
    noc85: int
    noc90: int
    miou1: float
    miou3: float
    miou5: float
    bf3: float
    click_ms: float  # median decode time per click (what the picker waits for)
    refine_ms: float  # median full-resolution mask time per click (what Apply waits for, once)
    ious: list[float] = field(default_factory=list)
    alpha3: float | None = None  # mean absolute alpha error over the soft band after 3 clicks (images with alpha)


def find_images(folder: str | Path) -> list[tuple[Path, Path]]:
    """(image, ground truth) pairs in a folder, by name."""
    folder = Path(folder)
    pairs = []
    for truth in sorted(folder.glob("*_gt.png")):
        stem = truth.name[:-len("_gt.png")]
        image = next((p for p in (folder / f"{stem}.tif", folder / f"{stem}.tiff", folder / f"{stem}.png")
                      if p.is_file()), None)
        if image is not None:
            pairs.append((image, truth))
    return pairs


def _load(image_path: Path, truth_path: Path) -> tuple[Image, np.ndarray, np.ndarray | None]:
    """The image, its bool ground truth and, when a NAME_alpha.png lies beside it, its exact alpha (0..1)."""
    from skimage import io

    image = read_image(image_path) if image_path.suffix.startswith(".tif") else from_array(io.imread(image_path))
    truth = io.imread(truth_path)
    truth = (truth[..., 0] if truth.ndim == 3 else truth) > 127
    alpha_path = truth_path.with_name(truth_path.name[:-len("_gt.png")] + "_alpha.png")
    alpha = None
    if alpha_path.is_file():
        raw = io.imread(alpha_path)
        alpha = raw.astype(np.float32) / np.iinfo(raw.dtype).max
    for path, array in ((truth_path, truth), (alpha_path, alpha)):
        if array is not None and array.shape != (image.height, image.width):
            raise UsageError(f"{path.name} is {array.shape[1]}x{array.shape[0]}, "
                             f"its image {image.width}x{image.height}")
    return image, truth, alpha


def evaluate(model: Model, image: Image, truth: np.ndarray, options: Refinement, max_clicks: int = 20,
             name: str = "", prompt: str = "click", alpha: np.ndarray | None = None) -> ImageRow:
    """Run the click protocol on one image and score it (``prompt="stroke"``: a stroke, then clicks); with an
    exact ``alpha`` the soft mask after 3 clicks is scored against it too."""
    embedding = model.encode(image)
    pred = np.zeros_like(truth)
    clicks: list[metrics.Click] = []
    previous: Result | None = None
    ious: list[float] = []
    click_s: list[float] = []
    refine_s: list[float] = []
    bf3 = 0.0
    alpha3 = None
    strokes = [medial_stroke(truth)] if prompt == "stroke" else []
    for k in range(1, max_clicks + 1):
        if not (strokes and k == 1):  # the stroke is the first interaction
            click = metrics.next_click(pred, truth, clicks)
            if click is None:  # a perfect mask: later clicks could only add noise
                break
            clicks.append(click)
        prompts = Prompts(points=[(x, y) for x, y, pos in clicks if pos],
                          negatives=[(x, y) for x, y, pos in clicks if not pos], strokes=strokes)
        # as in the picker: a click decodes without the zoom stage (its crop encoding takes about a second) and
        # feeds the next click; Apply decodes the same prompts again with every stage and makes the mask
        start = time.perf_counter()
        live = model.decode(embedding, prompts, previous, refine=replace(options, zoom=False))
        middle = time.perf_counter()
        applied = model.decode(embedding, prompts, previous, refine=options) if options.zoom else live
        soft = applied.mask(refine=options)
        pred = soft > 0.5
        previous = live
        click_s.append(middle - start)
        refine_s.append(time.perf_counter() - middle)
        ious.append(metrics.iou(pred, truth))
        done = ious[-1] == 1.0 or (ious[-1] >= TARGET and k >= max(MIN_CLICKS, BF_CLICKS))
        if k == min(BF_CLICKS, max_clicks) or (done and k < BF_CLICKS):
            bf3 = metrics.boundary_f(pred, truth)
            alpha3 = metrics.alpha_error(soft, alpha) if alpha is not None else None
        if done:
            break
    return ImageRow(name=name, width=image.width, height=image.height,
                    noc85=metrics.noc(ious, 0.85, max_clicks), noc90=metrics.noc(ious, TARGET, max_clicks),
                    miou1=metrics.iou_at(ious, 1), miou3=metrics.iou_at(ious, 3), miou5=metrics.iou_at(ious, 5),
                    bf3=bf3, click_ms=1000 * float(np.median(click_s)), refine_ms=1000 * float(np.median(refine_s)),
                    ious=[round(v, 4) for v in ious], alpha3=alpha3)


def run(folder: str | Path, model: Model, raw: bool = False, max_clicks: int = 20,
        log: Callable[[str], None] = lambda s: None, prompt: str = "click", skip: Iterable[str] = ()) -> dict:
    """Evaluate every image of a folder; the summary keys plus ``images`` (one row each). ``skip`` names
    refinement stages to switch off (:data:`dtmask.refine.STAGES`)."""
    pairs = find_images(folder)
    if not pairs:
        raise UsageError(f"no NAME_gt.png with a NAME.tif or NAME.png in {folder}")
    skip = sorted(skip)
    options = Refinement.raw() if raw else Refinement().without(skip)
    rows = []
    for image_path, truth_path in pairs:
        image, truth, alpha = _load(image_path, truth_path)
        rows.append(evaluate(model, image, truth, options, max_clicks, name=image_path.stem, prompt=prompt,
                             alpha=alpha))
        log(format_row(rows[-1]))
    all_clicks = [r.click_ms for r in rows]
    soft = [r for r in rows if r.alpha3 is not None]
    summary = {
        "model": model.id, "refined": not raw, "skipped": [] if raw else skip, "data": str(folder),
        "max_clicks": max_clicks, "prompt": prompt,
        "noc85": _mean(r.noc85 for r in rows), "noc90": _mean(r.noc90 for r in rows),
        "nof90": sum(1 for r in rows if r.ious and max(r.ious) < TARGET),
        "miou1": _mean(r.miou1 for r in rows), "miou3": _mean(r.miou3 for r in rows),
        "miou5": _mean(r.miou5 for r in rows), "bf3": _mean(r.bf3 for r in rows),
        "alpha3": _mean(r.alpha3 for r in soft) if soft else None,
        "alpha_iou3": _mean(r.miou3 for r in soft) if soft else None,
        "click_ms": round(float(np.median(all_clicks)), 1),
        "refine_ms": round(float(np.median([r.refine_ms for r in rows])), 1),
        "images": [asdict(r) for r in rows],
    }
    return summary


def _mean(values) -> float:
    return round(float(np.mean(list(values))), 4)


HEADER = f"{'image':<16} {'size':>11} {'noc85':>5} {'noc90':>5} {'iou@1':>6} {'iou@3':>6} {'iou@5':>6} " \
         f"{'bf3':>6} {'click ms':>8} {'refine ms':>9} {'alpha3':>6}"


def format_row(r: ImageRow) -> str:
    return (f"{r.name[:16]:<16} {f'{r.width}x{r.height}':>11} {r.noc85:>5} {r.noc90:>5} {r.miou1:>6.3f} "
            f"{r.miou3:>6.3f} {r.miou5:>6.3f} {r.bf3:>6.3f} {r.click_ms:>8.0f} {r.refine_ms:>9.0f}"
            f"{_alpha_cell(r.alpha3)}")


def _alpha_cell(alpha3: float | None) -> str:
    """The ``alpha3`` column: empty for an image without an exact alpha."""
    return f" {alpha3:>6.3f}" if alpha3 is not None else ""


def table(summary: dict) -> str:
    """The per-image rows and the summary, for the terminal."""
    lines = [HEADER] + [format_row(ImageRow(**row)) for row in summary["images"]]
    lines.append("-" * len(HEADER))
    lines.append(f"{'mean':<16} {'':>11} {summary['noc85']:>5.2f} {summary['noc90']:>5.2f} {summary['miou1']:>6.3f} "
                 f"{summary['miou3']:>6.3f} {summary['miou5']:>6.3f} {summary['bf3']:>6.3f} "
                 f"{summary['click_ms']:>8.0f} {summary['refine_ms']:>9.0f}{_alpha_cell(summary.get('alpha3'))}")
    if summary.get("alpha3") is not None:
        soft = sum(1 for row in summary["images"] if row.get("alpha3") is not None)
        lines.append(f"soft edges ({soft} images with NAME_alpha.png), after 3 clicks: alpha error "
                     f"{summary['alpha3']:.3f} over the soft band, IoU at 0.5 {summary['alpha_iou3']:.3f}")
    lines.append(f"NoF@90 {summary['nof90']} of {len(summary['images'])}; "
                 f"{'refined' if summary['refined'] else 'raw'} masks"
                 f"{''.join(f' without {s}' for s in summary.get('skipped', []))}, model {summary['model']}, "
                 f"first prompt a {summary.get('prompt', 'click')}; "
                 f"click and refine ms are medians")
    return "\n".join(lines)
