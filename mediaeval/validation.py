"""The values of run definitions and model settings, checked by pydantic, and its errors said
the way mediaeval says them: ``key: expected ..., got ...``.

Settings are plain dataclasses whose fields carry their constraints (``Annotated[int, Field(ge=1)]``,
``Literal[...]``): building one in code checks nothing (a definition made in code is checked when
it is written, :meth:`mediaeval.runs.RunDefinition.save`); reading one from data validates it with a
pydantic ``TypeAdapter`` (:func:`adapter`), and :func:`error_text` turns the first error into
one line.  The field types below add what TOML needs: no bool for a number, a finite float (an
int given for a float becomes a float), an int of 64 bits.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import types
import typing
from typing import Annotated

from pydantic import AfterValidator, Field, Strict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

EXPECTED = "expected"   # a custom error whose message is what was expected (said with the value given)
PROBLEM = "problem"     # a custom error whose message is the whole text (after the key, if it has one)


def expected(text: str) -> PydanticCustomError:
    """An error said as ``key: expected <text>, got <value>``."""
    return PydanticCustomError(EXPECTED, "{text}", {"text": text})


def problem(text: str, key: str = "") -> PydanticCustomError:
    """An error said as ``<key>: <text>``, the key being the field's where the error is (and
    ``key`` after it: a check of the whole table names the setting it is about)."""
    return PydanticCustomError(PROBLEM, "{text}", {"text": text, "key": key})


def _64_bits(value: int) -> int:
    if not -2**63 <= value < 2**63:   # TOML's integers are 64-bit
        raise expected("an int of 64 bits")
    return value


Int = Annotated[int, Strict(), AfterValidator(_64_bits)]
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]

SEGMENTS = {"unit": "segments"}   # what a range is counted in, said in its errors
Widths = Annotated[tuple[Annotated[Float, Field(ge=0, le=50, json_schema_extra=SEGMENTS)], ...],
                   Field(min_length=1)]   # smoothing widths, in 5 s segments

_TYPE_NAMES = {"int": "int", "float": "float", "string": "str", "bool": "bool"}


@functools.cache
def adapter(schema) -> TypeAdapter:
    """The (cached) pydantic validator of ``schema``, a settings dataclass or a union of them."""
    return TypeAdapter(schema)


def _bounds(annotation) -> str | None:
    """The range its constraints allow, in words (``at least 0 and less than 1``, ``1 to 5``)."""
    annotation = _unwrapped(annotation, keep_annotated=True)
    found, info = {}, FieldInfo.from_annotation(annotation)
    for item in info.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(item, name, None) is not None:
                found[name] = getattr(item, name)
    unit = f" {info.json_schema_extra['unit']}" if isinstance(info.json_schema_extra, dict) else ""
    if "ge" in found and "le" in found:
        return f"{found['ge']} to {found['le']}{unit}"
    low = (f"at least {found['ge']}" if "ge" in found else f"greater than {found['gt']}" if "gt" in found else None)
    high = (f"less than {found['lt']}" if "lt" in found else f"at most {found['le']}" if "le" in found else None)
    return " and ".join(part for part in (low, high) if part) + unit if low or high else None


def _unwrapped(annotation, keep_annotated: bool = False):
    """``annotation`` without ``| None`` and (unless ``keep_annotated``) its ``Annotated[...]`` layers."""
    while True:
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):   # X | None: X
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif typing.get_origin(annotation) is Annotated and not keep_annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _items(annotation):
    """The annotation of the items of a list or tuple annotation."""
    return typing.get_args(_unwrapped(annotation))[0]


_BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _expected(error: dict, annotation, item: bool) -> str:
    """What the value of ``error`` should have been, in words; ``annotation`` is its field's
    (None if unknown), ``item`` whether the error is about an item of a list."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == EXPECTED:
        return context["text"]
    if kind == "union_tag_invalid":   # a family's type: key and value are the type's (see _text)
        return "one of " + ", ".join(re.findall(r"'([^']*)'", context["expected_tags"]))
    if kind == "literal_error":
        return "one of " + ", ".join(json.dumps(v) for v in re.findall(r"'([^']*)'", context["expected"]))
    if kind == "finite_number":
        return "a finite float"
    if kind in ("model_attributes_type", "dataclass_type", "union_tag_not_found"):
        return "a table"
    if kind == "dict_type":
        return "dict"
    if annotation is not None and (item or kind in ("list_type", "tuple_type", "too_short")):
        inner = _items(annotation)
        bounds = _bounds(inner)
        if kind == "too_short" or kind in _BOUND_ERRORS:
            return "a non-empty list" + (f", each {bounds}" if bounds else "")
        return f"a list of {getattr(_unwrapped(inner), '__name__', inner)}"
    for prefix, name in _TYPE_NAMES.items():
        if kind.startswith(prefix):
            return name
    return (_bounds(annotation) if annotation is not None else None) or error["msg"]


