"""What differs between two nested tables (run definitions, manifests, what made features)."""
from __future__ import annotations

import json


def changes(old, new, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every leaf that differs between two nested dicts (dotted keys).

    >>> changes({"a": 1, "m": {"u": 512, "d": 0.5}}, {"a": 1, "m": {"u": 64, "d": 0.5}, "b": 2})
    ['b: (none) -> 2', 'm.u: 512 -> 64']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return [line for key in sorted(set(old) | set(new), key=str)
                for line in changes(old.get(key, _NONE), new.get(key, _NONE), f"{prefix}{key}.")]
    if old == new and isinstance(old, bool) == isinstance(new, bool):
        return []
    show = lambda v: "(none)" if v is _NONE else json.dumps(v)  # noqa: E731
    return [f"{prefix[:-1]}: {show(old)} -> {show(new)}"]


_NONE = object()
