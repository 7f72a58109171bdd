"""The small interface every model family implements (one module per family, like rembg's sessions).

An engine knows its model's tensors and nothing else: it takes a model-frame image and model-frame prompts and
returns logits on a grid that covers the 1024 x 1024 model frame. Files, caching and geometry live elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ModelError

SAM_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
SAM_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)

LABEL_FOREGROUND = 1
LABEL_BACKGROUND = 0
LABEL_BOX_TOP_LEFT = 2
LABEL_BOX_BOTTOM_RIGHT = 3
LABEL_PADDING = -1


@dataclass
class Decoded:
    """What one decoder call gives: logits covering the model frame, a predicted IoU, and the feedback tensor."""

    logits: np.ndarray  # (n, n) float32 logits over the 1024 x 1024 model frame (n = 256 or 1024)
    score: float
    feedback: np.ndarray  # what the next call takes as its previous mask


DEVICE_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "coreml": ["CoreMLExecutionProvider", "CPUExecutionProvider"],
    "dml": ["DmlExecutionProvider", "CPUExecutionProvider"],
}


def providers_for(device: str) -> tuple[list[str], str | None]:
    """Execution providers for a device name, and a one-line notice when it falls back to the CPU."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    if device == "auto":
        for name in ("cuda", "coreml", "dml"):
            if DEVICE_PROVIDERS[name][0] in available:
                return DEVICE_PROVIDERS[name], None
        return DEVICE_PROVIDERS["cpu"], None
    wanted = DEVICE_PROVIDERS[device]
    if wanted[0] in available:
        return wanted, None
    return DEVICE_PROVIDERS["cpu"], f"{device} is not available in this onnxruntime; using the CPU"


def physical_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def open_session(path: str, providers: list[str]):
    """An onnxruntime session with one intra-op thread per core and quiet logging."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = physical_cores()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=providers)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load {os.path.basename(path)}: {first[:200]}") from None


def check_io(session, family: str, inputs: set[str], outputs: set[str], role: str) -> None:
    """Refuse a model file whose tensor names do not match its family, saying exactly what is missing."""
    have_in = {i.name for i in session.get_inputs()}
    have_out = {o.name for o in session.get_outputs()}
    missing = sorted(inputs - have_in) + sorted(outputs - have_out)
    if missing:
        raise ModelError(f"{family} {role} lacks tensor(s) {', '.join(missing)}; is it the right family?")


class Engine:
    """Base of the family engines: ``normalise``, ``encode`` and ``decode``."""

    family: ClassVar[str]
    has_box: ClassVar[bool] = True

    def normalise(self, rgb: np.ndarray) -> np.ndarray:
        """(h, w, 3) float32 0..255 model-frame image -> the encoder's (1, 3, 1024, 1024) input."""
        size = 1024
        canvas = np.zeros((3, size, size), dtype=np.float32)
        h, w = rgb.shape[:2]
        canvas[:, :h, :w] = np.moveaxis((rgb - SAM_MEAN) / SAM_STD, -1, 0)
        return canvas[None]

    def encode(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def decode(self, features: dict[str, np.ndarray], coords: np.ndarray, labels: np.ndarray,
               previous: np.ndarray | None) -> Decoded:
        """coords: (N, 2) model-frame pixels; labels: (N,) with the LABEL_* values; previous: feedback or None."""
        raise NotImplementedError
