"""The catalogue of contact realtime events, each with the audience its emitter computes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from madoguchi.contacts.models import Contact
from madoguchi.kernel.events import SUPERVISORS, Event, user_topic

CONTACT_CHANGED = "contact.changed"
MESSAGE_CREATED = "message.created"
TYPING = "typing"


class Listeners(Protocol):
    """What a contact's audience is computed from (an ORM ``Contact`` or a lighter row)."""

    @property
    def agent_id(self) -> int | None: ...
    @property
    def customer_topic(self) -> str | None: ...


def audience(contact: Listeners, *, customer: bool, supervisors: bool = True,
             extra_users: tuple[int, ...] = ()) -> tuple[str, ...]:
    topics: list[str] = []
    if customer and contact.customer_topic:
        topics.append(contact.customer_topic)
    if contact.agent_id is not None:
        topics.append(user_topic(contact.agent_id))
    topics.extend(user_topic(u) for u in extra_users if u != contact.agent_id)
    if supervisors:
        topics.append(SUPERVISORS)
    return tuple(topics)


def contact_summary(contact: Contact) -> dict[str, Any]:
    return {"contact_id": contact.id, "state": contact.state, "queue_id": contact.queue_id,
            "agent_id": contact.agent_id, "channel_kind": contact.channel_kind,
            "customer_id": contact.customer_id}


def contact_changed(contact: Contact, *, change: str, extra_users: tuple[int, ...] = (),
                    customer_sees: bool = True, **data: Any) -> Event:
    """``change`` is the contact event type behind it (queued, offered, accepted, ended …)."""
    return Event(CONTACT_CHANGED, {"change": change, **contact_summary(contact), **data},
                 audience(contact, customer=customer_sees, extra_users=extra_users))


class MessageFacts(Protocol):
    """A stored message: an ORM ``Message`` or the chat writer's lighter copy of its row."""

    @property
    def id(self) -> int: ...
    @property
    def contact_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def author_kind(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def client_msg_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


def message_payload(message: MessageFacts, author_name: str | None) -> dict[str, Any]:
    return {"message_id": message.id, "contact_id": message.contact_id, "kind": message.kind,
            "author_kind": message.author_kind, "author_name": author_name, "body": message.body,
            "client_msg_id": message.client_msg_id, "created_at": message.created_at.isoformat()}


def message_created(contact: Listeners, message: MessageFacts, author_name: str | None) -> Event:
    # Internal notes never reach the customer; message bodies stay off the floor-wide stream.
    return Event(MESSAGE_CREATED, message_payload(message, author_name),
                 audience(contact, customer=message.kind != "note", supervisors=False))


def typing(contact: Contact, *, who: str, active: bool) -> Event:
    # Each side sees the other typing, never itself.
    topics = audience(contact, customer=True, supervisors=False)
    if who == "customer":
        topics = tuple(t for t in topics if t != contact.customer_topic)
    elif contact.agent_id is not None:
        topics = tuple(t for t in topics if t != user_topic(contact.agent_id))
    return Event(TYPING, {"contact_id": contact.id, "who": who, "active": active}, topics, durable=False)
