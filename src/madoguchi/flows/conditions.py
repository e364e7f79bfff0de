"""Branch conditions: a small JSON language, checked when a flow is saved and evaluated by the
engine against the flow's context and variables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from madoguchi.flows.hours import BusinessHours, is_public_holiday

_VALUE_OPS = ("equals", "in", "contains", "matches", "exists")
_NUMBER_OPS = ("eq", "gt", "gte", "lt", "lte")
_QUEUE_FIELDS = ("agents_available", "waiting")
Problem = tuple[str, str]


@dataclass(frozen=True)
class Facts:
    """What a condition may look at."""

    now: datetime
    timezone: str
    language: str
    last_input: str | None
    variables: Mapping[str, str]
    attributes: Mapping[str, Any]
    queues: Mapping[str, tuple[int, int]]  # name → (waiting, agents available)
    hours: Mapping[str, BusinessHours]


def check(condition: Any, path: str, hours: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a condition, as (path, message)."""
    if not isinstance(condition, dict) or not condition:
        return [(path, "a condition is an object such as {\"open\": \"support\"}")]
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        items = condition[key]
        if not isinstance(items, list) or not items or len(condition) != 1:
            return [(path, f"{key!r} takes a non-empty list of conditions and nothing else")]
        return [p for i, c in enumerate(items) for p in check(c, f"{path}.{key}[{i}]", hours)]
    if "not" in condition:
        if len(condition) != 1:
            return [(path, "'not' takes one condition and nothing else")]
        return check(condition["not"], f"{path}.not", hours)
    if "open" in condition:
        if len(condition) != 1 or not isinstance(condition["open"], str):
            return [(path, "'open' takes the name of a business-hours calendar")]
        if condition["open"] not in hours:
            return [(f"{path}.open", f"no business hours named {condition['open']!r}")]
        return []
    if "holiday" in condition:
        ok = len(condition) == 1 and isinstance(condition["holiday"], bool)
        return [] if ok else [(path, "'holiday' takes true or false")]
    if "language" in condition:
        ok = len(condition) == 1 and condition["language"] in ("ja", "en")
        return [] if ok else [(path, "'language' takes \"ja\" or \"en\"")]
    if "queue" in condition:
        return _check_queue(condition, path)
    if "input" in condition:
        if len(condition) != 1 or not isinstance(condition["input"], dict):
            return [(path, "'input' takes an operator object, e.g. {\"input\": {\"contains\": \"返品\"}}")]
        return _check_ops(condition["input"], f"{path}.input")
    for subject in ("var", "attribute"):
        if subject in condition:
            if not isinstance(condition[subject], str):
                return [(f"{path}.{subject}", "names a variable or attribute")]
            ops = {k: v for k, v in condition.items() if k != subject}
            return _check_ops(ops, path)
    return [(path, f"unknown condition {sorted(condition)}; use input, var, attribute, language, open, holiday, "
                   "queue, all, any or not")]


def _check_ops(ops: dict[str, Any], path: str) -> list[Problem]:
    if len(ops) != 1 or next(iter(ops)) not in _VALUE_OPS:
        return [(path, f"needs exactly one operator of {', '.join(_VALUE_OPS)}")]
    op, value = next(iter(ops.items()))
    if op == "in" and not isinstance(value, list):
        return [(f"{path}.in", "takes a list")]
    if op == "matches":
        try:
            re.compile(str(value))
        except re.error as error:
            return [(f"{path}.matches", f"not a regular expression: {error}")]
    if op == "exists" and not isinstance(value, bool):
        return [(f"{path}.exists", "takes true or false")]
    return []


def _check_queue(condition: dict[str, Any], path: str) -> list[Problem]:
    if not isinstance(condition["queue"], str) or not condition["queue"]:
        return [(f"{path}.queue", "names a queue")]
    fields = [k for k in condition if k != "queue"]
    if len(fields) != 1 or fields[0] not in _QUEUE_FIELDS:
        return [(path, "a queue condition tests one of agents_available, waiting")]
    test = condition[fields[0]]
    if (not isinstance(test, dict) or len(test) != 1 or next(iter(test)) not in _NUMBER_OPS
            or not isinstance(next(iter(test.values())), int)):
        return [(f"{path}.{fields[0]}", f"takes one comparison of {', '.join(_NUMBER_OPS)} with a whole number")]
    return []


def holds(condition: dict[str, Any], facts: Facts) -> bool:
    """Caller passes a condition that ``check`` accepted."""
    if "all" in condition:
        return all(holds(c, facts) for c in condition["all"])
    if "any" in condition:
        return any(holds(c, facts) for c in condition["any"])
    if "not" in condition:
        return not holds(condition["not"], facts)
    if "open" in condition:
        return facts.hours[condition["open"]].is_open(facts.now)
    if "holiday" in condition:
        today = facts.now.astimezone(ZoneInfo(facts.timezone)).date()
        return is_public_holiday(today) is bool(condition["holiday"])
    if "language" in condition:
        return bool(facts.language == condition["language"])
    if "queue" in condition:
        waiting, available = facts.queues.get(condition["queue"], (0, 0))
        field = "waiting" if "waiting" in condition else "agents_available"
        return _compare(waiting if field == "waiting" else available, condition[field])
    if "input" in condition:
        return _test(facts.last_input, condition["input"])
    if "var" in condition:
        ops = {k: v for k, v in condition.items() if k != "var"}
        return _test(facts.variables.get(condition["var"]), ops)
    ops = {k: v for k, v in condition.items() if k != "attribute"}
    return _test(facts.attributes.get(condition["attribute"]), ops)


def _compare(value: int, test: dict[str, int]) -> bool:
    op, bound = next(iter(test.items()))
    return {"eq": value == bound, "gt": value > bound, "gte": value >= bound, "lt": value < bound,
            "lte": value <= bound}[op]


def _test(value: Any, ops: dict[str, Any]) -> bool:
    op, expected = next(iter(ops.items()))
    if op == "exists":
        return (value is not None and value != "") is bool(expected)
    if value is None:
        return False
    if op == "equals":
        return str(value).casefold() == str(expected).casefold()
    if op == "in":
        return str(value).casefold() in {str(e).casefold() for e in expected}
    if op == "contains":
        return str(expected).casefold() in str(value).casefold()
    return re.search(str(expected), str(value)) is not None
