"""``python -m bumper``: the same as the ``bumper`` command."""

from bumper.cli import main

main()
