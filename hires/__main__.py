"""``python -m hires``: the same as the ``hires`` command."""

from hires.cli import main

main()
