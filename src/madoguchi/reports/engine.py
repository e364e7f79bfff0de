"""The report engine, pure and vectorised: contact events → legs, cases → case facts.

One implementation serves the live roll-ups (a few contacts at a time) and the full recompute
(every event at once), so both give the same numbers. The rules are in docs/reports.md §1; the
readable one-contact-at-a-time statement of the same rules is the test oracle in
tests/reports/oracle.py, and a property test holds the two together.

Contact-lifecycle facts the engine relies on (contacts/states.py): within one leg there is at most
one ``accepted`` and one ``transferred``; ``abandoned``, ``ended``, ``wrapped_up`` and ``csat``
happen at most once per contact. Should data break them, the first occurrence counts.
"""

from __future__ import annotations

import numpy as np

from madoguchi.reports.columns import (
    EVENT_TYPES,
    NULL,
    CaseColumns,
    CaseFacts,
    ContactColumns,
    EventColumns,
    Ints,
    LegColumns,
    Outcome,
)

QUEUED, REQUEUED = EVENT_TYPES["queued"], EVENT_TYPES["requeued"]
ARRIVED, OFFERED, ACCEPTED = EVENT_TYPES["arrived"], EVENT_TYPES["offered"], EVENT_TYPES["accepted"]
HELD, RESUMED, TRANSFERRED = EVENT_TYPES["held"], EVENT_TYPES["resumed"], EVENT_TYPES["transferred"]
ENDED, WRAPPED, ABANDONED = EVENT_TYPES["ended"], EVENT_TYPES["wrapped_up"], EVENT_TYPES["abandoned"]
FLOWED_OUT, CALLBACK, CSAT = EVENT_TYPES["flowed_out"], EVENT_TYPES["callback_requested"], EVENT_TYPES["csat"]
N_TYPES = max(EVENT_TYPES.values()) + 1


class _ByType:
    """Event positions grouped by type (one stable radix sort of a small integer), id order kept."""

    def __init__(self, types: Ints) -> None:
        codes = np.where((types >= 0) & (types < N_TYPES), types, 0).astype(np.int8)
        self.order = np.argsort(codes, kind="stable")
        self.offsets = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=N_TYPES))))

    def positions(self, code: int) -> Ints:
        return self.order[self.offsets[code]:self.offsets[code + 1]]


def _contact_positions(events: EventColumns, contacts: ContactColumns) -> Ints:
    """Each event's contact as a position in ``contacts`` (sorted by id): a lookup table when the
    ids are not too sparse (the usual case), else a binary search."""
    if len(contacts) == 0:
        raise ValueError("events of contacts that were not loaded")
    low, high = int(contacts.id[0]), int(contacts.id[-1])
    inside = (events.contact_id >= low) & (events.contact_id <= high)
    if high - low < 4 * len(contacts) + 1_000_000:
        table = np.full(high - low + 1, -1, dtype=np.int64)
        table[contacts.id - low] = np.arange(len(contacts))
        pos = np.where(inside, table[np.clip(events.contact_id - low, 0, high - low)], -1)
        if (pos < 0).any():
            raise ValueError("events of contacts that were not loaded")
        return pos
    pos = np.searchsorted(contacts.id, events.contact_id)
    found = pos < len(contacts)
    found[found] = contacts.id[pos[found]] == events.contact_id[found]
    if not found.all():
        raise ValueError("events of contacts that were not loaded")
    return pos


def _leg_of_events(types: Ints, cpos: Ints, n_contacts: int) -> tuple[Ints, Ints, Ints]:
    """Global leg index of every event (-1 before the contact's first queue entry), the positions
    of the leg-starting events, and each contact's first leg index."""
    n = len(types)
    is_start = (types == QUEUED) | (types == REQUEUED)
    s_idx = np.flatnonzero(is_start)
    s_c = cpos[s_idx]
    n_starts = np.bincount(s_c, minlength=n_contacts)
    leg_base = np.cumsum(n_starts) - n_starts
    multi = n_starts > 1
    # Most contacts enter one queue once: their events after that entry are leg 0.
    start_pos = np.full(n_contacts, n, dtype=np.int64)
    single = ~multi[s_c]
    start_pos[s_c[single]] = s_idx[single]
    leg = np.where(np.arange(n) >= start_pos[cpos], leg_base[cpos], -1)
    if multi.any():
        # The few that move (overflow, transfer): group their events by contact and count entries.
        sub = np.flatnonzero(multi[cpos])
        order = sub[np.argsort(cpos[sub], kind="stable")]
        oc = cpos[order]
        starts = is_start[order].astype(np.int64)
        first = np.concatenate(([True], oc[1:] != oc[:-1]))
        seen = np.cumsum(starts)
        before_group = (seen - starts)[first]
        entries = seen - before_group[np.cumsum(first) - 1]
        leg[order] = np.where(entries > 0, leg_base[oc] + entries - 1, -1)
    return leg, s_idx, leg_base


