"""The small interface every model family implements (one module per family, like rembg's sessions).

An engine knows its model's tensors and nothing else: it takes a model-frame image and model-frame prompts and
returns logits on a grid that covers the 1024 x 1024 model frame. Files, caching and geometry live elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Sequence

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
    # every mask the decoder made for these prompts (its ambiguity masks), when it made more than one; the
    # model chooses among them on a lone first click (model.Model.decode)
    candidates: list["Decoded"] = field(default_factory=list)

    @classmethod
    def choices(cls, masks: np.ndarray, scores: np.ndarray) -> list["Decoded"]:
        """One candidate per mask of a (k, n, n) stack with its (k,) predicted IoUs; none when k is 1."""
        if len(masks) < 2:
            return []
        return [cls(logits=m, score=float(s), feedback=m[None, None])
                for m, s in zip(masks.astype(np.float32), scores)]


DEVICE_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "coreml": ["CoreMLExecutionProvider", "CPUExecutionProvider"],
    "dml": ["DmlExecutionProvider", "CPUExecutionProvider"],
}


def onnxruntime():
    """The onnxruntime module with its telemetry off: every dtmask import of it goes through here.

    Linux and macOS builds (1.29+) write and upload events from the import on (~/.cache/Microsoft/...:
    the OS, the Python path) unless ORT_DISABLE_TELEMETRY=1 is set before it; Windows builds obey
    disable_telemetry_events().
    """
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    return ort


def providers_for(device: str) -> tuple[list[str], str | None]:
    """Execution providers for a device name, and a one-line notice when it falls back to the CPU."""
    ort = onnxruntime()

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


def open_session(path: str, providers: list[str], identity: str = "", extra_outputs: Sequence[str] = ()):
    """An onnxruntime session with one intra-op thread per core, no spinning, and quiet logging.

    On the CPU the optimised graph is saved in the cache folder (keyed by ``identity``, the file's sha256, and
    the onnxruntime version), so later runs skip graph optimisation (docs/benchmarks.md, "Loading a model").
    ``extra_outputs`` names inner float tensors of the graph to return as further outputs.
    """
    ort = onnxruntime()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = physical_cores()
    opts.inter_op_num_threads = 1
    # idle threads sleep instead of spinning: with darktable, another worker or a second decode running beside
    # this session, spinning threads take the cores they wait for (a decode measured 2.5x slower so)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    if extra_outputs and identity:  # another graph: another saved optimised file
        identity = hashlib.sha256("\0".join([identity, *extra_outputs]).encode()).hexdigest()
    optimised = _optimised_path(path, identity, ort.__version__) if providers == ["CPUExecutionProvider"] else None
    if optimised is not None and optimised.is_file():
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(optimised), sess_options=opts, providers=providers)
        except Exception:
            optimised.unlink(missing_ok=True)  # stale or damaged: rebuild it from the original below
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    partial = None
    if optimised is not None:
        try:
            optimised.parent.mkdir(parents=True, exist_ok=True)
            partial = optimised.with_name(f".{optimised.name}.{os.getpid()}.part")
            opts.optimized_model_filepath = str(partial)
        except OSError:
            partial = None
    try:
        model = Path(path).read_bytes() + graph_outputs_patch(extra_outputs) if extra_outputs else path
        session = ort.InferenceSession(model, sess_options=opts, providers=providers)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load {os.path.basename(path)}: {first[:200]}") from None
    if partial is not None:
        try:
            os.replace(partial, optimised)
        except OSError:
            pass
    return session


def graph_outputs_patch(names: Sequence[str]) -> bytes:
    """Bytes that, appended to an .onnx file, make the named inner float tensors graph outputs too.

    Protobuf merges a repeated top-level message field into the earlier one, so this is a second ``graph``
    (ModelProto field 7) holding only ``output`` entries (GraphProto field 12: ValueInfoProto with a name and a
    float tensor type). Written by hand so that a model load never imports the ``onnx`` package (only
    ``dtmask models install`` does, for the int8 encoder).
    """
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)

    def message(number: int, payload: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    tensor_float = message(1, varint(1 << 3) + varint(1))  # TypeProto.tensor_type { elem_type: FLOAT }
    outputs = b"".join(message(12, message(1, name.encode()) + message(2, tensor_float)) for name in names)
    return message(7, outputs)


def _optimised_path(path: str, identity: str, ort_version: str) -> Path | None:
    if not identity:
        return None
    from ..cache import cache_dir

    tag = f"{identity[:16]}-{ort_version}-{platform.machine()}"
    return cache_dir() / "ort" / f"{Path(path).stem}-{tag}.onnx"


def check_io(session, family: str, inputs: set[str], outputs: set[str], role: str) -> None:
    """Refuse a model file whose tensor names do not match its family, saying exactly what is missing."""
    have_in = {i.name for i in session.get_inputs()}
    have_out = {o.name for o in session.get_outputs()}
    missing = sorted(inputs - have_in) + sorted(outputs - have_out)
    if missing:
        raise ModelError(f"{family} {role} lacks tensor(s) {', '.join(missing)}; is it the right family?")


class Engine:
    """Base of the family engines: ``normalise``, ``encode`` and ``decode``.

    The decoder opens at once; the encoder (the big file) only when an image must really be encoded, so a
    run whose embedding is cached does not pay for loading it.
    """

    family: ClassVar[str]
    has_box: ClassVar[bool] = True
    encoder_io: ClassVar[tuple[set[str], set[str]]] = (set(), set())
    decoder_io: ClassVar[tuple[set[str], set[str]]] = (set(), set())
    # decoder sha256 -> inner tensors to expose as outputs (a known export's ambiguity masks, see sam1)
    hidden_outputs: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, encoder: str, decoder: str, providers: list[str], identities: dict[str, str] | None = None):
        self.encoder_path = encoder
        self.providers = providers
        self.identities = identities or {}
        self._encoder = None
        identity = self.identities.get("decoder", "")
        self.decoder = open_session(decoder, providers, identity, self.hidden_outputs.get(identity, ()))
        check_io(self.decoder, self.family, *self.decoder_io, "decoder")

    @property
    def encoder(self):
        if self._encoder is None:
            session = open_session(self.encoder_path, self.providers, self.identities.get("encoder", ""))
            check_io(session, self.family, *self.encoder_io, "encoder")
            self._encoder = session
        return self._encoder

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
