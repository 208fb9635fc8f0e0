"""Type checks of loaded spec/preset values, shared by every parser of the spec layer.

Each check raises a :class:`~sbr.yamlspec.errors.SpecError` naming ``file:line``, the key path
and what was expected. The parsers (:mod:`sbr.specs.schema`, :mod:`sbr.specs.presets`,
:mod:`sbr.specs.claims`) build on these; this module depends only on the loader.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sbr.yamlspec.errors import Loc, SpecError, format_key
from sbr.yamlspec.loader import LocDict, LocList

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Kind:
    """A type check with the words used in error messages."""

    check: Callable[[Any], bool]
    expected: str


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


STR = Kind(lambda v: isinstance(v, str) and v != "", "a non-empty string")
OPT_STR = Kind(lambda v: v is None or isinstance(v, str), "a string or null")
INT = Kind(is_int, "an integer")
POS_INT = Kind(lambda v: is_int(v) and v > 0, "a positive integer")
POS_NUMBER = Kind(lambda v: is_number(v) and v > 0, "a positive number")
MAPPING = Kind(lambda v: isinstance(v, dict), "a mapping")
LIST = Kind(lambda v: isinstance(v, list), "a list")
BOOL = Kind(lambda v: isinstance(v, bool), "true or false")
PAPER_VALUE = Kind(
    lambda v: v is None or is_number(v) or isinstance(v, str), "a number, a string or null"
)


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def loc_of(container: Any, key: Any = None) -> Loc | None:
    """Location of ``key`` inside a loaded mapping/sequence (None for plain objects)."""
    if isinstance(container, (LocDict, LocList)):
        return container.loc(key)
    return None


def expect(value: Any, kind: Kind, *, where: Loc | None, path: Path_) -> Any:
    """Return ``value`` if it passes ``kind``, else raise a SpecError naming the key."""
    if not kind.check(value):
        raise SpecError(where, format_key(path), f"expected {kind.expected}, got {describe(value)}")
    return value


def check_keys(
    node: dict, path: Path_, allowed: Sequence[str], required: Sequence[str] = ()
) -> None:
    """Reject keys outside ``allowed`` (with suggestions) and missing ``required`` keys."""
    for key in node:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=2, cutoff=0.6)
            raise SpecError(
                loc_of(node, key),
                format_key((*path, str(key))),
                "unknown key; expected one of " + ", ".join(allowed),
                close,
            )
    for key in required:
        if key not in node:
            raise SpecError(loc_of(node), format_key(path) or "<top>", f"missing key {key!r}")


def get(node: dict, key: str, kind: Kind, path: Path_, default: Any = None) -> Any:
    """``node[key]`` checked against ``kind``; ``default`` when the key is absent."""
    if key not in node:
        return default
    return expect(node[key], kind, where=loc_of(node, key), path=(*path, key))


def plain(value: Any) -> Any:
    """Deep copy of a loaded value with plain ``dict``/``list`` (no line info)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
