"""Validation errors located in their file: ``file:line:col: field.path: message``.

Validation errors from pydantic become one :class:`~forecast.core.errors.InputError` that
names the file, the field path, what was expected and, for a misspelt key, the nearest
valid name (:func:`suggest`); :func:`locate` does the same for a problem found after the
schema (an unknown name, a duplicate id).

A message quotes at most a short excerpt of what the file holds (:data:`EXCERPT_CHARS`
per key or value, :func:`forecast.core.escape.excerpt`), and a file that is not in the
format at all (none of its top-level keys is a field of it: a password file given as a
policy) is refused without quoting any of it.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from forecast.core.errors import InputError, Loc, LocatedValueError, format_loc
from forecast.core.escape import excerpt
from forecast.core.reading import YamlDocument

#: Characters of a key or value from the file that a message quotes.
EXCERPT_CHARS = 40


def _field_names_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names valid at ``loc`` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[-1] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated wrappers down to the model or container type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else (args[0] if args else tp)
            if len(args) <= 1 or models:
                continue
            return tp
        else:
            return tp


def suggest(name: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest option, or an empty string."""
    near = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    return f", did you mean {excerpt(near[0], EXCERPT_CHARS)}?" if near else ""


def _error_message(err: dict, model: type[BaseModel]) -> str:
    kind = err["type"]
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        options = _field_names_at(model, loc[:-1])
        shown = excerpt(str(loc[-1]), EXCERPT_CHARS)
        return f"unknown key {shown}{suggest(str(loc[-1]), options)}" + (
            f" (expected one of: {', '.join(options)})" if options and len(options) <= 12 else ""
        )
    if kind == "missing":
        return "required field is missing"
    message = err["msg"]
    if kind in ("literal_error", "enum") and "expected" in err.get("ctx", {}):
        given = err.get("input")
        options = [o.strip(" '\"") for o in err["ctx"]["expected"].replace(" or ", ",").split(",")]
        return f"{message}, got {excerpt(given, EXCERPT_CHARS)}{suggest(str(given), options)}"
    given = err.get("input")
    if not isinstance(given, dict | list) and given is not None and "got" not in message:
        message += f", got {excerpt(given, EXCERPT_CHARS)}"
    return message


def short_loc(loc: Loc) -> str:
    """A field path with each key cut to :data:`EXCERPT_CHARS` characters."""
    return format_loc(loc, EXCERPT_CHARS)


def _foreign(model: type[BaseModel], data: dict) -> bool:
    """True when ``data`` is not in this format at all, and nothing of it should be quoted:
    none of its top-level keys is a field of ``model`` or close to one, or more of them are
    unknown than the format has fields (a password file with one line that happens to read
    ``name:``)."""
    fields = list(model.model_fields)
    known = unknown = 0
    for key in data:
        key = str(key)
        if key in fields or (len(key) <= 64 and difflib.get_close_matches(key, fields, 1, 0.6)):
            known += 1
        else:
            unknown += 1
    extra_allowed = model.model_config.get("extra") != "forbid"  # others' fields kept
    return bool(data) and (known == 0 or (unknown > len(fields) and not extra_allowed))


def validate(model: type[BaseModel], doc: YamlDocument, what: str = "file"):
    """Validate a YAML document against a pydantic model.

    Raises
    ------
    InputError
        Naming the file, line, field path and what was expected; when several fields
        are wrong, the first is located and every other one is listed after it with its
        field path and line.
    """
    if not isinstance(doc.data, dict):
        raise InputError(f"expected a mapping of keys at the top of the {what}", doc.path)
    if _foreign(model, doc.data):
        fields = list(model.model_fields)
        raise InputError(
            f"not a {what}: its {len(doc.data):,} top-level keys are not the format's "
            f"(expected {', '.join(fields[:12])}{', ...' if len(fields) > 12 else ''}); "
            "nothing of it is quoted",
            doc.path,
        )
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        # An unknown key first: a misspelt required key then reads "unknown key 'categroy',
        # did you mean 'category'?" rather than "required field is missing".
        errors = [_located(e) for e in exc.errors()]
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = _data_loc(doc, first["loc"])
        line, col = doc.position(loc)
        raise InputError(
            _error_message(first, model) + _others(doc, errors[1:], model),
            doc.path,
            short_loc(loc),
            line,
            col,
        ) from None


#: Characters of a validation message given to the problems after the first: enough for
#: dozens of them; a file with more is told how many were left out.
OTHERS_CHARS = 1500


def _located(err: dict) -> dict:
    """A pydantic error with a validator's inner location appended to its own."""
    inner = err.get("ctx", {}).get("error")
    if isinstance(inner, LocatedValueError):  # a validator pointing below its field
        return dict(err, loc=(*err["loc"], *inner.loc), msg=str(inner))
    return err


def _others(doc: YamlDocument, errors: list[dict], model: type[BaseModel]) -> str:
    """Every problem after the first, each with its field path and line:
    ``"; 2 more problems: a.b (line 4): ...; c (line 9): ..."``."""
    if not errors:
        return ""
    parts = []
    used = 0
    for err in errors:
        loc = _data_loc(doc, err["loc"])
        line, _ = doc.position(loc)
        where = short_loc(loc) or "top level"
        at = f" (line {line})" if line is not None else ""
        part = f"{where}{at}: {_error_message(err, model)}"
        if used + len(part) > OTHERS_CHARS and parts:
            parts.append(f"and {len(errors) - len(parts)} more")
            break
        parts.append(part)
        used += len(part)
    noun = "problem" if len(errors) == 1 else "problems"
    return f"; {len(errors)} more {noun}: " + "; ".join(parts)


def _data_loc(doc: YamlDocument, loc: Loc) -> Loc:
    """Drop the parts pydantic adds to a location that are not data keys (union tags)."""
    kept: Loc = ()
    for part in loc:
        if (*kept, part) in doc.marks or (isinstance(part, str) and part.isidentifier()):
            kept = (*kept, part)
    return kept


def refuse_foreign_header(header: list[str], columns, file: str, what: str) -> None:
    """Refuse a CSV whose first line names none of ``columns`` (nor anything close to one):
    the file is not a ``what`` at all, and nothing of it is quoted.

    Raises
    ------
    InputError
        Naming the file and the columns expected.
    """
    names = [str(h).strip().lower() for h in header]
    for name in names:
        if name in columns or (
            len(name) <= 64 and difflib.get_close_matches(name, columns, 1, 0.6)
        ):
            return
    raise InputError(
        f"not a {what}: its first line names none of the columns {', '.join(columns)}",
        file,
        "line 1",
    )


def locate(doc: YamlDocument, loc: Loc, message: str) -> InputError:
    """An InputError for a semantic problem found after schema validation."""
    line, col = doc.position(loc)
    return InputError(message, doc.path, short_loc(loc), line, col)
