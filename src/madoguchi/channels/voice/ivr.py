"""The IVR: a flow (flows/engine.py) played on a call. Say → speech; ask → speech with barge-in,
then DTMF; queue → the result; end → the call ends. Entry points without a published flow get
one made from their settings (greeting, menu)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from madoguchi.channels.voice.audio import Prompt
from madoguchi.channels.voice.prompts import Prompts
from madoguchi.channels.voice.telephony import Leg, is_ended
from madoguchi.channels.voice.uploads import RecordedPrompts
from madoguchi.flows import engine
from madoguchi.flows.definition import FlowDefinition, parse_definition

logger = logging.getLogger(__name__)

Record = Callable[[str, dict[str, Any]], Awaitable[None]]
DEFAULT_MENU_PROMPT = {"ja": "お電話ありがとうございます。営業は1を、サポートは2を、オペレーターは0を押してください。",
                       "en": "Thank you for calling. For sales press 1, for support press 2, for an operator press 0."}


@dataclass
class IvrResult:
    queue: str | None = None       # a queue name; None with ``queued``: the entry point's queue
    queued: bool = False
    priority: int = 0
    ended_reason: str | None = None  # the flow ended the call (or the caller hung up: "caller_hangup")
    callback: str | None = None      # a callback block: the number to call back ("" : the caller's)
    digits: list[str] = field(default_factory=list)


def menu_flow(settings: dict[str, Any]) -> FlowDefinition | None:
    """The flow an entry point's settings describe; None: no IVR, straight to the queue."""
    menu: dict[str, str] | None = settings.get("menu")
    greeting = settings.get("greeting")
    if not menu and not greeting:
        return None
    blocks: dict[str, Any] = {"to_queue": {"type": "queue"}}
    start = "menu" if menu else "greeting"
    if greeting:
        blocks["greeting"] = {"type": "say", "text": greeting, "next": "menu" if menu else "to_queue"}
        start = "greeting"
    if menu:
        blocks["menu"] = {"type": "ask", "prompt": settings.get("menu_prompt") or DEFAULT_MENU_PROMPT,
                          "input": "choices", "timeout_s": 5, "retries": 1, "on_timeout": "to_queue",
                          "on_failure": "to_queue",
                          "choices": [{"value": digit, "label": digit, "next": f"q_{digit}"} for digit in menu]}
        for digit, queue in menu.items():
            blocks[f"q_{digit}"] = {"type": "queue", "queue": queue or None}
    definition, _ = parse_definition({"start": start, "blocks": blocks})
    return definition


class Ivr:
    def __init__(self, prompts: Prompts, *, first_digit_s: float = 5.0, inter_digit_s: float = 3.0,
                 recorded: RecordedPrompts | None = None) -> None:
        self.prompts = prompts
        self.recorded = recorded
        self.first_digit_s = first_digit_s
        self.inter_digit_s = inter_digit_s

    async def run(self, leg: Leg, flow: FlowDefinition, context: engine.FlowContext, record: Record) -> IvrResult:
        result = IvrResult()
        try:
            step = engine.start(flow, context)
        except engine.FlowError as error:
            logger.warning("IVR flow failed at start: %s", error)
            result.queued = True
            return result
        for _ in range(200):  # a flow that never waits or ends is cut off
            prompt: engine.PromptAction | None = None
            for action in step.actions:
                if isinstance(action, engine.SayAction):
                    await leg.play(await self._audio(action.text, action.audio, context.language))
                elif isinstance(action, engine.PromptAction):
                    prompt = action
                elif isinstance(action, engine.FactAction):
                    await record(action.type, action.data)
                elif isinstance(action, engine.EnqueueAction):
                    result.queued, result.queue, result.priority = True, action.queue, action.priority
                elif isinstance(action, engine.EndAction):
                    result.ended_reason = action.reason
                elif isinstance(action, engine.CallbackAction):  # its fact comes as a FactAction
                    result.callback = action.phone or ""
            if is_ended(leg):
                result.ended_reason = "caller_hangup"
                return result
            waiting = step.waiting
            if waiting is None or result.queued or result.ended_reason:
                return result
            if waiting == "lookup":  # no knowledge-base answers on the phone: a person helps
                step = engine.resume(flow, step.state, engine.LookupResult(human=True), context)
                continue
            block = str(step.state.get("block"))
            if prompt is not None:
                await leg.play(await self._audio(prompt.text, prompt.audio, context.language), barge_in=True)
            max_digits = 1 if waiting == "choice" and len(prompt.choices if prompt else ()) <= 9 else 32
            timeout = float(prompt.timeout_s) if prompt and prompt.timeout_s else self.first_digit_s
            digits = await leg.collect_digits(max_digits=max_digits, timeout_s=min(timeout, self.first_digit_s))
            if is_ended(leg):
                result.ended_reason = "caller_hangup"
                return result
            result.digits.append(digits)
            event: engine.Input = engine.TextInput(digits) if digits else engine.Timeout()
            step = engine.resume(flow, step.state, event, context)
            await record("ivr_input", {"block": block, "digits": digits, "next": step.state.get("block")})
        result.queued = True
        return result

    async def _audio(self, text: str, audio: str | None, language: str) -> Prompt:
        """The uploaded recording the block names, else the text spoken (also when it is missing)."""
        if audio and self.recorded is not None:
            recorded = await self.recorded.get(audio, language)
            if recorded is not None:
                return recorded
            logger.warning("voice prompt %r is not uploaded; speaking the text instead", audio)
        return await self.prompts.speech(text, language)
