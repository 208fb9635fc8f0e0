"""Errors raised while loading, expanding and validating ablation specs.

Every error points at the place the user has to fix: ``file:line``, the key path
inside the file (``rows[3].overrides."model.roi_head.stages"``) and what was expected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Loc:
    """Where a value sits in a YAML file: the file and the 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{display_path(self.file)}:{self.line}"


def display_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    if str(path).startswith("<"):
        return str(path)
    try:
        relative = os.path.relpath(path)
    except ValueError:  # other drive (Windows)
        return str(path)
    return str(path) if relative.startswith("..") else relative


class SpecError(ValueError):
    """A spec or preset is wrong at one place.

    Args:
        loc: File and line of the offending value (None when unknown).
        key: Key path inside the file, e.g. ``rows[2].config``.
        message: What is wrong and what was expected.
        suggestions: Close matches for a misspelled name, shown as "did you mean".
    """

    def __init__(
        self,
        loc: Loc | None,
        key: str,
        message: str,
        suggestions: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.loc = loc
        self.key = key
        self.message = message
        self.suggestions = tuple(suggestions)
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The error as a single line: ``file:line: key: message (did you mean ...?)``."""
        where = f"{self.loc}: " if self.loc else ""
        key = f"{self.key}: " if self.key else ""
        hint = ""
        if self.suggestions:
            hint = " (did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?)"
        return f"{where}{key}{self.message}{hint}".replace("\n", " ")


def format_key(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """Render a key path: ``('rows', 2, 'overrides', 'a.b')`` -> ``rows[2].overrides."a.b"``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = f'"{part}"' if ("." in part or " " in part or not part) else part
            text += f".{name}" if text else name
    return text
