"""Agent state changes: chosen (available, break, offline) and following the work (busy, wrap_up)."""

from __future__ import annotations

from sqlalchemy import func, select

from madoguchi.agents.models import AgentProfile, AgentStateSpan
from madoguchi.agents.schemas import DEFAULT_CAPACITY, AgentRoutingIn
from madoguchi.agents.states import CONSULT_REASON, MISSED_REASON, AgentMove, AgentState, check_break_reason, move
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import ContactState
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.identity.permissions import HANDLING_ROLES, Role
from madoguchi.kernel.errors import InvalidInput, NotFound
from madoguchi.kernel.events import SUPERVISORS, Event, user_topic

AGENT_STATE_CHANGED = "agent.state_changed"


async def profile_for(uow: UnitOfWork, user: User, *, lock: bool = False) -> AgentProfile:
    """The agent profile, created (offline) the first time a handling user needs one."""
    profile = await uow.session.get(AgentProfile, user.id, with_for_update=lock)
    if profile is None:
        if Role(user.role) not in HANDLING_ROLES:
            raise InvalidInput(f"a {user.role} does not handle contacts")
        now = uow.clock.now()
        profile = AgentProfile(user_id=user.id, state=AgentState.OFFLINE, state_since=now, idle_since=None,
                               capacity=dict(DEFAULT_CAPACITY))
        uow.session.add(profile)
        uow.session.add(AgentStateSpan(agent_id=user.id, state=AgentState.OFFLINE, reason=None, started_at=now))
        await uow.session.flush()
    return profile


async def _enter(uow: UnitOfWork, profile: AgentProfile, state: AgentState, reason: str | None) -> None:
    if profile.state == state and profile.break_reason == reason:
        return
    now = uow.clock.now()
    current = await uow.session.scalar(select(AgentStateSpan).where(
        AgentStateSpan.agent_id == profile.user_id, AgentStateSpan.ended_at.is_(None)))
    if current is not None:
        current.ended_at = now
    uow.session.add(AgentStateSpan(agent_id=profile.user_id, state=state, reason=reason, started_at=now))
    previous = profile.state
    profile.state = state
    profile.break_reason = reason
    profile.state_since = now
    if state == AgentState.AVAILABLE:
        profile.idle_since = now
    uow.emit(Event(AGENT_STATE_CHANGED,
                   {"agent_id": profile.user_id, "state": state.value, "reason": reason, "previous": previous,
                    "since": now.isoformat()},
                   (user_topic(profile.user_id), SUPERVISORS)))


async def work_counts(uow: UnitOfWork, agent_id: int) -> tuple[int, int]:
    """(contacts in hand, ended contacts waiting for wrap-up)."""
    rows = await uow.session.execute(
        select(Contact.state, func.count()).where(
            Contact.agent_id == agent_id,
            Contact.state.in_([ContactState.ACTIVE, ContactState.HELD, ContactState.ENDED]))
        .group_by(Contact.state))
    counts = {state: n for state, n in rows.all()}
    return counts.get("active", 0) + counts.get("held", 0), counts.get("ended", 0)


async def do_set_state(uow: UnitOfWork, *, agent: User, state: AgentState, reason: str | None,
                       actor: User) -> AgentProfile:
    profile = await profile_for(uow, agent, lock=True)
    if state == AgentState.BREAK:
        reason = check_break_reason(reason)
        target = move(profile.state, AgentMove.TAKE_BREAK)
    elif state == AgentState.OFFLINE:
        target = (move(profile.state, AgentMove.LOG_OUT) if profile.state != AgentState.OFFLINE
                  else AgentState.OFFLINE)
        reason = None
    elif state == AgentState.AVAILABLE:
        reason = None
        in_hand, to_wrap = await work_counts(uow, agent.id)
        target = move(profile.state, AgentMove.GO_AVAILABLE)
        # Going available with work in hand means being ready for more, not idle.
        if in_hand:
            target = AgentState.BUSY
        elif to_wrap:
            target = AgentState.WRAP_UP
    else:
        raise InvalidInput("an agent may choose available, break or offline", field="state")
    await _enter(uow, profile, target, reason)
    if actor.id != agent.id:
        do_audit(uow, actor=actor, action="agent.state_forced", target=f"user:{agent.id}", state=target.value)
    return profile


