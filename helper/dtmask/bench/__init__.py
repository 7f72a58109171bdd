"""Benchmarks: speed (the performance budget) and quality (the interactive-segmentation protocol; make-set and
quality need the ``bench`` extra)."""

from __future__ import annotations

import importlib

from ..errors import UsageError

EXTRA_MODULES = ("scipy", "skimage")  # what the bench extra in pyproject.toml brings


def require_extra(command: str) -> None:
    """A one-line usage error, before any output, when the bench extra is missing; says how to get it for each
    way of installing dtmask."""
    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise UsageError(f"dtmask bench {command} needs the bench extra (scikit-image, scipy), and {name} is "
                             f"missing: ./install.sh --bench, or pipx inject dtmask scikit-image scipy, or "
                             f"pip install '.[bench]' in the dtmask folder") from None
