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
            if logger.isEnabledFor(TRACE):
                logger.log(TRACE, "where the error arose:", exc_info=True)
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


#: ``-vv``: DEBUG with times and the logger's name, the libraries' own logs (the portal's HTTP
#: requests), and where an error arose.
TRACE = logging.DEBUG - 5
logging.addLevelName(TRACE, "TRACE")
#: The name of the handler the command line installs (so a later run can take it off again).
HANDLER_NAME = "geo-violence"
#: Libraries whose debug output is noise even at ``-vv`` (numba logs every compilation pass).
NOISY_LIBRARIES = ("numba", "matplotlib", "fiona", "pyogrio", "PIL", "asyncio")


def _configure_logging(verbose: int, quiet: int) -> None:
    """``-q``: warnings and errors (``-qq``: errors); the default: what each command did in a
    line or two, and warnings; ``-v``: each stage and how long it took (DEBUG); ``-vv``: also
    times, logger names, the libraries' logs and where an error arose."""
    level = {0: logging.INFO, 1: logging.DEBUG}.get(verbose, TRACE) if not quiet else None
    if quiet:
        level = logging.WARNING if quiet == 1 else logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    detailed = verbose >= 2 and not quiet
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(name)s %(levelname)s: %(message)s" if detailed else "%(message)s"
        )
    )
    handler.set_name(HANDLER_NAME)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    for old in ours:  # an earlier -vv in this process (tests, notebooks)
        root.removeHandler(old)
    if ours and not detailed:
        root.setLevel(logging.WARNING)
    if detailed:
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        for name in NOISY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)


@click.group(cls=Group)
@click.version_option(package_name="geo-violence")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Say more: -v each stage and its time; -vv also the libraries' logs (HTTP requests), "
    "times of day, and where an error arose.",
)
@click.option(
    "-q",
    "--quiet",
    count=True,
    help="Say less: -q only warnings and errors, and no progress line; -qq only errors.",
)
def main(verbose: int, quiet: int) -> None:
    """Where violence is concentrating and where it is fading, unit by unit."""
    _configure_logging(verbose, quiet)
