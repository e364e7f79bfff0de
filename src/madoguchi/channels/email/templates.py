"""Canned responses with ``{variables}``: unknown names stay as written, so a typo shows instead of
failing the reply."""

from __future__ import annotations

import string
from dataclasses import dataclass

from sqlalchemy import select

from madoguchi.channels.email.models import EmailTemplate
from madoguchi.db.uow import UnitOfWork

VARIABLES = ("customer_name", "case_number", "agent_name", "subject", "entry_point")


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(text: str, variables: dict[str, str]) -> str:
    try:
        return string.Formatter().vformat(text, (), _Keep(variables))
    except (ValueError, IndexError, AttributeError, KeyError):
        return text  # a stray brace: send it as written


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


def render_template(template: EmailTemplate, variables: dict[str, str]) -> Rendered:
    return Rendered(subject=render(template.subject, variables) if template.subject else None,
                    body=render(template.body, variables))


async def find_template(uow: UnitOfWork, *, name: str, language: str) -> EmailTemplate | None:
    """The template in ``language``, else in the other language."""
    rows = (await uow.session.scalars(select(EmailTemplate).where(EmailTemplate.name == name,
                                                                  EmailTemplate.active))).all()
    by_language = {t.language: t for t in rows}
    return by_language.get(language) or next(iter(by_language.values()), None)
