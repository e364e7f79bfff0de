"""The flow interpreter. Pure and channel-agnostic: ``start`` and ``resume`` take a definition, the
state from last time, one input and the context, and return the actions to render and the new
state. It reads no clock and does no I/O; knowledge-base lookups go out as a ``Lookup`` action and
come back as a ``LookupResult`` input."""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from madoguchi.flows import conditions
from madoguchi.flows.definition import (
    Ask,
    BotAnswer,
    Branch,
    CallbackBlock,
    End,
    FlowDefinition,
    QueueBlock,
    Say,
    SetVars,
    Text,
)
from madoguchi.flows.texts import DEFAULTS

MAX_BLOCKS_PER_STEP = 100
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_YES = {"yes", "y", "yeah", "yep", "はい", "うん", "ええ", "解決した", "解決しました", "ok", "okay", "ありがとう"}
_NO = {"no", "n", "nope", "いいえ", "いや", "解決しない", "解決しなかった", "解決していない", "だめ", "ダメ"}


class FlowError(Exception):
    """The flow cannot go on (a loop without input, a missing block); the runner hands off."""


# --- context and inputs --------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueStatus:
    waiting: int
    agents_available: int


@dataclass(frozen=True)
class FlowContext:
    now: datetime
    language: str = "ja"
    timezone: str = "Asia/Tokyo"
    attributes: Mapping[str, Any] = field(default_factory=dict)
    queues: Mapping[str, QueueStatus] = field(default_factory=dict)


@dataclass(frozen=True)
class TextInput:
    text: str
    human: bool = False  # the runner's intent check: the customer asks for a person


@dataclass(frozen=True)
class Timeout:
    pass


@dataclass(frozen=True)
class Candidate:
    article_id: int
    title: str
    answer: str
    confidence: float


@dataclass(frozen=True)
class LookupResult:
    candidates: tuple[Candidate, ...] = ()
    human: bool = False


Input = TextInput | Timeout | LookupResult


# --- actions -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SayAction:
    text: str
    article_id: int | None = None
    audio: str | None = None                 # an uploaded voice prompt (the phone plays it; chat shows text)


@dataclass(frozen=True)
class PromptAction:
    text: str
    input: str                               # "text", "choices" or "digits"
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    timeout_s: int | None = None
    audio: str | None = None


@dataclass(frozen=True)
class LookupAction:
    query: str


@dataclass(frozen=True)
class FactAction:
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class EnqueueAction:
    queue: str | None
    priority: int
    skills: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class CallbackAction:
    phone: str
    note: str | None


@dataclass(frozen=True)
class EndAction:
    reason: str


Action = SayAction | PromptAction | LookupAction | FactAction | EnqueueAction | CallbackAction | EndAction


@dataclass
class Step:
    actions: list[Action]
    state: dict[str, Any]

    @property
    def waiting(self) -> str | None:
        """``text``, ``choice``, ``digits``, ``lookup``, or None when the flow is done."""
        wait = self.state.get("wait")
        if wait is None:
            return None
        if wait == "ask":
            kind = str(self.state.get("ask_input", "text"))
            return "choice" if kind == "choices" else kind
        return {"question": "text", "lookup": "lookup", "feedback": "choice", "pick": "choice"}[wait]

    @property
    def timeout_s(self) -> int | None:
        value = self.state.get("timeout_s")
        return int(value) if value is not None and self.state.get("wait") != "lookup" else None

    @property
    def done(self) -> bool:
        return bool(self.state.get("done"))


def start(flow: FlowDefinition, context: FlowContext, *, opening_text: str | None = None) -> Step:
    """Run from ``start`` until the flow waits or ends. ``opening_text`` (the customer's first
    message) is the first question of the first bot_answer block."""
    state: dict[str, Any] = {"block": flow.start, "wait": None, "tries": 0, "misses": 0, "vars": {},
                             "opening": opening_text, "done": False}
    run = _Run(flow, context, state)
    run.go(flow.start)
    return Step(run.actions, run.state)


