"""The ``mediaeval`` command: a root group, with subcommands registered per module.

Heavy libraries are imported inside command bodies so that ``--help`` is instant.
"""
from __future__ import annotations

import os

import click

# TensorFlow's C++ log ("failed call to cuInit" on machines without a GPU, ...) buries the
# commands' own output; TF_CPP_MIN_LOG_LEVEL=0 brings it back.  Set before TensorFlow loads, and
# inherited by worker processes.  Two notices printed before absl's log starts still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .. import __version__
from ..errors import MediaevalError


DEBUG_ENV = "MEDIAEVAL_DEBUG"
BUG_NOTE = ("mediaeval: this is a bug (an unexpected error, not a fault of your input); please report it "
            "with its traceback")


def os_error_line(error: OSError) -> str:
    """An ``OSError`` in one line, its path first (``a/b.npz: No space left on device``), and the
    second path of a rename or link when there is one."""
    reason = error.strerror or str(error)
    if error.filename is None:
        return reason
    other = f" -> {error.filename2}" if getattr(error, "filename2", None) is not None else ""
    return f"{error.filename}{other}: {reason}"


class _Group(click.Group):
    """Turns the library's errors (:class:`MediaevalError`, :class:`DataError`: a bad input, a
    lost cluster, a refused setting) and any ``OSError`` (a full disk, a read-only folder, a name
    too long: with its path) into one line and exit status 1; usage errors stay exit status 2.

    Any other exception is a bug: its traceback is shown, with a note saying so.  ``--debug``
    (or ``MEDIAEVAL_DEBUG=1``) shows the traceback of every error instead of its line.  Ctrl-C
    is left to Click ("Aborted!", exit status 1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except MediaevalError as error:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(error)) from error
        except OSError as error:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(os_error_line(error)) from error
        except Exception as error:
            _note_bug(error)
            raise


def _note_bug(error: Exception) -> None:
    """Add :data:`BUG_NOTE` to ``error``'s traceback (printed before it on Python 3.10)."""
    if hasattr(error, "add_note"):
        error.add_note(BUG_NOTE)
    else:  # pragma: no cover  (Python 3.10)
        click.echo(BUG_NOTE, err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "show_default": True})
@click.version_option(__version__, prog_name="mediaeval")
@click.option("--debug", is_flag=True, envvar=DEBUG_ENV,
              help=f"Show the traceback of every error instead of its one-line message (or set {DEBUG_ENV}=1).")
def cli(debug):
    """Toolkit for the MediaEval 2017 Emotional Impact of Movies task.

    From films to a submitted zip: sample data, features, LSTM training, run files,
    validation, official scoring and packaging.  Exit status: 0 success, 1 wrong input or a
    failed step (said on stderr in one line), 2 usage error.  Any other error is a bug: its
    traceback is shown.
    """


from . import compare, data, features, model, pictures, scoring, submission  # noqa: E402  (registration needs ``cli`` defined)

for module in (data, features, model, pictures, scoring, submission, compare):
    for command in module.COMMANDS:
        cli.add_command(command)


def main():
    """The ``mediaeval`` command.  SIGTERM (batch schedulers, ``timeout``) ends it as Ctrl-C does:
    workers stopped, temporary files removed, "Aborted!", exit status 1."""
    from ..workers import terminate_like_ctrl_c

    terminate_like_ctrl_c()
    cli(prog_name="mediaeval")
