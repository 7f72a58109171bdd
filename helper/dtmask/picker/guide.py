"""The full-resolution guide that darktable exports while the user clicks on a small preview.

Inside darktable the picker opens on a small export (the *preview*: at most 1024 pixels, as darktable displays the
photo), because the encoder needs no more and a full-resolution export takes seconds, or minutes with heavy modules.
The full-resolution export in the raster frame (the *guide*) is written meanwhile and is needed only at Apply: it
snaps the mask's edges and gives the mask its frame. The orientation the user sees is found by comparing the two,
so no other export is needed.

Each export is renamed into place once complete; ``NAME.error`` next to it carries darktable's message instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import orientation
from ..errors import Cancelled, DtmaskError
from ..geometry import display_to_file, orient_array, unorient_array
from ..imageio import Image, read_image
from ..model import Prompts

POLL_SECONDS = 0.05


def wait_for(path: str | Path, seconds: float, stop: threading.Event | None = None) -> Path:
    """Wait up to ``seconds`` for ``path`` to appear; ``path.error`` ends the wait with the message it holds, and
    ``stop`` (the picker closed) ends it as cancelled. With no time to wait the path is returned as it is (the
    reader then says what is wrong with it)."""
    path = Path(path)
    if seconds <= 0:
        return path
    error = path.with_name(path.name + ".error")
    deadline = time.monotonic() + seconds
    while not path.exists():
        if stop is not None and stop.is_set():
            raise Cancelled("cancelled")
        if error.exists():
            message = error.read_text(encoding="utf-8", errors="replace").strip()
            raise DtmaskError(message or f"darktable could not export {path.name}")
        if time.monotonic() > deadline:
            raise DtmaskError(f"darktable did not export {path.name} within {seconds:g} s")
        time.sleep(POLL_SECONDS)
    return path


@dataclass
class Guide:
    """The guide in its raster frame, the orientation N the preview shows it in, and the guide turned that way."""

    raster: Image
    orientation: int
    display: Image

    @classmethod
    def load(cls, path: str | Path, preview: Image, wait: float = 0.0, stop: threading.Event | None = None) -> "Guide":
        """Read the guide (waiting for it) and find the orientation that turns it into the preview."""
        raster = read_image(wait_for(path, wait, stop))
        n = orientation.detect(raster, preview)
        turned = np.ascontiguousarray(orient_array(raster.pixels, n))
        return cls(raster, n, Image(turned, raster.path, raster.notes))

    def from_preview(self, prompts: Prompts, preview: Image) -> Prompts:
        """Prompts in preview pixels -> the same places in the turned guide's pixels."""
        sx, sy = self.display.width / preview.width, self.display.height / preview.height
        return prompts.mapped(lambda x, y: (x * sx, y * sy))

    def to_raster(self, prompts: Prompts) -> Prompts:
        """Prompts in the turned guide's pixels -> the raster frame (the frame of the mask file)."""
        w, h = self.raster.width, self.raster.height
        return prompts.mapped(lambda u, v: display_to_file(u, v, self.orientation, w, h))

    def mask_to_raster(self, mask: np.ndarray) -> np.ndarray:
        """A mask over the turned guide -> the raster frame (a view: the writers take any layout)."""
        return unorient_array(mask, self.orientation)

