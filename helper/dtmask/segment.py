"""One segmentation from file to file: what ``dtmask segment`` (and batch) run, with timings for --json."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from . import promptfile
from .errors import DtmaskError, UsageError
from .imageio import Image, check_folder, mask_format_for, read_image, same_file, write_mask, write_png
from .model import Model, Prompts, Result, load_model, predicted_iou
from .overlay import overlay
from .refine import Refinement


@dataclass
class SegmentJob:
    """What to segment and how to write it. Prompt values are pixels, or 0..1 fractions with ``relative``."""

    image: str
    output: str
    points: list[tuple[float, float]] = field(default_factory=list)
    negatives: list[tuple[float, float]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    strokes: list[list[tuple[float, float]]] = field(default_factory=list)
    negative_strokes: list[list[tuple[float, float]]] = field(default_factory=list)
    relative: bool = False
    model: str | None = None
    fmt: str | None = None
    invert: bool = False
    feather: float = 0.0
    device: str = "auto"
    use_cache: bool = True
    overlay: str | None = None  # also write a PNG picture of the mask over the photo here
    subject: bool = False  # no clicks: the photo's main subject (dtmask.subject); negatives still apply
    refine: Refinement = field(default_factory=Refinement)  # the refinement stages (all on by default)
    prompts_file: str | None = None  # start from these saved prompts (promptfile), the others added on top
    save_prompts: str | None = None  # also write the prompts used here (promptfile), after the mask

    def prompts_for(self, image: Image) -> Prompts:
        given = self._given(image)
        if self.prompts_file is None:
            return given
        return promptfile.merged(promptfile.load(self.prompts_file).in_frame(image.width, image.height), given)

    def _given(self, image: Image) -> Prompts:
        if self.relative:
            return Prompts.from_relative(self.points, self.negatives, self.box, width=image.width,
                                         height=image.height, strokes=self.strokes,
                                         negative_strokes=self.negative_strokes)
        return Prompts(points=list(self.points), negatives=list(self.negatives), box=self.box,
                       strokes=[list(s) for s in self.strokes],
                       negative_strokes=[list(s) for s in self.negative_strokes])


@dataclass
class SegmentReport:
    output: str
    width: int
    height: int
    model: str
    score: float
    cached: bool
    prompts: dict
    timings: dict[str, float]
    notes: list[str]

    def __post_init__(self) -> None:
        self.score = predicted_iou(self.score)  # reported as predicted IoU

    def as_json(self) -> dict:
        return {"output": self.output, "width": self.width, "height": self.height, "model": self.model,
                "score": round(self.score, 4), "cached_embedding": self.cached, "prompts": self.prompts,
                "timings": {k: round(v, 4) for k, v in self.timings.items()}}


def check_output(path: str, fmt: str | None, reading: Sequence[str] = ()) -> str:
    """Fail before any slow work when the mask could not be written (a missing folder is made when it is
    written), or would overwrite one of the images ``reading``: returns the format."""
    fmt = mask_format_for(path, fmt)
    if Path(path).is_dir():
        raise DtmaskError(f"output path is a folder: {path}")
    check_folder(Path(path).parent)
    check_not_reading(path, reading)
    return fmt


def check_not_reading(path: str, reading: Sequence[str]) -> None:
    """A usage error when writing ``path`` would overwrite an image this run reads."""
    for image in reading:
        if same_file(path, image):
            raise UsageError(f"{path} is the image being read: write to another file, never over the photo")


def read_while_loading(path: str, model: Model | None, model_id: str | None, device: str, hash_pixels: bool,
                       check: Callable[[Image], None] = lambda image: None) -> tuple[Image, Model]:
    """Read the image (hash its pixels for the embedding cache, then ``check`` it) in a thread while the model
    loads.

    Reading and hashing spend their time in calls that release the GIL (the file read, sha1), session loading
    holds it: the two overlap. The image's errors and ``check``'s come first, as when reading went first.
    """
    def read() -> Image:
        image = read_image(path)
        check(image)
        if hash_pixels:
            image.digest  # noqa: B018 - computed now, while the model loads
        return image

    if model is not None:
        return read(), model
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read)
        try:
            model = load_model(model_id, device)
        except BaseException:
            reading.result()  # a bad image or bad prompts are the first thing to say
            raise
        return reading.result(), model


def check_prompts_output(path: str | None, mask: str, reading: Sequence[str]) -> None:
    """The saved prompts go to a file of their own: never over the mask or an image being read."""
    if path is None:
        return
    check_folder(Path(path).parent)
    check_not_reading(path, list(reading))
    if same_file(path, mask):
        raise UsageError(f"the mask and its prompts would be the same file: {mask}")


def run(job: SegmentJob, model: Model | None = None) -> SegmentReport:
    """Read, encode (or reuse the cached embedding), decode, upsample and write the mask atomically."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    fmt = check_output(job.output, job.fmt, reading=[job.image])
    check_prompts_output(job.save_prompts, job.output, [job.image])
    if job.overlay:
        check_output(job.overlay, "png", reading=[job.image])
        if same_file(job.overlay, job.output):
            raise UsageError(f"the mask and the overlay would be the same file: {job.output}")

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        times[name] = now - since
        return now

    def check(image: Image) -> None:
        prompts = job.prompts_for(image)
        if job.subject:
            from .subject import check_extra_prompts
            check_extra_prompts(prompts, image.width, image.height)
        else:
            prompts.validate(image.width, image.height)

    t = start
    image, model = read_while_loading(job.image, model, job.model, job.device, job.use_cache, check)
    t = lap("read", t)
    prompts = job.prompts_for(image)
    embedding = model.encode(image, use_cache=job.use_cache)
    t = lap("encode", t)
    if job.subject:
        from .subject import find_subject
        found = find_subject(model, embedding, extra=prompts)
        prompts, result = found.prompts, found.result
    else:
        result: Result = model.decode(embedding, prompts, refine=job.refine)
    t = lap("decode", t)
    mask = result.mask(invert=job.invert, feather_px=job.feather, refine=job.refine)
    t = lap("refine", t)
    write_mask(job.output, mask, fmt)
    if job.overlay:
        write_png(job.overlay, overlay(image, mask))
    if job.save_prompts:
        promptfile.save(job.save_prompts, promptfile.SavedPrompts(prompts, image.width, image.height))
    lap("write", t)
    times["total"] = time.perf_counter() - start
    notes = list(image.notes) + ([model.notice] if model.notice else [])
    return SegmentReport(output=str(Path(job.output).resolve()), width=image.width, height=image.height,
                         model=model.id, score=result.score, cached=embedding.cached,
                         prompts=prompts.as_json(), timings=times, notes=notes)
