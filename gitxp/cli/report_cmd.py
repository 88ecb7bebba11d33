"""``gitxp report``: a markdown summary of base vs head for a pull-request comment."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []
