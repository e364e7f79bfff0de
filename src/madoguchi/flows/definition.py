"""Flow definitions: one model per block type, and ``parse_definition`` that checks a whole graph
and names every problem by its path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from madoguchi.flows import conditions
from madoguchi.flows.hours import BusinessHours
from madoguchi.kernel.errors import InvalidInput

BlockId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Text = str | dict[Literal["ja", "en"], str]
MAX_TIMEOUT_S = 7 * 86400


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


AudioName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class Say(_Block):
    type: Literal["say"]
    text: Text
    audio: AudioName | None = None   # an uploaded voice prompt the phone plays instead of speaking text
    next: BlockId | None = None


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, Field(min_length=1, max_length=80)]
    label: Text
    next: BlockId | None = None


class Ask(_Block):
    type: Literal["ask"]
    prompt: Text
    audio: AudioName | None = None
    input: Literal["text", "choices", "digits"] = "text"
    choices: list[Choice] = Field(default_factory=list, max_length=10)
    min_digits: Annotated[int, Field(ge=1, le=64)] = 1
    max_digits: Annotated[int, Field(ge=1, le=64)] = 32
    var: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")] | None = None
    timeout_s: Annotated[int, Field(ge=5, le=MAX_TIMEOUT_S)] | None = None
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    no_match: Text | None = None
    next: BlockId | None = None
    on_timeout: BlockId | None = None
    on_failure: BlockId | None = None

    @model_validator(mode="after")
    def _shape(self) -> Ask:
        if self.input == "choices" and not self.choices:
            raise ValueError("an ask with input 'choices' needs choices")
        if self.input != "choices" and self.choices:
            raise ValueError("choices are only for input 'choices'")
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits is larger than max_digits")
        return self


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    when: dict[str, Any] = Field(alias="if")
    next: BlockId


class Branch(_Block):
    type: Literal["branch"]
    rules: list[Rule] = Field(min_length=1)
    else_: BlockId | None = Field(default=None, alias="else")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SetVars(_Block):
    type: Literal["set"]
    values: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], str] = Field(min_length=1)
    next: BlockId | None = None


class BotAnswer(_Block):
    type: Literal["bot_answer"]
    prompt: Text | None = None
    confident: Annotated[float, Field(ge=0, le=1)] = 0.55
    unsure: Annotated[float, Field(ge=0, le=1)] = 0.3
    max_misses: Annotated[int, Field(ge=1, le=10)] = 2
    feedback: bool = True
    escalate_on_negative: bool = True
    timeout_s: Annotated[int, Field(ge=5, le=MAX_TIMEOUT_S)] | None = None
    resolved: BlockId | None = None
    escalate: BlockId | None = None
    on_timeout: BlockId | None = None

    @model_validator(mode="after")
    def _thresholds(self) -> BotAnswer:
        if self.unsure > self.confident:
            raise ValueError("unsure must not be above confident")
        return self


class QueueBlock(_Block):
    type: Literal["queue"]
    queue: Annotated[str, Field(max_length=120)] | None = None
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    skills: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(default_factory=list, max_length=10)


class CallbackBlock(_Block):
    type: Literal["callback"]
    phone: Annotated[str, Field(max_length=200)] = "{phone}"
    note: Annotated[str, Field(max_length=500)] | None = None
    next: BlockId | None = None


class End(_Block):
    type: Literal["end"]
    reason: Annotated[str, Field(min_length=1, max_length=40)] = "completed"


Block = Annotated[Say | Ask | Branch | SetVars | BotAnswer | QueueBlock | CallbackBlock | End,
                  Field(discriminator="type")]


class FlowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: BlockId
    on_human: BlockId | None = None
    hours: dict[str, BusinessHours] = Field(default_factory=dict)
    texts: dict[str, Text] = Field(default_factory=dict)
    blocks: dict[BlockId, Block] = Field(min_length=1, max_length=500)


class FlowInvalid(InvalidInput):
    """The definition's problems, each ``{"path", "problem"}``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"the flow is not valid: {first['path']}: {first['problem']}{more}", problems=problems)
        self.problems = problems


def load_text(text: str) -> Any:
    """JSON, or YAML (a superset of JSON for what flows use)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise FlowInvalid([{"path": "(text)", "problem": f"neither JSON nor YAML: {error}"}]) from None


def targets(block: Any) -> Iterator[tuple[str, str]]:
    """(field, block id) for every block a block can go to."""
    for name in ("next", "on_timeout", "on_failure", "resolved", "escalate"):
        value = getattr(block, name, None)
        if value:
            yield name, value
    if isinstance(block, Branch):
        for i, rule in enumerate(block.rules):
            yield f"rules[{i}].next", rule.next
        if block.else_:
            yield "else", block.else_
    if isinstance(block, Ask):
        for i, choice in enumerate(block.choices):
            if choice.next:
                yield f"choices[{i}].next", choice.next


def parse_definition(raw: Any) -> tuple[FlowDefinition, list[dict[str, str]]]:
    """The typed definition and its warnings (unreachable blocks); raises FlowInvalid with every
    problem found."""
    if isinstance(raw, str):
        raw = load_text(raw)
    if not isinstance(raw, dict):
        raise FlowInvalid([{"path": "(root)", "problem": "a flow is an object with start and blocks"}])
    try:
        flow = FlowDefinition.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            # Drop the union's tag from the path ("blocks.faq.bot_answer.confident" → "blocks.faq.confident").
            loc = [str(p) for p in item["loc"]]
            if len(loc) >= 3 and loc[0] == "blocks" and loc[2] in {"say", "ask", "branch", "set", "bot_answer",
                                                                    "queue", "callback", "end"}:
                del loc[2]
            problems.append({"path": ".".join(loc) or "(root)", "problem": item["msg"]})
        raise FlowInvalid(problems) from None
    problems = []
    if flow.start not in flow.blocks:
        problems.append({"path": "start", "problem": f"no block named {flow.start!r}"})
    if flow.on_human and flow.on_human not in flow.blocks:
        problems.append({"path": "on_human", "problem": f"no block named {flow.on_human!r}"})
    for block_id, block in flow.blocks.items():
        for field, target in targets(block):
            if target not in flow.blocks:
                problems.append({"path": f"blocks.{block_id}.{field}", "problem": f"no block named {target!r}"})
        if isinstance(block, Branch):
            for i, rule in enumerate(block.rules):
                for path, problem in conditions.check(rule.when, f"blocks.{block_id}.rules[{i}].if", flow.hours):
                    problems.append({"path": path, "problem": problem})
    if problems:
        raise FlowInvalid(problems)
    return flow, _unreachable(flow)


def _unreachable(flow: FlowDefinition) -> list[dict[str, str]]:
    seen: set[str] = set()
    todo = [flow.start] + ([flow.on_human] if flow.on_human else [])
    while todo:
        block_id = todo.pop()
        if block_id in seen:
            continue
        seen.add(block_id)
        todo.extend(target for _, target in targets(flow.blocks[block_id]))
    return [{"path": f"blocks.{b}", "problem": "cannot be reached from start"} for b in flow.blocks if b not in seen]
