"""How a status looks, defined once for every page (badge colour and icon)."""

from __future__ import annotations

from typing import NamedTuple


class StatusStyle(NamedTuple):
    colour: str  # a name from the CSS palette: ok, warn, danger, info, muted
    icon: str  # a Lucide icon name


UNKNOWN_STYLE = StatusStyle("muted", "circle-question-mark")
