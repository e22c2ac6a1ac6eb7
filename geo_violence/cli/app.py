"""The ``geo-violence`` command group: logging, and every user error as one line.

Every error a user can cause is printed as one line (``error: ...``) with exit status 1 (or the
status its error class carries: 2 a source unavailable, 3 a changed schema, 4 a held lock).
"""

from __future__ import annotations

import logging
import sys

import click

from ..errors import GeoViolenceError, restore_interrupts

logger = logging.getLogger("geo_violence")


class Group(click.Group):
    """A click group that turns user errors into one line and exit status 1."""

    def invoke(self, ctx: click.Context):
        restore_interrupts()  # from here on, Ctrl-C is KeyboardInterrupt: "interrupted", 130
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a bad option value: one line too, not the usage
            command = f" {error.ctx.info_name}" if error.ctx and error.ctx.parent else ""
            _fail(ctx, f"{error.format_message()} (see geo-violence{command} --help)")
        except (GeoViolenceError, OSError) as error:  # OSError: disk full, permission denied
            _fail(ctx, str(error), getattr(error, "exit_code", 1))
        except KeyboardInterrupt:
            _fail(ctx, "interrupted", 130)
        except EOFError as error:  # a compressed file cut short, where no reader caught it
            _fail(ctx, f"a file ends too early, cut off or truncated ({error})")


def _fail(ctx: click.Context, message: str, status: int = 1) -> None:
    """Print an error as one line and exit with its status (1 for a user error; see
    ``geo-violence weekly --help`` for the others)."""
    click.echo("error: " + " ".join(message.split()), err=True)
    ctx.exit(status)


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.INFO - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(max(logging.DEBUG, level))
    logger.propagate = False


@click.group(cls=Group)
@click.version_option(package_name="geo-violence")
@click.option("-v", "--verbose", count=True, help="Say more (repeat for debug output).")
@click.option("-q", "--quiet", count=True, help="Say less: only warnings and errors.")
def main(verbose: int, quiet: int) -> None:
    """Where violence is concentrating and where it is fading, unit by unit."""
    _configure_logging(verbose, quiet)