async def do_sync_work(uow: UnitOfWork, *, agent_id: int) -> AgentProfile:
    """Bring busy/wrap_up/available in line with the contacts the agent holds. Break and offline
    stay as chosen: the work in hand does not pull an agent off a break."""
    profile = await uow.session.get(AgentProfile, agent_id, with_for_update=True)
    if profile is None:
        raise NotFound("agent", agent_id)
    if profile.state in (AgentState.BREAK, AgentState.OFFLINE):
        return profile
    in_hand, to_wrap = await work_counts(uow, agent_id)
    if profile.break_reason == CONSULT_REASON:
        await _enter(uow, profile, AgentState.BUSY if profile.state == AgentState.BUSY
                     else move(profile.state, AgentMove.START_WORK), CONSULT_REASON)
        return profile
    if in_hand:
        target = move(profile.state, AgentMove.START_WORK) if profile.state != AgentState.BUSY else profile.state
    elif to_wrap:
        target = move(profile.state, AgentMove.WORK_DONE) if profile.state == AgentState.BUSY else profile.state
    else:
        target = AgentState.AVAILABLE
        if profile.state != AgentState.AVAILABLE:
            target = move(profile.state, AgentMove.ALL_DONE)
    await _enter(uow, profile, AgentState(target), None)
    if not in_hand and not to_wrap and target == AgentState.AVAILABLE:
        profile.idle_since = uow.clock.now()
    return profile


async def do_begin_consult(uow: UnitOfWork, *, agent_id: int) -> bool:
    """The colleague's phone joins a consultation: busy, reason "consult" (see CONSULT_REASON).
    False when the colleague is on a break or offline (they chose that meanwhile)."""
    profile = await uow.session.get(AgentProfile, agent_id, with_for_update=True)
    if profile is None or profile.state not in (AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP):
        return False
    target = AgentState.BUSY if profile.state == AgentState.BUSY else move(profile.state, AgentMove.START_WORK)
    await _enter(uow, profile, target, CONSULT_REASON)
    return True


async def do_end_consult(uow: UnitOfWork, *, agent_id: int) -> None:
    profile = await uow.session.get(AgentProfile, agent_id, with_for_update=True)
    if profile is None or profile.break_reason != CONSULT_REASON or profile.state != AgentState.BUSY:
        return
    in_hand, to_wrap = await work_counts(uow, agent_id)
    target = (AgentState.BUSY if in_hand else move(profile.state, AgentMove.WORK_DONE) if to_wrap
              else move(profile.state, AgentMove.ALL_DONE))
    await _enter(uow, profile, target, None)


async def check_set_routing(uow: UnitOfWork, *, agent: User, data: AgentRoutingIn, actor: User) -> AgentProfile:
    profile = await profile_for(uow, agent, lock=True)
    if data.skills is not None:
        profile.skills = dict(data.skills)
    if data.capacity is not None:
        profile.capacity = {**profile.capacity, **data.capacity}
    if data.voice_exclusive is not None:
        profile.voice_exclusive = data.voice_exclusive
    do_audit(uow, actor=actor, action="agent.routing_set", target=f"user:{agent.id}",
             **data.model_dump(exclude_none=True))
    uow.emit(Event(AGENT_STATE_CHANGED, {"agent_id": agent.id, "state": profile.state, "reason": profile.break_reason,
                                         "previous": profile.state, "since": profile.state_since.isoformat()},
                   (user_topic(agent.id), SUPERVISORS)))  # wakes the router: what the agent may take changed
    return profile


async def do_note_missed_offer(uow: UnitOfWork, *, agent_id: int, limit: int) -> None:
    """An offer lapsed. After ``limit`` in a row (0: never) the agent is put on a "missed" break,
    so contacts stop going to someone who is not at their desk."""
    profile = await uow.session.get(AgentProfile, agent_id, with_for_update=True)
    if profile is None:
        return
    profile.missed_offers += 1
    if limit and profile.missed_offers >= limit and profile.state in (AgentState.AVAILABLE, AgentState.BUSY):
        await _enter(uow, profile, move(profile.state, AgentMove.TAKE_BREAK), MISSED_REASON)


async def do_clear_missed_offers(uow: UnitOfWork, *, agent_id: int) -> None:
    profile = await uow.session.get(AgentProfile, agent_id)
    if profile is not None and profile.missed_offers:
        profile.missed_offers = 0
