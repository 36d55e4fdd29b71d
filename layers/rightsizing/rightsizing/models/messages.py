"""Validation messages a person can read.

pydantic's own messages are written for programmers ("String should match pattern '^…$'", "Extra inputs are not
permitted"). Every request error passes through ``invalid_request`` once, which names the field (a dotted path such
as ``candidates.0.instance_type``), shows the value given, says each rule in words (the pattern only as a detail)
and suggests the nearest allowed name for a typo.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from rightsizing.exceptions import InvalidRequest

SUGGEST_CUTOFF = 0.6  # difflib.get_close_matches' default
SUGGEST_MARGIN = 0.1
MAX_SHOWN_CHARS = 60
# Fields whose values are never shown: request bodies and container environments (a model hub token, say). A message
# becomes the Lambda error, the Step Functions cause, the "Rightsizing Failed" event and a log line.
SECRET_FIELDS = frozenset({"samples", "environment", "environment_grid"})
# How pydantic labels the member of a plain (not tagged) union in an error's location, e.g. max_workers: int,
# literal['auto']; a tagged union's member is labelled by its tag ('container'), which names something to the user.
UNION_MEMBER = re.compile(r"^(int|float|str|bool|none|literal\[.*\]|list\[.*\]|dict\[.*\]|function-\w+\[.*\])$")
TYPE_WORDS = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "string_type": "a string (in quotes)",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "dict_type": "an object ({...})",
    "list_type": "a list ([...])",
    "model_type": "an object ({...})",
    "model_attributes_type": "an object ({...})",
}  # a 6 MB sample is not repeated in full in its own error message


@dataclass(frozen=True)
class NamedPattern:
    """A regular expression with the rule it enforces in words: the words are the message, the pattern a detail."""

    pattern: str
    what: str
    rule: str


RUN_NAME = NamedPattern(
    r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}$",
    "a valid run name",
    "1-40 letters, digits and hyphens, starting and ending with a letter or digit",
)
ENDPOINT_NAME = NamedPattern(
    r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
    "a SageMaker endpoint name",
    "1-63 letters, digits and hyphens, starting and ending with a letter or digit",
)
CONTENT_TYPE = NamedPattern(
    r"^[\w.+-]+/[\w.+-]+(;.*)?$",
    "a content type",
    "<type>/<subtype>, optionally followed by ;parameters, e.g. text/csv or application/json;charset=utf-8",
)
MODEL_DATA_URL = NamedPattern(r"^(s3|https)://\S+$", "a model artefact URL", "an s3:// or https:// URL without spaces")
MODEL_KEY = NamedPattern(
    r"^[A-Za-z0-9][\w.:/@+,=-]{0,199}$",
    "a history model key",
    "1-200 characters: letters, digits and _ . : / @ + , = -, starting with a letter or digit",
)
NAMED_PATTERNS: dict[str, NamedPattern] = {
    p.pattern: p for p in (RUN_NAME, ENDPOINT_NAME, CONTENT_TYPE, MODEL_DATA_URL, MODEL_KEY)
}


class FieldProblem(ValueError):
    """Raised by a model validator about one of the model's fields (``field`` is relative to that model), so the
    error names it rather than the model as a whole: e.g. a contradiction between the SLA and the time limit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(problem)


class _NotShown:
    def __repr__(self) -> str:
        return "a value not shown here"


NOT_SHOWN = _NotShown()


