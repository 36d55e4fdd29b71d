"""Identity-policy evaluation, as IAM does it for one request: an explicit Deny wins, otherwise some Allow must match
the action, the resource and every condition (keys absent from the request fail a condition, except in ``Null`` and
the ``…IfExists`` operators).

What is modelled is what the template uses: Action/NotAction and Resource/NotResource with IAM's wildcards (``*``
any run of characters, ``/`` included; ``?`` one character; actions compared case-insensitively, resources
case-sensitively), and the String, Arn, Bool and Null condition operators. An operator it does not know fails the
test rather than being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]


@dataclass(frozen=True)
class Need:
    """One authorisation a call needs: ``action`` on ``resource`` with the request's condition ``context``."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    origin: str = ""  # where the call was made (file:line function), or the ASL state
    why: str = ""  # the rule that adds it, for needs beyond the call's own action

    def describe(self) -> str:
        context = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        parts = [f"{self.action} on {self.resource}"]
        if context:
            parts.append(f"[{context}]")
        if self.why:
            parts.append(f"({self.why})")
        parts.append(f"<- {self.origin}")
        return " ".join(parts)


@cache
def _pattern(wildcard: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wildcard)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _values(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key.lower():  # condition key names are case-insensitive
            return [value] if isinstance(value, str) else list(value)
    return None


def _string_test(operator: str) -> Any:
    tests = {
        "StringEquals": lambda p, v: p == v,
        "StringNotEquals": lambda p, v: p != v,
        "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
        "StringLike": lambda p, v: wildcard_match(p, v),
        "StringNotLike": lambda p, v: not wildcard_match(p, v),
        "ArnEquals": lambda p, v: wildcard_match(p, v),  # IAM: ArnEquals and ArnLike both take wildcards
        "ArnLike": lambda p, v: wildcard_match(p, v),
        "ArnNotEquals": lambda p, v: not wildcard_match(p, v),
        "ArnNotLike": lambda p, v: not wildcard_match(p, v),
        "Bool": lambda p, v: str(p).lower() == str(v).lower(),
    }
    if operator not in tests:
        raise NotImplementedError(f"condition operator {operator} is not modelled in iam_eval")
    return tests[operator]


def condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    present = _values(context, key)
    if operator == "Null":  # "true": the key must be absent; "false": present
        return (present is None) == (str(expected).lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if present is None:
        return if_exists
    test = _string_test(base)
    negated = "Not" in base
    patterns = [str(p) for p in _as_list(expected)]
    # One value against several patterns: any pattern matches (for negated operators: none may match).
    return all(
        (all(test(p, value) for p in patterns) if negated else any(test(p, value) for p in patterns))
        for value in present
    )


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    return all(
        condition_holds(operator, key, expected, context)
        for operator, keys in conditions.items()
        for key, expected in keys.items()
    )


def statement_applies(statement: Mapping[str, Any], need: Need) -> bool:
    if "Action" in statement:
        if not any(wildcard_match(a, need.action, ignore_case=True) for a in _as_list(statement["Action"])):
            return False
    elif any(wildcard_match(a, need.action, ignore_case=True) for a in _as_list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(wildcard_match(str(r), need.resource) for r in _as_list(statement["Resource"])):
            return False
    elif any(wildcard_match(str(r), need.resource) for r in _as_list(statement.get("NotResource"))):
        return False
    return _conditions_hold(statement.get("Condition", {}), need.context)


def allowed(statements: Iterable[Mapping[str, Any]], need: Need) -> bool:
    applicable = [s for s in statements if statement_applies(s, need)]
    if any(s.get("Effect") == "Deny" for s in applicable):
        return False
    return any(s.get("Effect") == "Allow" for s in applicable)


def missing(statements: Sequence[Mapping[str, Any]], needs: Iterable[Need]) -> list[Need]:
    """The needs no statement allows, each once, in order."""
    seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    gaps = []
    for need in needs:
        key = (need.action, need.resource, tuple(sorted((k, str(v)) for k, v in need.context.items())))
        if key in seen:
            continue
        seen.add(key)
        if not allowed(statements, need):
            gaps.append(need)
    return gaps
