"""One segmentation from file to file: what ``dtmask segment`` (and batch) run, with timings for --json."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import promptfile
from ..errors import UsageError
from ..imageio import Image, mask_file, same_file, write_png
from ..model import Model, Prompts, Result
from ..overlay import overlay
from ..refine import Refinement
from ..subject import check_extra_prompts, find_subject
from .files import MaskOptions, SegmentReport, check_output, check_prompts_output, read_while_loading


@dataclass
class SegmentJob(MaskOptions):
    """What to segment and how to write it. Prompt values are pixels, or 0..1 fractions with ``relative``."""

    image: str
    output: str
    points: list[tuple[float, float]] = field(default_factory=list)
    negatives: list[tuple[float, float]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    strokes: list[list[tuple[float, float]]] = field(default_factory=list)
    negative_strokes: list[list[tuple[float, float]]] = field(default_factory=list)
    relative: bool = False
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
        found = find_subject(model, embedding, extra=prompts)
        prompts, result = found.prompts, found.result
    else:
        result: Result = model.decode(embedding, prompts, refine=job.refine)
    t = lap("decode", t)
    with mask_file(job.output, fmt, image.width, image.height) as target:
        mask = result.mask(invert=job.invert, feather_px=job.feather, refine=job.refine, out=target.canvas)
        t = lap("refine", t)
        target.write(mask)
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
