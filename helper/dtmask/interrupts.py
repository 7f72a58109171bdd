"""Ctrl+C and the moment it can no longer cancel.

Exit code 3 promises that nothing was replaced. So from the moment an output file is renamed into place
(:func:`replacing`, called by the atomic writer just before its rename), Ctrl+C inside a :func:`finishing` block
is only noted: the command finishes what it started and exits 0. Before that moment Ctrl+C raises
KeyboardInterrupt as usual, and the atomic writer removes its temporary file.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


@dataclass
class Guard:
    """One :func:`finishing` block: has a file been replaced in it, and did Ctrl+C come after that."""

    replaced: bool = False
    interrupted: bool = False


_guards: list[Guard] = []


def replacing() -> None:
    """An output file is about to be renamed into place: from now on Ctrl+C does not cancel the innermost block
    (a batch gives each photo its own block, so Ctrl+C between photos still stops it)."""
    if _guards:
        _guards[-1].replaced = True


_outside: list = []  # the SIGINT handler from before the outermost block


def _on_sigint(signum, frame) -> None:
    if _guards and _guards[-1].replaced:
        _guards[-1].interrupted = True
        return
    handler = _outside[0] if _outside else signal.default_int_handler
    if callable(handler):
        handler(signum, frame)
    elif handler != signal.SIG_IGN:  # SIG_DFL, or a handler set outside Python
        raise KeyboardInterrupt


@contextmanager
def finishing() -> Iterator[Guard]:
    """A block that Ctrl+C cancels only until it replaces a file (innermost block decides).

    Only the main thread can own signal handlers; elsewhere the block just records what was replaced.
    """
    guard = Guard()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _on_sigint) if main else None
    if main and not _outside:
        _outside.append(previous)
    _guards.append(guard)
    try:
        yield guard
    finally:
        _guards.remove(guard)
        if main:
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
            if previous is not _on_sigint:
                _outside.clear()
