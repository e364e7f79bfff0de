"""Overflow decided purely: a callback rule applies to calls only, once per contact, and moves no
contact to another queue; queue rules keep working beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from madoguchi.routing.overflow import overflow_moves
from madoguchi.routing.policy import OverflowRule
from madoguchi.routing.router import Snapshot, WaitingContact

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def waiting(contact_id: int, channel: str, waited_s: int, queue_id: int = 1) -> WaitingContact:
    return WaitingContact(contact_id=contact_id, queue_id=queue_id, channel=channel,
                          enqueued_at=NOW - timedelta(seconds=waited_s))


def test_a_callback_rule_takes_long_waiting_calls_once() -> None:
    snapshot = Snapshot(now=NOW, contacts=(waiting(1, "voice", 90), waiting(2, "chat", 90), waiting(3, "voice", 10),
                                           waiting(4, "voice", 120)), agents=())
    rules = {1: [OverflowRule(when="wait_over", limit=60, action="callback"),
                 OverflowRule(when="wait_over", limit=60, to_queue_id=2)]}
    moves = overflow_moves(snapshot, rules, {}, {}, {1, 2}, called_back={4})
    by_contact = {m.contact_id: m for m in moves}
    assert by_contact[1].action == "callback" and by_contact[1].to_queue_id is None
    # the chat is no call, and contact 4 is already a callback: the next rule (a queue) applies
    assert by_contact[2].action == "queue" and by_contact[2].to_queue_id == 2
    assert by_contact[4].action == "queue"
    assert 3 not in by_contact


def test_callback_and_queue_rules_are_checked() -> None:
    with pytest.raises(ValidationError):
        OverflowRule(when="wait_over", limit=5)                           # where to?
    with pytest.raises(ValidationError):
        OverflowRule(when="closed", action="callback", to_queue_id=3)     # a callback goes nowhere
    assert OverflowRule(when="closed", action="callback").to_queue_id is None
