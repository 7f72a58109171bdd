"""Errors that reach the user as one line and a documented exit code (docs/design.md, "Errors and exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3


class DtmaskError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message, one line."""

    exit_code = EXIT_RUNTIME


class UsageError(DtmaskError):
    """Bad input from the user: wrong prompt, point outside the image, unknown option value."""

    exit_code = EXIT_USAGE


class ModelError(DtmaskError):
    """Unknown, missing or damaged model."""


class Cancelled(DtmaskError):
    """The user cancelled (closed the picker, pressed Esc, Ctrl+C)."""

    exit_code = EXIT_CANCELLED


def first_line(exc: BaseException) -> str:
    """An exception's first line (at most 200 characters), for one-line messages about others' errors."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
