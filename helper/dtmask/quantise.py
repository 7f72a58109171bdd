"""The int8 encoder: derived at install time from a model's pinned full-precision encoder.

Dynamic quantisation of the encoder's matrix products only (weights int8 per output channel, activations
quantised per run, so no calibration images are involved and the file is the same on every machine). The
convolutions stay float: quantising them cost accuracy and no time. Weights use 7 bits (``reduce_range``):
on CPUs without VNNI onnxruntime multiplies u8 x s8 pairs into 16-bit sums, which 8-bit weights can overflow.
Measured in docs/benchmarks.md, "The int8 encoder". Only the model install imports this (and ``onnx``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .errors import ModelError, first_line

INT8_OPS = ("MatMul",)


def int8_encoder(src: Path, dst: Path) -> None:
    """Write the int8 form of the encoder ``src`` to ``dst`` (atomically), or raise a ModelError saying why not."""
    partial = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    root = logging.getLogger()
    quiet = logging.NullHandler()  # onnxruntime's quantiser logs advice to the root logger; keep stderr clean
    root.addHandler(quiet)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(src), str(partial), op_types_to_quantize=list(INT8_OPS), per_channel=True,
                         reduce_range=True, weight_type=QuantType.QInt8)
        os.replace(partial, dst)
    except Exception as exc:  # ImportError (no onnx), or a graph the quantiser cannot take
        raise ModelError(f"cannot make the int8 encoder: {first_line(exc)}") from None
    finally:
        root.removeHandler(quiet)
        partial.unlink(missing_ok=True)
