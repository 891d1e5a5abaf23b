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


class _Group(click.Group):
    """Turns the library's errors, and any ``OSError`` (a full disk, a file that cannot be
    opened), into a message naming the file and exit status 1.  Programming errors and Ctrl-C
    are left as they are."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MediaevalError as error:
            raise click.ClickException(str(error)) from error
        except OSError as error:
            reason = error.strerror or str(error)
            where = f"{error.filename}: " if error.filename is not None else ""
            raise click.ClickException(f"{where}{reason}") from error


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "show_default": True})
@click.version_option(__version__, prog_name="mediaeval")
def cli():
    """Toolkit for the MediaEval 2017 Emotional Impact of Movies task.

    From films to a submitted zip: sample data, features, LSTM training, run files,
    validation, official scoring and packaging.  Exit status: 0 success, 1 wrong input or a
    failed step (said on stderr), 2 usage error.
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
