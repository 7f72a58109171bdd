"""Model families: one engine class per family, chosen by the manifest's ``family``."""

from __future__ import annotations

from .base import Decoded, Engine
from .fastsam import FastSamEngine
from .hqsam import HqSamEngine
from .sam1 import Sam1Engine
from .sam2 import Sam2Engine
from .segnext import SegNextEngine

FAMILIES: dict[str, type[Engine]] = {
    "sam1": Sam1Engine,
    "sam2": Sam2Engine,
    "segnext": SegNextEngine,
    "hqsam": HqSamEngine,
    "fastsam": FastSamEngine,
}

__all__ = ["Decoded", "Engine", "FAMILIES"]
