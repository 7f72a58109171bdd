"""What every file-to-file job shares: the options of a written mask, its report, the output checks, and
reading the photo while the model loads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import DtmaskError, UsageError
from ..imageio import Image, check_folder, mask_format_for, read_image, same_file
from ..model import Model, load_model, predicted_iou


@dataclass(kw_only=True)
class MaskOptions:
    """How a job's masks are made and written (keyword-only: each job puts its own fields first)."""

    model: str | None = None
    fmt: str | None = None
    invert: bool = False
    feather: float = 0.0
    device: str = "auto"
    use_cache: bool = True


@dataclass
class SegmentReport:
    """One mask written (``segment``, ``pick``, each photo of ``batch``): what ``--json`` prints."""

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


def check_prompts_output(path: str | None, mask: str, reading: Sequence[str]) -> None:
    """The saved prompts go to a file of their own: never over the mask or an image being read."""
    if path is None:
        return
    check_folder(Path(path).parent)
    check_not_reading(path, list(reading))
    if same_file(path, mask):
        raise UsageError(f"the mask and its prompts would be the same file: {mask}")


def read_while_loading(path: str, model: Model | None, model_id: str | None, device: str, hash_pixels: bool,
                       check: Callable[[Image], None] = lambda image: None) -> tuple[Image, Model]:
    """Read the image (hash its pixels for the embedding cache, then ``check`` it) in a thread while the model
    loads.

    Reading and hashing spend their time in calls that release the GIL (the file read, sha1), session loading
    holds it: the two overlap. The image's errors and ``check``'s come first, as when reading went first.
    """
    def read() -> Image:
        image = read_image(path, mapped=True)  # a job's photo stays as it is for the seconds it runs
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
