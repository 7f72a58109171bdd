"""What each family's ONNX files must look like: tensor names and ranks per role (``dtmask models add`` checks a
user's folder against these before it registers anything).

Each engine class declares ``tensors = {role: RoleSpec(...)}``. A named tensor must exist with that rank; a
tensor named ``None`` may have any name and is matched by rank among the file's other tensors (exporters name
a single encoder input ``input``, ``image`` or ``images``). Every input of the file must be one the engine feeds,
since onnxruntime refuses a run that leaves an input out; extra outputs do no harm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from .base import onnxruntime, open_session

Tensors = tuple[tuple[str | None, int], ...]


@dataclass(frozen=True)
class RoleSpec:
    inputs: Tensors
    outputs: Tensors

    def mismatches(self, inputs: list[tuple[str, int | None]], outputs: list[tuple[str, int | None]]) -> list[str]:
        """What about a file's (name, rank) inputs and outputs does not fit this role; empty when it fits.

        A rank of None (unknown in the file) fits any rank.
        """
        problems = _match("input", self.inputs, inputs)
        problems += _match("output", self.outputs, outputs)
        named = {name for name, _ in self.inputs if name}
        spare = sum(1 for name, _ in self.inputs if name is None)
        extra = [name for name, _ in inputs if name not in named]
        if len(extra) > spare:
            unfed = extra[spare:] if spare else extra
            problems.append(f"has input{'s' if len(unfed) > 1 else ''} {', '.join(unfed)} that this family does "
                            f"not feed")
        return problems


def _match(kind: str, wanted: Tensors, have: list[tuple[str, int | None]]) -> list[str]:
    problems = []
    ranks = dict(have)
    lacking = [f"{name} (rank {rank})" for name, rank in wanted if name is not None and name not in ranks]
    if lacking:
        problems.append(f"lacks {kind}{'s' if len(lacking) > 1 else ''} {', '.join(lacking)}")
    for name, rank in wanted:
        if name is not None and name in ranks and ranks[name] is not None and ranks[name] != rank:
            problems.append(f"{kind} {name} has rank {ranks[name]}, not {rank}")
    named = {name for name, _ in wanted if name}
    free = [r for n, r in have if n not in named]
    for name, rank in wanted:
        if name is not None:
            continue
        hit = next((i for i, r in enumerate(free) if r is None or r == rank), None)
        if hit is None:
            problems.append(f"has no rank-{rank} {kind}")
        else:
            free.pop(hit)
    return problems


def read_io(path: Path) -> tuple[list[tuple[str, int | None]], list[tuple[str, int | None]]]:
    """(name, rank) of an ONNX file's inputs and outputs; a ModelError when onnxruntime cannot read it."""
    session = _signature_session(path)

    def sig(items):
        return [(i.name, len(i.shape) if i.shape is not None else None) for i in items]

    return sig(session.get_inputs()), sig(session.get_outputs())


def describe_io(path: Path) -> tuple[list[str], list[str]]:
    """"name type shape" of an ONNX file's inputs and outputs, for ``dtmask models info``: from the session the
    engines open, whose optimised graph knows shapes (such as a fixed batch) the bare file leaves symbolic."""
    session = open_session(str(path), ["CPUExecutionProvider"])

    def lines(items):
        return [f"{i.name} {i.type} {i.shape}" for i in items]

    return lines(session.get_inputs()), lines(session.get_outputs())


def _signature_session(path: Path):
    """An unoptimised session, opened only to read the file's tensors (a ModelError when it cannot be read)."""
    ort = onnxruntime()

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # only the signature is wanted
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{path.name} is not a readable ONNX model: {first[:160]}") from None