def _first(by_type: _ByType, code: int, leg: Ints, n_legs: int, none: int) -> Ints:
    """Position of the first event of ``code`` in each leg; ``none`` where there is none."""
    pos = by_type.positions(code)
    pos = pos[leg[pos] >= 0]
    out = np.full(n_legs, none, dtype=np.int64)
    np.minimum.at(out, leg[pos], pos)
    return out


def _count_and_sum(by_type: _ByType, code: int, leg: Ints, at_ms: Ints, n_legs: int) -> tuple[Ints, Ints]:
    pos = by_type.positions(code)
    pos = pos[leg[pos] >= 0]
    count = np.bincount(leg[pos], minlength=n_legs).astype(np.int64)
    total = np.rint(np.bincount(leg[pos], weights=at_ms[pos].astype(np.float64), minlength=n_legs))
    return count, total.astype(np.int64)


def legs(events: EventColumns, contacts: ContactColumns) -> LegColumns:
    """Every leg of the given contacts. ``events`` must hold *all* events of those contacts, in id
    order; ``contacts`` must be sorted by id."""
    n = len(events)
    if n == 0:
        return LegColumns.empty()
    cpos = _contact_positions(events, contacts)
    leg, s_idx, leg_base = _leg_of_events(events.type, cpos, len(contacts))
    n_legs = len(s_idx)
    if n_legs == 0:
        return LegColumns.empty()
    at = events.at_ms
    by_type = _ByType(events.type)

    def at_of(pos: Ints) -> Ints:
        return np.where(pos < n, at[np.minimum(pos, n - 1)], NULL)

    start_leg = leg[s_idx]
    contact = np.empty(n_legs, dtype=np.int64)
    contact[start_leg] = cpos[s_idx]
    queued = np.empty(n_legs, dtype=np.int64)
    queued[start_leg] = at[s_idx]
    queue_id = np.empty(n_legs, dtype=np.int64)
    queue_id[start_leg] = events.queue_id[s_idx]

    p_acc, p_ab = _first(by_type, ACCEPTED, leg, n_legs, n), _first(by_type, ABANDONED, leg, n_legs, n)
    p_flow = np.minimum(_first(by_type, FLOWED_OUT, leg, n_legs, n), _first(by_type, CALLBACK, leg, n_legs, n))
    p_end, p_tr = _first(by_type, ENDED, leg, n_legs, n), _first(by_type, TRANSFERRED, leg, n_legs, n)
    p_wrap, p_csat = _first(by_type, WRAPPED, leg, n_legs, n), _first(by_type, CSAT, leg, n_legs, n)

    p_left = np.minimum(np.minimum(p_acc, p_ab), np.minimum(p_flow, p_end))
    outcome = np.select([p_left == n, p_left == p_acc, p_left == p_ab, p_left == p_flow],
                        [Outcome.WAITING, Outcome.HANDLED, Outcome.ABANDONED, Outcome.FLOWED_OUT],
                        Outcome.OTHER).astype(np.int64)
    left = at_of(p_left)
    wait = np.where(p_left < n, left - queued, NULL)
    handled = outcome == Outcome.HANDLED
    agent = np.where(handled, events.agent_id[np.minimum(p_acc, n - 1)], 0)
    answered = np.where(handled, at_of(p_acc), NULL)

    # Handling ends at the first `ended` or `transferred` after the accept.
    p_done = np.minimum(p_end, p_tr)
    done = handled & (p_done < n)
    ended = np.where(done, at_of(p_done), NULL)
    transferred = done & (p_tr < p_end)
    held_n, held_sum = _count_and_sum(by_type, HELD, leg, at, n_legs)
    resumed_n, resumed_sum = _count_and_sum(by_type, RESUMED, leg, at, n_legs)
    # A hold still open when handling ends closes there.
    hold = np.where(done, resumed_sum - held_sum + (held_n - resumed_n) * np.where(done, ended, 0), NULL)
    talk = np.where(done, ended - answered - hold, NULL)
    wrapped_now = done & ~transferred & (p_wrap < n)
    wrapped = np.where(wrapped_now, at_of(p_wrap), NULL)
    acw = np.where(wrapped_now, wrapped - ended, np.where(transferred, 0, NULL))
    final = transferred | wrapped_now
    handle = np.where(final, talk + hold + acw, NULL)
    p_wrap_safe = np.minimum(p_wrap, n - 1)
    disposition = np.where(wrapped_now, np.where(events.disposition_id[p_wrap_safe] > 0,
                                                 events.disposition_id[p_wrap_safe],
                                                 contacts.disposition_id[contact]), 0)
    auto_wrap = np.where(wrapped_now, events.auto[p_wrap_safe], 0)
    csat = np.where(p_csat < n, events.score[np.minimum(p_csat, n - 1)], 0)
    offers = np.bincount(leg[by_type.positions(OFFERED)][leg[by_type.positions(OFFERED)] >= 0],
                         minlength=n_legs).astype(np.int64)

    arrived_pos = by_type.positions(ARRIVED)
    first_arrival = np.full(len(contacts), n, dtype=np.int64)
    np.minimum.at(first_arrival, cpos[arrived_pos], arrived_pos)
    arrived = np.where(first_arrival < n, at_of(first_arrival), contacts.created_ms)[contact]

    return LegColumns(
        contact_id=contacts.id[contact], leg=np.arange(n_legs, dtype=np.int64) - leg_base[contact],
        queue_id=queue_id, channel=contacts.channel[contact], inbound=contacts.inbound[contact],
        arrived_ms=arrived, queued_ms=queued, outcome=outcome, left_ms=left, wait_ms=wait, agent_id=agent,
        answered_ms=answered, ended_ms=ended, wrapped_ms=wrapped, hold_ms=hold, talk_ms=talk, acw_ms=acw,
        handle_ms=handle, transferred=transferred.astype(np.int64), disposition_id=disposition,
        auto_wrap=auto_wrap, offers=offers, csat=csat)


