"""Every object in one photo, from file to files (``dtmask segment --all``): list them, write each mask."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..auto import MIN_SCORE, MIN_STABILITY, POINTS_PER_SIDE, generate
from ..errors import UsageError
from ..imageio import mask_file, mask_format_for
from ..model import Model
from .files import MaskOptions, check_not_reading, check_output, read_while_loading


@dataclass
class AllJob(MaskOptions):
    """``dtmask segment IMAGE --all``: list the objects, and write each one's mask when ``output`` is given.

    ``output`` is a folder (masks named ``<stem>-NN.<fmt>``) or a pattern holding ``{n}`` (the object's number,
    1 = largest; format specs work: ``{n:03d}``) and optionally ``{stem}`` (the image's name without extension).
    """

    image: str
    output: str | None = None
    points_per_side: int = POINTS_PER_SIDE
    fast: bool = False  # skip grid points inside objects already found
    min_score: float = MIN_SCORE
    min_stability: float = MIN_STABILITY


@dataclass
class AllReport:
    image: str
    width: int
    height: int
    model: str
    cached: bool
    objects: list[dict]
    decodes: int
    grid: int
    timings: dict[str, float]
    notes: list[str]

    def as_json(self) -> dict:
        return {"image": self.image, "width": self.width, "height": self.height, "model": self.model,
                "cached_embedding": self.cached, "count": len(self.objects), "objects": self.objects,
                "decodes": self.decodes, "grid_points": self.grid,
                "timings": {k: round(v, 4) for k, v in self.timings.items()}}


def output_paths(output: str, image: str, count: int, fmt: str | None) -> list[str]:
    """The file of each object's mask for ``-o`` (a folder, or a pattern with ``{n}``)."""
    stem = Path(image).stem
    if "{" not in output:
        if not Path(output).is_dir() and Path(output).suffix.lower() in (".pfm", ".png"):
            raise UsageError(f"with --all, -o is a folder or a pattern with {{n}} such as "
                             f"'masks/{stem}-{{n:02d}}.pfm': {output}")
        ext = fmt or "pfm"  # a folder, made when missing
        return [str(Path(output) / f"{stem}-{n:02d}.{ext}") for n in range(1, count + 1)]
    try:
        paths = [output.format(n=n, stem=stem) for n in range(1, count + 2)]
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"bad -o pattern {output!r}: use {{n}} (and optionally {{stem}}): {exc}") from None
    if len(set(paths)) != len(paths):
        raise UsageError(f"the -o pattern {output!r} gives every object the same file: put {{n}} in it")
    for p in paths:
        mask_format_for(p, fmt)  # the extension must say pfm or png (or --format)
    return paths[:count]


def check_output_pattern(output: str, image: str, fmt: str | None) -> None:
    """Fail before the slow work when the masks could not be written."""
    for p in output_paths(output, image, 1, fmt):
        check_output(p, fmt, reading=[image])


def run_all(job: AllJob, model: Model | None = None,
            progress: Callable[[int, int], None] | None = None) -> AllReport:
    """Read, encode, generate; with ``output``, write every object's refined full-resolution mask."""
    times: dict[str, float] = {}
    start = t = time.perf_counter()
    if job.output:
        check_output_pattern(job.output, job.image, job.fmt)
    image, model = read_while_loading(job.image, model, job.model, job.device, job.use_cache)
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()
    embedding = model.encode(image, use_cache=job.use_cache)
    times["encode"] = time.perf_counter() - t
    t = time.perf_counter()
    gen = generate(model, embedding, points_per_side=job.points_per_side, min_score=job.min_score,
                   min_stability=job.min_stability, skip_covered=job.fast, progress=progress)
    times["generate"] = time.perf_counter() - t
    objects = [{"id": n, **m.as_json()} for n, m in enumerate(gen.masks, 1)]
    if job.output:
        t = time.perf_counter()
        paths = output_paths(job.output, job.image, len(gen.masks), job.fmt)
        for path in paths:  # a pattern may meet the photo's own name at a later {n}
            check_not_reading(path, [job.image])
        for obj, m, path in zip(objects, gen.masks, paths):
            with mask_file(path, mask_format_for(path, job.fmt), image.width, image.height) as target:
                mask = m.mask(invert=job.invert, feather_px=job.feather, out=target.canvas)
                inside = mask > 0.5
                if job.invert:
                    inside = ~inside
                obj["area"] = int(np.count_nonzero(inside))  # exact, now that the full mask exists
                if obj["area"]:
                    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
                    obj["bbox"] = [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]
                target.write(mask)
            obj["output"] = str(Path(path).resolve())
            del mask, inside
        times["write"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    notes = list(image.notes) + ([model.notice] if model.notice else [])
    return AllReport(image=str(Path(job.image).resolve()), width=image.width, height=image.height, model=model.id,
                     cached=embedding.cached, objects=objects, decodes=gen.decodes, grid=gen.grid, timings=times,
                     notes=notes)