def _located(data, loc, tags) -> tuple[list[str], object, str | None]:
    """The key names of an error's location, the value given there (a whole list, not one of its
    items), and the union tag the location holds if any (``model.lstm.units``: ``lstm``, one of
    ``tags``)."""
    names, value, tag = [], data, None
    for part in loc:
        if isinstance(part, int):
            continue
        if tag is None and part in tags and isinstance(value, dict) and part not in value:
            tag = part
            continue
        value = value[part] if isinstance(value, dict) and part in value else value
        names.append(part)
    return names, value, tag


def error_text(error: ValidationError, data, schema=None, prefix: str = "", unknown=None, tagged=None) -> str:
    """The first problem of ``error`` (validating ``data`` against the dataclass ``schema``) in
    one line: ``<prefix><key>: expected <what>, got <value>`` (the value as given),
    ``missing key 'name'``, a custom error's own text, or ``unknown(key, tag)`` for a key the
    schema does not have (unknown keys are said first).  A union's tag in the location
    (``model.ridge.alphas``) is left out of the key; ``tagged[tag]`` is its dataclass."""
    errors = sorted(error.errors(include_url=False), key=lambda e: e["type"] != "unexpected_keyword_argument")
    return _text(errors[0], data, schema, prefix, unknown, tagged)


def problems(settings) -> list[str]:
    """Every problem of a settings dataclass built in code, as ``key: expected ...`` texts (empty
    when all is well)."""
    data = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    try:
        adapter(type(settings)).validate_python(data)
    except ValidationError as error:
        return [_text(e, data, type(settings)) for e in error.errors(include_url=False)]
    return []


def _text(first: dict, data, schema, prefix: str = "", unknown=None, tagged=None) -> str:
    """One error of pydantic's in one line (see :func:`error_text`)."""
    names, value, tag = _located(data, first["loc"], tagged or {})
    if tag is not None:
        schema = tagged[tag]
    key = prefix + ".".join(names)
    if first["type"] == "unexpected_keyword_argument":
        return unknown(key, tag) if unknown else f"{key}: unknown key"
    if first["type"] == "missing":
        return f"missing key {names[-1]!r}"
    if first["type"] == PROBLEM:
        key = prefix + ".".join([*names, first["ctx"]["key"]] if first["ctx"]["key"] else names)
        return f"{key}: {first['ctx']['text']}" if key != prefix else prefix + first["ctx"]["text"]
    if first["type"] == "union_tag_invalid":   # the discriminator, a table's type, was not one of the tags
        key, value = f"{key}.type", value.get("type") if isinstance(value, dict) else first["ctx"]["tag"]
    hints = typing.get_type_hints(schema, include_extras=True) if schema is not None and names else {}
    annotation = hints.get(names[-1]) if names else None
    item = any(isinstance(part, int) for part in first["loc"])
    return f"{key}: expected {_expected(first, annotation, item)}, got {value!r}"
