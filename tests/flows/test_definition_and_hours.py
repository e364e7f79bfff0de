"""Flow validation with clear errors, and business hours with the Japanese holiday calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from madoguchi.flows.definition import FlowInvalid, parse_definition
from madoguchi.flows.hours import BusinessHours, is_public_holiday


def problems(raw: Any) -> list[tuple[str, str]]:
    with pytest.raises(FlowInvalid) as caught:
        parse_definition(raw)
    return [(p["path"], p["problem"]) for p in caught.value.problems]


def test_valid_yaml_with_an_unreachable_block_warns() -> None:
    definition, warnings = parse_definition("start: a\nblocks:\n  a: {type: say, text: hi}\n  b: {type: end}\n")
    assert definition.start == "a"
    assert warnings == [{"path": "blocks.b", "problem": "cannot be reached from start"}]


@pytest.mark.parametrize(("raw", "path", "words"), [
    ({"start": "x", "blocks": {"a": {"type": "end"}}}, "start", "no block named 'x'"),
    ({"start": "a", "blocks": {"a": {"type": "say", "text": "t", "next": "b"}}}, "blocks.a.next", "no block named 'b'"),
    ({"start": "a", "blocks": {"a": {"type": "dance"}}}, "blocks.a", "tag 'dance'"),
    ({"start": "a", "blocks": {"a": {"type": "say"}}}, "blocks.a.text", "Field required"),
    ({"start": "a", "blocks": {"a": {"type": "say", "text": "t", "colour": 1}}}, "blocks.a.colour", "Extra inputs"),
    ({"start": "a", "blocks": {"a": {"type": "bot_answer", "confident": 0.2, "unsure": 0.5}}}, "blocks.a",
     "unsure must not be above confident"),
    ({"start": "a", "blocks": {"a": {"type": "ask", "prompt": "p", "input": "choices"}}}, "blocks.a", "needs choices"),
    ({"start": "a", "blocks": {"a": {"type": "branch", "rules": [{"if": {"open": "x"}, "next": "a"}]}}},
     "blocks.a.rules[0].if.open", "no business hours named 'x'"),
    ({"start": "a", "blocks": {"a": {"type": "branch", "rules": [{"if": {"weather": "sunny"}, "next": "a"}]}}},
     "blocks.a.rules[0].if", "unknown condition"),
    ({"start": "a", "blocks": {"a": {"type": "branch", "rules": [{"if": {"input": {"matches": "("}}, "next": "a"}]}}},
     "blocks.a.rules[0].if.input.matches", "not a regular expression"),
    ({"start": "a", "hours": {"h": {"weekly": {"funday": [["09:00", "18:00"]]}}}, "blocks": {"a": {"type": "end"}}},
     "hours.h.weekly", "unknown day 'funday'"),
    ({"start": "a", "hours": {"h": {"weekly": {"mon": [["18:00", "09:00"]]}}}, "blocks": {"a": {"type": "end"}}},
     "hours.h.weekly", "ends before it starts"),
    ({"start": "a", "hours": {"h": {"timezone": "Mars/Olympus"}}, "blocks": {"a": {"type": "end"}}},
     "hours.h.timezone", "unknown time zone"),
    ("start: [", "(text)", "neither JSON nor YAML"),
    ([1, 2], "(root)", "an object"),
])
def test_invalid_flows_name_the_problem_and_its_path(raw: Any, path: str, words: str) -> None:
    found = problems(raw)
    assert any(p == path and words in problem for p, problem in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"start": "a", "on_human": "h", "blocks": {
        "a": {"type": "bot_answer", "escalate": "x", "resolved": "y"}}})
    assert {p for p, _ in found} == {"on_human", "blocks.a.escalate", "blocks.a.resolved"}


HOURS = BusinessHours(weekly={d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
                      closed=["12-31", "2026-08-13"])


def jst(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh - 9, mm, tzinfo=UTC) if hh >= 9 else datetime(y, m, d - 1, hh + 15, mm, tzinfo=UTC)


@pytest.mark.parametrize(("when", "open_"), [
    (jst(2026, 3, 3, 10), True),             # a Tuesday morning
    (jst(2026, 3, 3, 18), False),            # closing time is exclusive
    (jst(2026, 3, 7, 12), False),            # Saturday
    (jst(2026, 1, 12, 12), False),           # 成人の日 (second Monday of January)
    (jst(2026, 5, 6, 12), False),            # 振替休日: Constitution Day fell on a Sunday
    (jst(2026, 9, 22, 12), False),           # 国民の休日 between 敬老の日 and 秋分の日
    (jst(2026, 8, 13, 12), False),           # a closed date
    (jst(2025, 12, 31, 12), False),          # closed every year (MM-DD)
])
def test_business_hours_know_japanese_holidays(when: datetime, open_: bool) -> None:
    assert HOURS.is_open(when) is open_


def test_holiday_calendar_and_next_open() -> None:
    assert is_public_holiday(date(2026, 5, 6)) and is_public_holiday(date(2026, 9, 22))
    assert not is_public_holiday(date(2026, 5, 7))
    # Friday 19:00 → Monday 09:00 (JST).
    assert HOURS.next_open(jst(2026, 3, 6, 19)) == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    assert HOURS.next_open(jst(2026, 3, 3, 10)) == jst(2026, 3, 3, 10)
    assert BusinessHours(weekly={}).next_open(jst(2026, 3, 3, 10)) is None
    special = BusinessHours(weekly={"mon": [["10:00", "12:00"]]}, open=["2026-01-12"])
    assert special.is_open(jst(2026, 1, 12, 11))  # open on the holiday by exception


def test_the_demo_flow_is_valid_and_every_block_is_reachable() -> None:
    from madoguchi.bot.demo import DEMO_FLOW

    _, warnings = parse_definition(DEMO_FLOW)
    assert warnings == []
