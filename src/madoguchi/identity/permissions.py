"""Roles and the permissions each grants. Every route names one permission (or is declared public)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"          # center head / administrator
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    QA = "qa"
    TRAINER = "trainer"


class Perm(StrEnum):
    SELF = "self"                          # own profile, own tokens, own session
    HANDLE_CONTACTS = "contacts.handle"    # own agent state, offers, reply to assigned contacts
    READ_ALL_CONTACTS = "contacts.read_all"
    READ_CUSTOMERS = "customers.read"
    READ_QUEUES = "queues.read"
    READ_AGENTS = "agents.read"
    MANAGE_AGENT_STATE = "agents.manage_state"
    MANAGE_QUEUES = "queues.manage"
    MANAGE_DISPOSITIONS = "dispositions.manage"
    MANAGE_ENTRY_POINTS = "entry_points.manage"
    MANAGE_USERS = "users.manage"
    READ_AUDIT = "audit.read"
    WATCH_FLOOR = "floor.watch"            # supervisor realtime stream
    READ_KB = "kb.read"                    # search and read knowledge-base articles
    MANAGE_KB = "kb.manage"                # write, import, archive articles
    MANAGE_FLOWS = "flows.manage"          # bot and IVR flows, their assignment to entry points
    READ_BOT_REPORTS = "bot.reports"       # bot containment, escalations, unanswered questions
    READ_REPORTS = "reports.read"          # KPI reports, drill-down, CSV exports


_STAFF = {Perm.SELF, Perm.READ_QUEUES, Perm.READ_CUSTOMERS, Perm.READ_KB}
_OVERSIGHT = {Perm.READ_ALL_CONTACTS, Perm.READ_AGENTS, Perm.READ_BOT_REPORTS}

GRANTS: dict[Role, frozenset[Perm]] = {
    Role.AGENT: frozenset(_STAFF | {Perm.HANDLE_CONTACTS}),
    Role.QA: frozenset(_STAFF | _OVERSIGHT),
    Role.TRAINER: frozenset(_STAFF | _OVERSIGHT),
    Role.SUPERVISOR: frozenset(_STAFF | _OVERSIGHT | {Perm.HANDLE_CONTACTS, Perm.MANAGE_AGENT_STATE,
                                                      Perm.WATCH_FLOOR, Perm.MANAGE_KB}),
    Role.MANAGER: frozenset(_STAFF | _OVERSIGHT | {Perm.MANAGE_AGENT_STATE, Perm.MANAGE_QUEUES,
                                                   Perm.MANAGE_DISPOSITIONS, Perm.WATCH_FLOOR, Perm.MANAGE_KB,
                                                   Perm.MANAGE_FLOWS}),
    Role.ADMIN: frozenset(set(Perm)),
}
# KPI reports (docs/reports.md): managers, supervisors and QA read them (admins hold every permission).
for _role in (Role.MANAGER, Role.SUPERVISOR, Role.QA):
    GRANTS[_role] = GRANTS[_role] | {Perm.READ_REPORTS}

#: Roles whose users take contacts and so have an agent profile.
HANDLING_ROLES = frozenset(r for r, perms in GRANTS.items() if Perm.HANDLE_CONTACTS in perms)
#: Roles that receive the floor-wide realtime stream.
FLOOR_ROLES = frozenset(r for r, perms in GRANTS.items() if Perm.WATCH_FLOOR in perms)


def has(role: str, perm: Perm) -> bool:
    try:
        return perm in GRANTS[Role(role)]
    except ValueError:
        return False
