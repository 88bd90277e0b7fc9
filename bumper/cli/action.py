"""The ``bumper action`` command: the entry point ``action.yml`` runs (registered by bumper.cli).

It takes no arguments: the Action's inputs arrive as ``INPUT_*`` environment variables.
"""

from __future__ import annotations

import click


@click.command(
    "action", short_help="Run as the GitHub Action (inputs from INPUT_* environment variables)."
)
def action_command() -> None:
    """Build, push, bump and deliver as the GitHub Action does.

    Every input is read from an INPUT_<NAME> environment variable (INPUT_IMAGE,
    INPUT_PATHS, INPUT_TAG_STRATEGY …); outputs go to GITHUB_OUTPUT and a job summary
    to GITHUB_STEP_SUMMARY. action.yml runs this; the README lists the inputs.
    """
    from bumper.action import run

    try:
        code = run()
    except OSError as error:
        # GITHUB_OUTPUT or GITHUB_STEP_SUMMARY cannot be written: say so in one line.
        click.echo(f"bumper: error: cannot write the step's outputs: {error}", err=True)
        code = 1
    raise SystemExit(code)
