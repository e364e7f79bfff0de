"""The first router, as a pure function: examples and properties over random snapshots."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.routing.router import AgentSnapshot, LongestIdleRouter, Snapshot, WaitingContact, line_order

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CAP = {"voice": 1, "chat": 3, "email": 5, "messaging": 4}


def agent(agent_id: int, *, idle_s: int = 0, queues: tuple[int, ...] = (1,), load: dict[str, int] | None = None,
          state: str = "available", pending: bool = False) -> AgentSnapshot:
    return AgentSnapshot(agent_id=agent_id, state=state, queue_ids=frozenset(queues), capacity=CAP,
                         load=load or {}, idle_since=NOW - timedelta(seconds=idle_s), pending_offer=pending)


def contact(contact_id: int, *, waited_s: int, queue: int = 1, channel: str = "chat", priority: int = 0,
            declined: frozenset[int] = frozenset()) -> WaitingContact:
    return WaitingContact(contact_id=contact_id, queue_id=queue, channel=channel,
                          enqueued_at=NOW - timedelta(seconds=waited_s), priority=priority, declined_by=declined)


def test_longest_idle_agent_gets_the_longest_waiting_contact() -> None:
    snap = Snapshot(NOW, (contact(1, waited_s=5), contact(2, waited_s=50)),
                    (agent(10, idle_s=30), agent(11, idle_s=300), agent(12, idle_s=3)))
    decisions = LongestIdleRouter().decide(snap)
    assert [(d.contact_id, d.agent_id) for d in decisions] == [(2, 11), (1, 10)]


def test_agent_who_declined_is_tried_last() -> None:
    snap = Snapshot(NOW, (contact(1, waited_s=5, declined=frozenset({11})),),
                    (agent(10, idle_s=1), agent(11, idle_s=300)))
    assert LongestIdleRouter().decide(snap)[0].agent_id == 10
    only_decliner = Snapshot(NOW, snap.contacts, (agent(11, idle_s=300),))
    assert LongestIdleRouter().decide(only_decliner)[0].agent_id == 11


def test_capacity_break_pending_offer_and_voice_exclusivity() -> None:
    full = agent(1, load={"chat": 3})
    on_break = agent(2, state="break")
    waiting_on_offer = agent(3, pending=True)
    on_call = agent(4, load={"voice": 1})
    other_queue = agent(5, queues=(2,))
    snap = Snapshot(NOW, (contact(1, waited_s=10),), (full, on_break, waiting_on_offer, on_call, other_queue))
    assert LongestIdleRouter().decide(snap) == []
    chatting = agent(6, load={"chat": 1})
    call = Snapshot(NOW, (contact(2, waited_s=1, channel="voice"),), (chatting,))
    assert LongestIdleRouter().decide(call) == []  # a chatting agent gets no call


def test_priority_is_worth_waiting_time_so_nobody_starves() -> None:
    vip = WaitingContact(contact_id=1, queue_id=2, channel="chat", enqueued_at=NOW, queue_priority=5)
    # Five priority points are worth 5 × 60 s: ahead of a contact waiting 200 s …
    snap = Snapshot(NOW, (contact(2, waited_s=200), vip), (agent(10, queues=(1, 2)),))
    assert LongestIdleRouter().decide(snap)[0].contact_id == 1
    # … but not of one waiting 10 minutes: aging wins in the end.
    snap = Snapshot(NOW, (contact(2, waited_s=600), vip), (agent(10, queues=(1, 2)),))
    assert LongestIdleRouter().decide(snap)[0].contact_id == 2


agents_st = st.lists(
    st.builds(
        lambda i, idle, queues, chat, voice, state, pending: agent(
            i, idle_s=idle, queues=tuple(queues), load={"chat": chat, "voice": voice}, state=state, pending=pending),
        st.integers(), st.integers(0, 3600), st.sets(st.integers(1, 3), max_size=3),
        st.integers(0, 3), st.integers(0, 1), st.sampled_from(["available", "busy", "break", "offline", "wrap_up"]),
        st.booleans()),
    max_size=12, unique_by=lambda a: a.agent_id)
contacts_st = st.lists(
    st.builds(lambda i, waited, queue, channel, prio, declined: contact(
        i, waited_s=waited, queue=queue, channel=channel, priority=prio, declined=frozenset(declined)),
        st.integers(), st.integers(0, 3600), st.integers(1, 3), st.sampled_from(["chat", "voice", "email"]),
        st.integers(0, 2), st.sets(st.integers(), max_size=3)),
    max_size=20, unique_by=lambda c: c.contact_id)


@settings(max_examples=300, deadline=None)
@given(agents_st, contacts_st)
def test_router_properties(agents: list[AgentSnapshot], contacts: list[WaitingContact]) -> None:
    snap = Snapshot(NOW, tuple(contacts), tuple(agents))
    decisions = LongestIdleRouter().decide(snap)
    by_agent = {a.agent_id: a for a in agents}
    by_contact = {c.contact_id: c for c in contacts}

    # Exactly-once: one offer per contact and per agent in a step.
    assert not [k for k, n in Counter(d.contact_id for d in decisions).items() if n > 1]
    assert not [k for k, n in Counter(d.agent_id for d in decisions).items() if n > 1]
    for d in decisions:
        a, c = by_agent[d.agent_id], by_contact[d.contact_id]
        assert d.queue_id == c.queue_id and c.queue_id in a.queue_ids
        assert a.can_take(c.channel)  # so load + 1 never exceeds the capacity
        assert a.load.get(c.channel, 0) + 1 <= a.capacity[c.channel]

    # Nobody who could take a waiting contact is left idle beside it.
    used = {d.agent_id for d in decisions}
    offered = {d.contact_id for d in decisions}
    for c in contacts:
        if c.contact_id in offered:
            continue
        assert not [a for a in agents if a.agent_id not in used and c.queue_id in a.queue_ids
                    and a.can_take(c.channel)], "a contact was left waiting beside a free agent"

    # FIFO: among contacts that any given agent could take, the offered ones come first in line.
    for d in decisions:
        a = by_agent[d.agent_id]
        c = by_contact[d.contact_id]
        earlier = [x for x in contacts if line_order(x) < line_order(c) and x.queue_id in a.queue_ids
                   and a.can_take(x.channel)]
        assert all(x.contact_id in offered for x in earlier), "a later contact was served first"
