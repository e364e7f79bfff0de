from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from madoguchi.agents import actions, queries, work
from madoguchi.agents.schemas import AgentOut, AgentRoutingIn, AgentStateIn
from madoguchi.api.deps import CtxDep, require
from madoguchi.contacts.schemas import ContactOut, WrapUpIn
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm
from madoguchi.kernel.errors import NotFound
from madoguchi.routing.queries import members_by_agent

router = APIRouter(tags=["agents"])


async def _agent_out(ctx: CtxDep, user_id: int) -> AgentOut:
    async with ctx.db.read() as session:
        agents = await queries.list_agents(session, queue_members=await members_by_agent(session))
    for agent in agents:
        if agent.user_id == user_id:
            return agent
    raise NotFound("agent", user_id)


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_AGENTS)]) -> list[AgentOut]:
    async with ctx.db.read() as session:
        return await queries.list_agents(session, queue_members=await members_by_agent(session))


@router.get("/agents/me", response_model=AgentOut)
async def my_agent(ctx: CtxDep, user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> AgentOut:
    return await _agent_out(ctx, user.id)


@router.put("/agents/me/state", response_model=AgentOut)
async def set_my_state(body: AgentStateIn, ctx: CtxDep,
                       user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> AgentOut:
    async with ctx.db.uow() as uow:
        await actions.do_set_state(uow, agent=user, state=body.state, reason=body.reason, actor=user)
    return await _agent_out(ctx, user.id)


@router.put("/agents/{agent_id}/state", response_model=AgentOut)
async def set_agent_state(agent_id: int, body: AgentStateIn, ctx: CtxDep,
                          user: Annotated[User, require(Perm.MANAGE_AGENT_STATE)]) -> AgentOut:
    async with ctx.db.uow() as uow:
        agent = await uow.session.get(User, agent_id)
        if agent is None:
            raise NotFound("agent", agent_id)
        await actions.do_set_state(uow, agent=agent, state=body.state, reason=body.reason, actor=user)
    return await _agent_out(ctx, agent_id)


@router.patch("/agents/{agent_id}/routing", response_model=AgentOut)
async def set_agent_routing(agent_id: int, body: AgentRoutingIn, ctx: CtxDep,
                            user: Annotated[User, require(Perm.MANAGE_QUEUES)]) -> AgentOut:
    """Skills (proficiency 1–5), capacity per class of work, voice exclusivity."""
    async with ctx.db.uow() as uow:
        agent = await uow.session.get(User, agent_id)
        if agent is None:
            raise NotFound("agent", agent_id)
        await actions.check_set_routing(uow, agent=agent, data=body, actor=user)
    return await _agent_out(ctx, agent_id)


@router.post("/contacts/{contact_id}/hold", response_model=ContactOut)
async def hold_contact(contact_id: int, ctx: CtxDep,
                       user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> ContactOut:
    async with ctx.db.uow() as uow:
        contact = await work.check_hold(uow, actor=user, contact_id=contact_id, hold=True)
    return ContactOut.model_validate(contact)


@router.post("/contacts/{contact_id}/resume", response_model=ContactOut)
async def resume_contact(contact_id: int, ctx: CtxDep,
                         user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> ContactOut:
    async with ctx.db.uow() as uow:
        contact = await work.check_hold(uow, actor=user, contact_id=contact_id, hold=False)
    return ContactOut.model_validate(contact)


@router.post("/contacts/{contact_id}/end", response_model=ContactOut)
async def end_contact(contact_id: int, ctx: CtxDep,
                      user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> ContactOut:
    async with ctx.db.uow() as uow:
        contact = await work.check_end_contact(uow, actor=user, contact_id=contact_id)
    return ContactOut.model_validate(contact)


@router.post("/contacts/{contact_id}/wrap-up", response_model=ContactOut)
async def wrap_up(contact_id: int, body: WrapUpIn, ctx: CtxDep,
                  user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> ContactOut:
    async with ctx.db.uow() as uow:
        contact = await work.check_wrap_up(uow, actor=user, contact_id=contact_id, data=body)
    return ContactOut.model_validate(contact)
