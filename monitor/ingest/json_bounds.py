"""JSON read with a bound on its nesting: the parser and every reader after it recurse, so
a body nested thousands deep would end in a RecursionError (a 500) instead of a refusal."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # FHIR resources nest a dozen levels; the JSON results feed two


class NotUsableJson(ValueError):
    """The text is not JSON, or nests deeper than MAX_DEPTH; the message says which, `line`
    where the JSON broke."""

    def __init__(self, reason: str, line: int = 1) -> None:
        super().__init__(reason)
        self.line = line


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def load_json(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed value; NotUsableJson if `text` is not JSON or nests deeper than `max_depth`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise NotUsableJson(f"nested deeper than {max_depth} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        if isinstance(error, json.JSONDecodeError):
            raise NotUsableJson(f"not JSON: {error.msg}", error.lineno) from None
        raise NotUsableJson(f"not JSON: {error}") from None
    # Each level opens a bracket, so fewer brackets than levels (an NDJSON line, a resource)
    # need no walk over the parsed value, which costs several times the parsing.
    opened = text.count("{") + text.count("[") if isinstance(text, str) else \
        text.count(b"{") + text.count(b"[")
    if opened > max_depth and _depth(value) > max_depth:
        raise NotUsableJson(f"nested deeper than {max_depth} levels")
    return value
