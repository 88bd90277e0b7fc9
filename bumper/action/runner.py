"""The channel back to the Actions runner: workflow commands on stdout (masks, groups,
annotations), outputs in ``GITHUB_OUTPUT``, the job summary in ``GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, MutableMapping


def escape_data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (``file=…``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class Runner:
    """The channel back to the Actions runner: commands on stdout, outputs and summary in
    the files the runner names (ignored when they are not set, as outside Actions)."""

    def __init__(self, env: Mapping[str, str], write: Callable[[str], None] | None = None) -> None:
        self.env = env
        self._write = write or _stdout_line
        self.outputs: dict[str, str] = {}

    def line(self, text: str) -> None:
        self._write(text)

    def mask(self, secret: str | None) -> None:
        """``::add-mask::`` each line of ``secret`` so no later log line shows it."""
        for part in (secret or "").splitlines():
            if part.strip():
                self._write(f"::add-mask::{escape_data(part)}")

    def command(self, name: str, message: str, **properties: str | int | None) -> None:
        props = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in properties.items()
            if value is not None
        )
        self._write(f"::{name}{' ' + props if props else ''}::{escape_data(message)}")

    def set_output(self, name: str, value: str) -> None:
        """Append ``name`` to ``GITHUB_OUTPUT`` with the heredoc syntax (multiline-safe)."""
        self.outputs[name] = value
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            return
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        """Append to the job summary (``GITHUB_STEP_SUMMARY``)."""
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(markdown if markdown.endswith("\n") else markdown + "\n")


def _stdout_line(text: str) -> None:
    print(text, flush=True)


def trust_workspace(environ: MutableMapping[str, str]) -> None:
    """Let git work in ``GITHUB_WORKSPACE`` even when another user owns it (container jobs,
    self-hosted runners): ``safe.directory`` through ``GIT_CONFIG_*`` for this process and
    its git children only, so the user's git configuration is never written."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return
    count = int(environ.get("GIT_CONFIG_COUNT", "0") or "0")
    for index in range(count):
        if (
            environ.get(f"GIT_CONFIG_KEY_{index}") == "safe.directory"
            and environ.get(f"GIT_CONFIG_VALUE_{index}") == workspace
        ):
            return
    environ[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
    environ[f"GIT_CONFIG_VALUE_{count}"] = workspace
    environ["GIT_CONFIG_COUNT"] = str(count + 1)
