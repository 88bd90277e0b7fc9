"""The ``bumper`` command: a thin click shell over the library, one module per group.

Start-up matters (it runs in every pipeline): at start-up only click and this module
load. A command's module loads when that command runs, and each command imports the
library it needs inside it; ``bumper --help`` lists the commands from ``COMMANDS``
without loading them (a test checks the listing against the commands themselves).
"""

from __future__ import annotations

import importlib
import sys

import click

from bumper import __version__

__all__ = ["COMMANDS", "main"]

#: command name → (module in bumper.cli, attribute, its help as ``bumper --help`` shows
#: it: a ``short_help`` shown whole, or the help's first paragraph, shortened to fit).
COMMANDS: dict[str, tuple[str, str, str, bool]] = {
    "action": (
        "action",
        "action_command",
        "Run as the GitHub Action (inputs from INPUT_* environment variables).",
        True,
    ),
    "build": ("build", "build_command", "Build and push an image; print NAME:TAG@DIGEST.", True),
    "history": (
        "lifecycle",
        "history_command",
        "Every bump, promotion and rollback of IMAGE (default: every image) in PATH "
        "(default: .), newest first: date, commit, old → new, author, pull request.",
        False,
    ),
    "images": (
        "setimage",
        "images",
        "List every image reference under PATH (default: .).",
        False,
    ),
    "promote": (
        "lifecycle",
        "promote_command",
        "Set in --to exactly what --from runs: the tag and digest of each image present in "
        "both (or of each --image), so production runs the bytes staging tested.",
        False,
    ),
    "release": (
        "build",
        "release_command",
        "Build and push an image, then set it in the manifests under PATH.",
        True,
    ),
    "rollback": (
        "lifecycle",
        "rollback_command",
        "Set IMAGE back to the version it had before the current one in PATH (default: .): "
        "exactly the tag and digest that ran before, from the history (not the registry).",
        False,
    ),
    "set-image": (
        "setimage",
        "set_image",
        "Set IMAGE's tag and/or digest in every manifest under PATH (default: .).",
        False,
    ),
    "update": (
        "registry",
        "update_command",
        "Move each image reference under PATH (default: .) to the newest tag its policy allows.",
        False,
    ),
    "verify": (
        "registry",
        "verify_command",
        "Check that every image reference under PATH (default: .) exists in its registry.",
        False,
    ),
}


class _Commands(click.Group):
    """The commands of ``COMMANDS``, each loaded when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        command: click.Command = getattr(
            importlib.import_module(f"bumper.cli.{entry[0]}"), entry[1]
        )
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Stand-ins carry each command's help, so click shortens it as it would the
        # command's own, without loading any command module.
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = []
        for name in self.list_commands(ctx):
            text, whole = COMMANDS[name][2], COMMANDS[name][3]
            stand_in = (
                click.Command(name, short_help=text) if whole else click.Command(name, help=text)
            )
            rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bumper")
def main() -> None:
    """Bump container image references in Kubernetes manifests, surgically.

    Every byte outside the changed values stays as it was.
    """
    import logging  # here, not at start-up: `bumper --help` never needs it

    from bumper.cli.common import safe_streams, stop_on_sigterm

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
