"""``python -m gitxp``: the same as the ``gitxp`` command."""

from gitxp.cli import main

main()