def resume(flow: FlowDefinition, state: Mapping[str, Any], event: Input, context: FlowContext) -> Step:
    run = _Run(flow, context, copy.deepcopy(dict(state)))
    run.feed(event)
    return Step(run.actions, run.state)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip().rstrip("。.!！?？ ")


class _Run:
    def __init__(self, flow: FlowDefinition, context: FlowContext, state: dict[str, Any]) -> None:
        self.flow = flow
        self.context = context
        self.state = state
        self.actions: list[Action] = []
        self.entered = 0

    # -- helpers --
    def text(self, value: Text | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            chosen = value
        else:
            lang = self.context.language
            chosen = value.get(lang) or value.get("en") or next(iter(value.values()), "")  # type: ignore[call-overload]
        variables = self.state["vars"]
        return _PLACEHOLDER.sub(lambda m: str(variables.get(m.group(1), "")), chosen)

    def builtin(self, key: str) -> str:
        override = self.flow.texts.get(key)
        return self.text(override if override is not None else DEFAULTS[key])  # type: ignore[arg-type]

    def fact(self, type_: str, **data: Any) -> None:
        self.actions.append(FactAction(type_, data))

    def wait(self, kind: str, timeout_s: int | None) -> None:
        self.state["wait"] = kind
        self.state["timeout_s"] = timeout_s

    def finish(self, action: Action, *, fact: str | None = None, reason: str | None = None) -> None:
        if fact is not None:
            self.fact(fact, reason=reason)
        self.actions.append(action)
        self.state.update(wait=None, timeout_s=None, done=True)

    def block(self) -> Any:
        try:
            return self.flow.blocks[self.state["block"]]
        except KeyError:
            raise FlowError(f"no block named {self.state['block']!r}") from None

    def facts(self) -> conditions.Facts:
        return conditions.Facts(
            now=self.context.now, timezone=self.context.timezone, language=self.context.language,
            last_input=self.state["vars"].get("last_input"), variables=self.state["vars"],
            attributes=self.context.attributes,
            queues={name: (q.waiting, q.agents_available) for name, q in self.context.queues.items()},
            hours=self.flow.hours)

    # -- running blocks --
    def go(self, block_id: str | None) -> None:
        while True:
            if block_id is None:
                self.finish(EndAction("completed"), fact="flow_ended", reason="completed")
                return
            self.entered += 1
            if self.entered > MAX_BLOCKS_PER_STEP:
                raise FlowError(f"more than {MAX_BLOCKS_PER_STEP} blocks without waiting for the customer")
            self.state.update(block=block_id, wait=None, timeout_s=None, tries=0)
            block = self.block()
            following = self.enter(block)
            if following is _WAIT:
                return
            block_id = following  # type: ignore[assignment]

    def enter(self, block: Any) -> str | object | None:
        if isinstance(block, Say):
            self.actions.append(SayAction(self.text(block.text), audio=block.audio))
            return block.next
        if isinstance(block, Ask):
            self.state["ask_input"] = block.input
            self.prompt_ask(block, self.text(block.prompt))
            return _WAIT
        if isinstance(block, Branch):
            facts = self.facts()
            for rule in block.rules:
                if conditions.holds(rule.when, facts):
                    return rule.next
            return block.else_
        if isinstance(block, SetVars):
            for name, template in block.values.items():
                self.state["vars"][name] = self.text(template)
            return block.next
        if isinstance(block, BotAnswer):
            self.state["misses"] = 0
            opening = self.state.pop("opening", None)
            if opening:
                self.ask_kb(opening)
            else:
                if block.prompt is not None:
                    self.actions.append(PromptAction(self.text(block.prompt), "text", (), block.timeout_s))
                self.wait("question", block.timeout_s)
            return _WAIT
        if isinstance(block, QueueBlock):
            reason = self.state["vars"].get("escalation_reason")
            if not reason:
                reason = "flow_rule"
                self.state["vars"]["escalation_reason"] = reason
                self.fact("escalated", reason=reason)
            self.finish(EnqueueAction(block.queue, block.priority, tuple(block.skills), reason))
            return _WAIT
        if isinstance(block, CallbackBlock):
            phone, note = self.text(block.phone), self.text(block.note) if block.note else None
            self.fact("callback_requested", phone=phone, note=note)
            self.actions.append(CallbackAction(phone, note))
            if block.next is None:
                self.finish(EndAction("callback"), fact="flow_ended", reason="callback")
                return _WAIT
            return block.next
        if isinstance(block, End):
            self.finish(EndAction(block.reason), fact="flow_ended", reason=block.reason)
            return _WAIT
        raise FlowError(f"unknown block {block!r}")

    def prompt_ask(self, block: Ask, text: str) -> None:
        choices = tuple((c.value, self.text(c.label)) for c in block.choices)
        self.actions.append(PromptAction(text, block.input, choices, block.timeout_s, audio=block.audio))
        self.wait("ask", block.timeout_s)

    # -- inputs --
    def feed(self, event: Input) -> None:
        if self.state.get("done") or self.state.get("wait") is None:
            return
        wait = self.state["wait"]
        if isinstance(event, TextInput):
            self.state["vars"]["last_input"] = event.text
            if event.human and wait != "lookup" and self.human_target() is not None:
                self.escalate("customer_request")
                return
        if wait == "ask":
            self.feed_ask(self.block(), event)
        elif wait == "lookup":
            if isinstance(event, LookupResult):
                self.answer(event)
        elif isinstance(event, Timeout):
            block = self.block()
            self.fact("flow_timeout", block=self.state["block"])
            if block.on_timeout:
                self.go(block.on_timeout)
            else:
                self.finish(EndAction("inactive"), fact="flow_ended", reason="inactive")
        elif isinstance(event, TextInput):
            if wait == "feedback" and self.feedback(event.text):
                return
            if wait == "pick" and self.pick(event.text):
                return
            self.ask_kb(event.text)

    def human_target(self) -> str | None:
        block = self.block()
        if isinstance(block, BotAnswer) and block.escalate:
            return block.escalate
        return self.flow.on_human

    def feed_ask(self, block: Ask, event: Input) -> None:
        if isinstance(event, LookupResult):
            return
        value = None if isinstance(event, Timeout) else self.accept(block, event.text)
        if value is not None:
            if block.var:
                self.state["vars"][block.var] = value
            chosen = next((c for c in block.choices if c.value == value), None)
            self.go(chosen.next if chosen is not None and chosen.next else block.next)
            return
        if self.state["tries"] < block.retries:
            self.state["tries"] += 1
            tries = self.state["tries"]
            if isinstance(event, Timeout):
                text = self.text(block.prompt)
            else:
                text = self.text(block.no_match) if block.no_match else self.builtin(
                    {"choices": "choose", "digits": "digits"}.get(block.input, "empty"))
            self.prompt_ask(block, text)
            self.state["tries"] = tries
            return
        target = block.on_timeout if isinstance(event, Timeout) else block.on_failure
        if target:
            self.go(target)
        else:
            reason = "no_input" if isinstance(event, Timeout) else "no_match"
            self.finish(EndAction(reason), fact="flow_ended", reason=reason)

    def accept(self, block: Ask, text: str) -> str | None:
        said = normalise(text)
        if block.input == "text":
            return text.strip() or None
        if block.input == "digits":
            digits = re.sub(r"[\s\-‐ー－()（）+]", "", unicodedata.normalize("NFKC", text))
            ok = digits.isascii() and digits.isdigit() and block.min_digits <= len(digits) <= block.max_digits
            return digits if ok else None
        for position, choice in enumerate(block.choices, start=1):
            labels = [choice.label] if isinstance(choice.label, str) else list(choice.label.values())
            names = {normalise(choice.value), str(position), *(normalise(self.text(label)) for label in labels)}
            if said in names:
                return choice.value
        return None

    # -- the bot --
    def ask_kb(self, question: str) -> None:
        self.state["query"] = question
        self.actions.append(LookupAction(question))
        self.wait("lookup", None)

    def answer(self, result: LookupResult) -> None:
        block = self.block()
        if not isinstance(block, BotAnswer):
            raise FlowError("a lookup result outside a bot_answer block")
        if result.human:
            self.escalate("customer_request")
            return
        best = result.candidates[0] if result.candidates else None
        if best is not None and best.confidence >= block.confident:
            self.show(block, best, via="search")
            return
        unsure = [c for c in result.candidates[:3] if c.confidence >= block.unsure]
        if unsure:
            self.state["offered"] = [[c.article_id, c.title, c.answer, c.confidence] for c in unsure]
            self.fact("bot_suggested", article_ids=[c.article_id for c in unsure], query=self.state.get("query"))
            choices = (*((f"a{c.article_id}", c.title) for c in unsure), ("none", self.builtin("none_of_these")))
            self.actions.append(PromptAction(self.builtin("did_you_mean"), "choices", choices, block.timeout_s))
            self.wait("pick", block.timeout_s)
            return
        self.miss(block)

    def show(self, block: BotAnswer, candidate: Candidate, *, via: str) -> None:
        self.state["misses"] = 0
        self.state["article"] = candidate.article_id
        self.fact("bot_answered", article_id=candidate.article_id, confidence=candidate.confidence, via=via)
        self.actions.append(SayAction(candidate.answer, candidate.article_id))
        if block.feedback:
            choices = (("yes", self.builtin("yes")), ("no", self.builtin("no")))
            self.actions.append(PromptAction(self.builtin("feedback"), "choices", choices, block.timeout_s))
            self.wait("feedback", block.timeout_s)
        else:
            self.wait("question", block.timeout_s)

    def miss(self, block: BotAnswer) -> None:
        self.state["misses"] = int(self.state.get("misses", 0)) + 1
        self.fact("bot_unanswered", query=self.state.get("query"))
        if self.state["misses"] >= block.max_misses:
            self.escalate("low_confidence")
            return
        self.actions.append(SayAction(self.builtin("rephrase")))
        self.wait("question", block.timeout_s)

    def feedback(self, text: str) -> bool:
        block = self.block()
        said = normalise(text)
        yes = said in _YES or said in {normalise(self.builtin("yes")), "1"}
        no = said in _NO or said in {normalise(self.builtin("no")), "2"}
        if not (yes or no):
            return False
        self.fact("bot_feedback", article_id=self.state.get("article"), helpful=yes)
        if yes:
            if block.resolved:
                self.go(block.resolved)
            else:
                self.actions.append(SayAction(self.builtin("glad")))
                self.wait("question", block.timeout_s)
        elif block.escalate_on_negative:
            self.escalate("negative_feedback")
        else:
            self.actions.append(SayAction(self.builtin("rephrase")))
            self.wait("question", block.timeout_s)
        return True

    def pick(self, text: str) -> bool:
        block = self.block()
        said = normalise(text)
        offered = self.state.get("offered") or []
        if said in {"none", normalise(self.builtin("none_of_these")), str(len(offered) + 1)}:
            self.state.pop("offered", None)
            self.miss(block)
            return True
        for position, (article_id, title, answer, confidence) in enumerate(offered, start=1):
            if said in {normalise(title), str(position), f"a{article_id}"}:
                self.state.pop("offered", None)
                self.show(block, Candidate(article_id, title, answer, confidence), via="choice")
                return True
        return False

    def escalate(self, reason: str) -> None:
        self.state["vars"]["escalation_reason"] = reason
        self.fact("escalated", reason=reason)
        target = self.human_target()
        if target is not None:
            self.go(target)
        else:
            self.finish(EnqueueAction(None, 0, (), reason))


_WAIT = object()
