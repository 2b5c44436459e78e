"""Paths to a value in a JSON document: `records_path`, `cursor_path`, `next_url_path`, totals.

A path is names separated by dots (`data.items`, `meta.next_cursor`). A name that holds a dot, an
`@`, a space or anything else is written in brackets and quotes, as JSON writes a string:
`["@odata.nextLink"]`, `meta["total.count"]`, `["a \\"quoted\\" key"]`.

Keys with dots are common (OData's `@odata.nextLink`, JSON-LD's `@id`, `meta.total` as one key), so a
path written without brackets is also tried as one literal key first: `@odata.nextLink` finds the key
`@odata.nextLink` when the object has one, and `@odata` -> `nextLink` otherwise. A path with brackets
means exactly what it says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

Keys = tuple[str, ...]
# A bare name (no dot, bracket, quote or white space) or a bracketed JSON string; then more of them,
# a bare name after a dot, a bracketed one with or without the dot.
_BARE = r'[^.\s\[\]"]+'
_QUOTED = r'\["(?:[^"\\]|\\.)*"\]'
PATTERN = rf"^(?:{_BARE}|{_QUOTED})(?:\.{_BARE}|\.?{_QUOTED})*$"
_SEGMENT = re.compile(rf"\.?({_BARE}|{_QUOTED})")
_MISSING = object()


class PathError(ValueError):
    """A path that is not of the documented form."""


def candidates(path: str) -> tuple[Keys, ...]:
    """The key sequences a path may mean, in the order they are tried ('' is the document itself)."""
    if not path:
        return ((),)
    if re.fullmatch(PATTERN, path) is None:
        raise PathError(
            f"{path!r} is not a path: names separated by dots, a name with a dot or other characters in "
            'brackets and quotes (["@odata.nextLink"])'
        )
    keys = tuple(_key(m.group(1)) for m in _SEGMENT.finditer(path))
    if "[" in path or len(keys) == 1:
        return (keys,)
    return ((path,), keys)


def _key(segment: str) -> str:
    if segment.startswith("["):
        decoded: str = json.loads(segment[1:-1])
        return decoded
    return segment


def value_at(document: Any, path: str) -> Any:
    """The value at `path` in a decoded document (list items by index), or MISSING."""
    for keys in candidates(path):
        found = _walk(document, keys)
        if found is not _MISSING:
            return found
    return _MISSING


def _walk(node: Any, keys: Keys) -> Any:
    for key in keys:
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


MISSING = _MISSING
