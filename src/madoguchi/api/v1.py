"""REST API v1: one router that includes each domain's routes."""

from __future__ import annotations

from fastapi import APIRouter

from madoguchi.agents.routes import router as agents
from madoguchi.api.errors import ERROR_RESPONSES
from madoguchi.bot.routes import router as bot
from madoguchi.channels.email.routes import router as email
from madoguchi.channels.routes import router as channels
from madoguchi.channels.voice.routes import router as voice
from madoguchi.channels.webchat.routes import router as webchat
from madoguchi.contacts.routes import router as contacts
from madoguchi.customers.routes import router as customers
from madoguchi.flows.routes import router as flows
from madoguchi.identity.routes import router as identity
from madoguchi.kb.routes import router as kb
from madoguchi.reports.routes import router as reports
from madoguchi.routing.routes import router as routing

api_v1 = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
for domain_router in (identity, customers, contacts, agents, routing, channels, webchat, email, kb, flows, bot):
    api_v1.include_router(domain_router)
api_v1.include_router(reports)
api_v1.include_router(voice)
