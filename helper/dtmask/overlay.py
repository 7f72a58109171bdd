"""A picture to check a mask by eye: the photo, the object tinted, its outline drawn."""

from __future__ import annotations

import numpy as np

from .imageio import Image

TINT = np.array([255, 40, 90], np.float32)  # a magenta that stands out on most photos
OUTLINE = np.array([255, 255, 255], np.uint8)


def display_rgb8(image: Image) -> np.ndarray:
    """The image as 8-bit RGB (the helper's input is display-referred already)."""
    px = image.pixels.astype(np.float32) * (255.0 / image.white)
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    return np.clip(px + 0.5, 0, 255).astype(np.uint8)


def overlay(image: Image, mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """(H, W, 3) uint8: the photo with the masked object tinted and a one-pixel outline around it."""
    rgb = display_rgb8(image).astype(np.float32)
    weight = (np.clip(mask, 0, 1) * alpha)[..., None]
    out = (rgb * (1 - weight) + TINT * weight + 0.5).astype(np.uint8)
    inside = mask > 0.5
    edge = np.zeros_like(inside)
    edge[:-1] |= inside[:-1] != inside[1:]
    edge[:, :-1] |= inside[:, :-1] != inside[:, 1:]
    out[edge] = OUTLINE
    return out