def shown(value: object) -> str:
    """A value as it appears in a message: quoted like Python, control characters escaped, long ones cut."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else f"{text[: MAX_SHOWN_CHARS - 1]}…"


def one_of(names: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def did_you_mean(word: str, choices: Iterable[str], quote: bool = False) -> str:
    """'; did you mean <the nearest choices>?', or '' when none is near: at most 3, each with difflib's ratio ≥ 0.6
    and within 0.1 of the nearest (so 'local.smal' suggests local.small, not every profile)."""
    scored = []
    for choice in set(choices):
        matcher = difflib.SequenceMatcher(None, word, choice)
        if matcher.real_quick_ratio() >= SUGGEST_CUTOFF and matcher.quick_ratio() >= SUGGEST_CUTOFF:
            ratio = matcher.ratio()
            if ratio >= SUGGEST_CUTOFF:
                scored.append((-ratio, choice))
    scored.sort()
    near = [choice for score, choice in scored[:3] if -score >= -scored[0][0] - SUGGEST_MARGIN]
    if not near:
        return ""
    return f"; did you mean {one_of([repr(n) if quote else n for n in near])}?"


def invalid_request(error: ValidationError, model: type[BaseModel] | None = None) -> InvalidRequest:
    """One problem per pydantic error of validating ``model``, each naming its field and saying the rule (with
    ``model``, an unknown field gets the nearest allowed name)."""
    problems: list[tuple[str, str]] = []
    alternatives: dict[str, list[Any]] = {}  # a plain union's field: pydantic reports one error per member
    for item in error.errors():
        if not item["loc"] or SECRET_FIELDS.intersection(str(part) for part in item["loc"]):  # () is the whole request
            item = {**item, "input": NOT_SHOWN}
        loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and UNION_MEMBER.match(part)))
        if len(loc) < len(item["loc"]) and _expected(item):
            if _dotted(loc) not in alternatives:
                problems.append((_dotted(loc), ""))  # filled in below, in the order pydantic reported it
            alternatives.setdefault(_dotted(loc), []).append(item)
            continue
        cause = (item.get("ctx") or {}).get("error")
        if item["type"] == "value_error" and isinstance(cause, FieldProblem):
            problems.append((_dotted((*loc, *cause.field.split("."))), cause.problem))
            continue
        if item["type"] == "extra_forbidden":
            field = str(loc[-1])
            allowed = _fields_at(model, loc[:-1]) if model else []
            hint = did_you_mean(field, allowed, quote=True) or (f"; allowed: {', '.join(allowed)}" if allowed else "")
            problems.append((_dotted(loc), f"unknown field{hint}"))
            continue
        if item["type"] in {"union_tag_invalid", "union_tag_not_found"}:  # the tag's own field, e.g. model.type
            loc = (*loc, str(item["ctx"]["discriminator"]).strip("'"))
        problems.append((_dotted(loc), _words(item)))
    problems = [(field, text or _none_of(alternatives[field])) for field, text in problems]
    return InvalidRequest(*problems[0], *problems[1:])


def _none_of(items: list[Any]) -> str:
    """One message for a value that matched no member of a union: what each member would have taken."""
    expected = [_expected(item) for item in items]
    return f"must be {' or '.join(e for e in expected if e)} (got {shown(items[0].get('input'))})"


def _expected(item: Any) -> str | None:
    """What one union member would have taken, as a noun phrase, or None when its error is not about the type."""
    if item["type"] == "literal_error":
        return str((item.get("ctx") or {}).get("expected", ""))
    return TYPE_WORDS.get(item["type"])


def _dotted(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(request)"


def _words(item: Any) -> str:
    """pydantic's message for one error, in the words of this service."""
    kind: str = item["type"]
    ctx: dict[str, Any] = item.get("ctx") or {}
    value = item.get("input")
    got = f" (got {shown(value)})"
    if kind == "string_pattern_mismatch":
        named = NAMED_PATTERNS.get(ctx["pattern"])
        if named is None:  # every pattern of the request has its words (tests/unit/test_bad_inputs.py checks)
            return f"{shown(value)} does not have the required form (pattern {ctx['pattern']})"
        return f"{shown(value)} is not {named.what}: {named.rule} (pattern {named.pattern})"
    if kind == "value_error":
        return str(item["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return "required, but missing"
    if kind in {"literal_error", "enum"}:
        expected = str(ctx.get("expected", ""))
        choices = [part.strip(" '") for part in expected.replace(" or ", ",").split(",")]
        hint = did_you_mean(value, choices, quote=True) if isinstance(value, str) else ""
        return f"{shown(value)} is not one of {expected}{hint}"
    if kind == "union_tag_invalid":
        choices = [part.strip(" '") for part in str(ctx["expected_tags"]).split(",")]
        hint = did_you_mean(str(ctx["tag"]), choices, quote=True)
        return f"{shown(ctx['tag'])} is not one of {ctx['expected_tags']}{hint}"
    if kind == "union_tag_not_found":
        return "required, to say which kind it is"
    bounds = {
        "greater_than": "greater than",
        "greater_than_equal": "at least",
        "less_than": "less than",
        "less_than_equal": "at most",
    }
    if kind in bounds:
        (limit,) = (ctx[key] for key in ("gt", "ge", "lt", "le") if key in ctx)
        return f"must be {bounds[kind]} {_number(limit)}{got}"
    if kind in TYPE_WORDS:
        return f"must be {TYPE_WORDS[kind]}{got}"
    if kind in {"too_short", "too_long"}:
        limit = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        bound = "at least" if kind == "too_short" else "at most"
        noun = "entry" if limit == 1 else "entries"
        return f"must have {bound} {limit} {noun} (got {ctx.get('actual_length')})"
    return str(item["msg"])


def _number(value: object) -> str:
    """1000000 rather than 1e+06, 0.1 rather than 0.1000000001."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)


def _fields_at(model: type[BaseModel], loc: tuple[object, ...]) -> list[str]:
    """The field names allowed at ``loc`` inside ``model`` (for 'did you mean'); [] where it cannot be told."""
    current: object = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _model_in(current, None)
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _step(annotation: object, part: object) -> object:
    """The annotation one location part below ``annotation``: a model's field, a list item or dict value, or the
    member of a tagged union whose tag is ``part``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _step(args[0], part)
    if origin in {list, tuple} and isinstance(part, int):
        return args[0] if args else None
    if origin is dict:
        return args[1] if len(args) == 2 else None
    if origin in {typing.Union, types.UnionType}:
        member = _model_in(annotation, part)
        if member is not None and member is not annotation:
            return member
        for arg in args:  # e.g. X | None: step into the non-None member
            below = _step(arg, part)
            if below is not None:
                return below
    return None


def _model_in(annotation: object, tag: object) -> object:
    """The model in a (tagged) union: the member whose ``type`` default is ``tag``, or its only model member."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_in(args[0], tag)
    if origin not in {typing.Union, types.UnionType}:
        return annotation
    models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
    for member in models:
        type_field = member.model_fields.get("type")
        if tag is not None and type_field is not None and type_field.default == tag:
            return member
    return models[0] if len(models) == 1 else annotation
