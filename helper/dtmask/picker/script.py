"""``--script FILE``: prompts replayed through the picker window, for automation and end-to-end tests.

The file is a JSON list of steps in displayed-image pixels (what the window shows, after ``--orientation``):

    [{"point": [u, v]}, {"negative": [u, v]}, {"box": [u0, v0, u1, v1]},
     {"stroke": [[u, v], ...]}, {"negative_stroke": [[u, v], ...]}, {"subject": true}, {"hover": [u, v]},
     {"undo": true}, {"redo": true}, {"invert": true}, {"reset": true}, {"apply": true} | {"cancel": true}]

A script that does not end with apply or cancel applies after its last step. Every step waits until the work of
the steps before it has ended (a click's mask, the subject, a hover outline), so a run does the same whatever the
machine's speed. Hover is off in scripted runs except at a ``hover`` step, which waits for the analysis and then
for its outline (it never changes the prompts). A stroke step is kept flat as (u0, v0, u1, v1, ...).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError

Step = tuple[str, tuple[float, ...]]

ARITY = {"point": 2, "negative": 2, "box": 4, "hover": 2, "undo": 0, "redo": 0, "invert": 0, "reset": 0,
         "subject": 0, "apply": 0, "cancel": 0}
STROKES = ("stroke", "negative_stroke")  # a list of one or more [u, v] points
ENDINGS = ("apply", "cancel")


def load_script(path: str | Path) -> list[Step]:
    """Read and check a script before any window opens; errors name the step."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the script {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"the script {path} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise UsageError(f"the script {path} must be a JSON list of steps")
    steps = [_step(item, i) for i, item in enumerate(data, 1)]
    for i, (action, _) in enumerate(steps[:-1], 1):
        if action in ENDINGS:
            raise UsageError(f"script step {i}: '{action}' must be the last step")
    if not steps or steps[-1][0] not in ENDINGS:
        steps.append(("apply", ()))
    return steps


def _step(item: object, index: int) -> Step:
    if not isinstance(item, dict) or len(item) != 1:
        raise UsageError(f"script step {index}: expected one object with one key, e.g. {{\"point\": [u, v]}}")
    (action, value), = item.items()
    if action in STROKES:
        if (not isinstance(value, list) or not value
                or not all(isinstance(p, list) and len(p) == 2 and _numbers(p) for p in value)):
            raise UsageError(f"script step {index}: '{action}' takes a list of [u, v] points")
        return action, tuple(float(n) for p in value for n in p)
    if action not in ARITY:
        raise UsageError(f"script step {index}: unknown action '{action}' "
                         f"(known: {', '.join([*ARITY, *STROKES])})")
    count = ARITY[action]
    if count == 0:
        if value is not True:
            raise UsageError(f"script step {index}: write {{\"{action}\": true}}")
        return action, ()
    if not isinstance(value, list) or len(value) != count or not _numbers(value):
        raise UsageError(f"script step {index}: '{action}' takes a list of {count} numbers")
    return action, tuple(float(n) for n in value)


def _numbers(values: list) -> bool:
    return all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in values)


def call(step: Step) -> tuple[str, tuple]:
    """The window handler a step runs and its arguments: ("point", (u, v)) -> ("add_point", (u, v, True))."""
    action, args = step
    if action in ("point", "negative"):
        return "add_point", (*args, action == "point")
    if action in STROKES:
        return "add_stroke", (list(zip(args[::2], args[1::2])), action == "stroke")
    return {"box": "set_box"}.get(action, action), args


class Player:
    """Hands out a script's steps one at a time, each only once the work the steps before it started has ended
    (a click's mask, the subject search, a hover outline), and a hover step only once the image is analysed:
    a scripted run does the same thing however fast the machine is."""

    def __init__(self, steps: list[Step]):
        self._steps = list(steps)

    @property
    def done(self) -> bool:
        return not self._steps

    def next(self, ready: bool, busy: bool) -> Step | None:
        """The next step to run now, or None to wait (``busy``: a decode, subject search or hover is under way)."""
        if busy or not self._steps or (self._steps[0][0] == "hover" and not ready):
            return None
        return self._steps.pop(0)