def case_facts(cases: CaseColumns, contacts: ContactColumns, legs_: LegColumns, *, window_ms: int) -> CaseFacts:
    """Resolved cases with their FCR verdict (KPI.md): exactly one inbound contact by the resolution
    and none in the ``window_ms`` after it. ``contacts`` must hold every contact of these cases
    and ``legs_`` every leg of those contacts (legs in contact, leg order)."""
    resolved = cases.take(np.flatnonzero(cases.resolved_ms != NULL))
    resolved = resolved.take(np.argsort(resolved.id, kind="stable"))
    k_n = len(resolved)
    if k_n == 0 or len(contacts) == 0:
        return CaseFacts.empty()
    kpos = np.searchsorted(resolved.id, contacts.case_id)
    mine = kpos < k_n
    mine[mine] = resolved.id[kpos[mine]] == contacts.case_id[mine]
    ci = np.flatnonzero(mine)
    k = kpos[ci]
    res = resolved.resolved_ms[k]
    created = contacts.created_ms[ci]
    before = created <= res
    inbound = np.bincount(k[before & (contacts.inbound[ci] == 1)], minlength=k_n).astype(np.int64)
    reopened = np.bincount(k[(created > res) & (created <= res + window_ms)], minlength=k_n) > 0
    latest = np.full(k_n, -1, dtype=np.int64)
    np.maximum.at(latest, k[before], ci[before])  # contacts are sorted by id: highest position = latest

    queue = np.zeros(k_n, dtype=np.int64)
    agent = np.zeros(k_n, dtype=np.int64)
    channel = np.where(latest >= 0, contacts.channel[np.maximum(latest, 0)], 0)
    if len(legs_):
        lpos = np.searchsorted(contacts.id, legs_.contact_id)
        index = np.arange(len(legs_), dtype=np.int64)
        last_any = np.full(len(contacts), -1, dtype=np.int64)
        np.maximum.at(last_any, lpos, index)
        handled = legs_.outcome == Outcome.HANDLED
        last_handled = np.full(len(contacts), -1, dtype=np.int64)
        np.maximum.at(last_handled, lpos[handled], index[handled])
        chosen = np.where(latest >= 0, np.where(last_handled[np.maximum(latest, 0)] >= 0,
                                                last_handled[np.maximum(latest, 0)],
                                                last_any[np.maximum(latest, 0)]), -1)
        has_leg = chosen >= 0
        queue = np.where(has_leg, legs_.queue_id[np.maximum(chosen, 0)], 0)
        agent = np.where(has_leg, legs_.agent_id[np.maximum(chosen, 0)], 0)
    fcr = (inbound == 1) & ~reopened
    return CaseFacts(case_id=resolved.id, resolved_ms=resolved.resolved_ms, queue_id=queue, channel=channel,
                     agent_id=agent, inbound=inbound, reopened=reopened.astype(np.int64),
                     fcr=fcr.astype(np.int64))
