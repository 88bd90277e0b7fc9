"""The ``bumper`` command: a thin click shell over the library, one module per group.

Start-up matters (it runs in every pipeline): at start-up only click and these command
modules load; each command imports the library it needs when it runs.
"""

from __future__ import annotations

import logging
import sys

import click

from bumper import __version__
from bumper.cli import action, build, lifecycle, registry, setimage
from bumper.cli.common import safe_streams, stop_on_sigterm

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bumper")
def main() -> None:
    """Bump container image references in Kubernetes manifests, surgically.

    Every byte outside the changed values stays as it was.
    """
    safe_streams()
    stop_on_sigterm()
    # Delivery reports its retries (a branch moved, a rate limit) as log lines: show them.
    # A fresh handler per run: it must write to the stderr of this invocation.
    logger = logging.getLogger("bumper")
    for old in [h for h in logger.handlers if h.get_name() == "bumper-cli"]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("bumper-cli")
    handler.setFormatter(logging.Formatter("bumper: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


for _command in (
    setimage.set_image,
    setimage.images,
    build.build_command,
    build.release_command,
    registry.verify_command,
    registry.update_command,
    lifecycle.promote_command,
    lifecycle.history_command,
    lifecycle.rollback_command,
    action.action_command,
):
    main.add_command(_command)
