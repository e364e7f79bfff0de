"""The flow interpreter, block by block: actions out, inputs in, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from madoguchi.flows import engine
from madoguchi.flows.definition import FlowDefinition, parse_definition
from madoguchi.flows.engine import (
    CallbackAction,
    Candidate,
    EndAction,
    EnqueueAction,
    FactAction,
    FlowContext,
    LookupAction,
    LookupResult,
    PromptAction,
    QueueStatus,
    SayAction,
    Step,
    TextInput,
    Timeout,
)

# A Tuesday, 10:00 in Tokyo.
NOW = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)


def ctx(**overrides: Any) -> FlowContext:
    return FlowContext(**{"now": NOW, "language": "ja", **overrides})


def flow(blocks: dict[str, Any], **extra: Any) -> FlowDefinition:
    definition, _ = parse_definition({"start": next(iter(blocks)), "blocks": blocks, **extra})
    return definition


def kinds(step: Step) -> list[str]:
    return [type(a).__name__ for a in step.actions]


def facts(step: Step) -> list[tuple[str, dict[str, Any]]]:
    return [(a.type, a.data) for a in step.actions if isinstance(a, FactAction)]


def says(step: Step) -> list[str]:
    return [a.text for a in step.actions if isinstance(a, SayAction | PromptAction)]


def test_say_then_end_without_next() -> None:
    step = engine.start(flow({"hi": {"type": "say", "text": {"ja": "こんにちは", "en": "Hello"}}}), ctx())
    assert says(step) == ["こんにちは"]
    assert isinstance(step.actions[-1], EndAction) and step.actions[-1].reason == "completed"
    assert step.done and step.waiting is None
    assert facts(step) == [("flow_ended", {"reason": "completed"})]


def test_text_falls_back_to_english_and_fills_variables() -> None:
    definition = flow({"s": {"type": "set", "values": {"name": "Aiko"}, "next": "hi"},
                       "hi": {"type": "say", "text": {"en": "Hello {name}{missing}!"}, "next": "bye"},
                       "bye": {"type": "end", "reason": "done"}})
    step = engine.start(definition, ctx(language="ja"))
    assert says(step) == ["Hello Aiko!"]
    assert step.actions[-1] == EndAction("done")


CHOICES = {
    "menu": {"type": "ask", "input": "choices", "prompt": "どちらですか？", "var": "topic", "timeout_s": 30,
             "retries": 1,
             "choices": [{"value": "order", "label": {"ja": "注文", "en": "Orders"}, "next": "order"},
                         {"value": "other", "label": "その他"}],
             "next": "other", "on_timeout": "timeout", "on_failure": "failure"},
    "order": {"type": "end", "reason": "order"},
    "other": {"type": "end", "reason": "other"},
    "timeout": {"type": "end", "reason": "timeout"},
    "failure": {"type": "end", "reason": "failure"},
}


def test_ask_choices_prompts_and_waits() -> None:
    step = engine.start(flow(CHOICES), ctx())
    prompt = step.actions[-1]
    assert isinstance(prompt, PromptAction)
    assert prompt.choices == (("order", "注文"), ("other", "その他"))
    assert prompt.timeout_s == 30 and step.waiting == "choice" and step.timeout_s == 30


@pytest.mark.parametrize(("said", "reason"), [("注文", "order"), ("Orders", "order"), ("１", "order"),
                                              ("ORDER", "order"), ("その他", "other"), ("2", "other")])
def test_ask_choices_match_by_label_value_or_position(said: str, reason: str) -> None:
    definition = flow(CHOICES)
    step = engine.resume(definition, engine.start(definition, ctx()).state, TextInput(said), ctx())
    assert step.actions[-1] == EndAction(reason)
    assert step.state["vars"]["topic"] == ("order" if reason == "order" else "other")


def test_ask_retries_then_fails() -> None:
    definition = flow(CHOICES)
    step = engine.resume(definition, engine.start(definition, ctx()).state, TextInput("えっと"), ctx())
    assert says(step) == ["選択肢から選んでください。"] and step.waiting == "choice"
    step = engine.resume(definition, step.state, TextInput("まだ違う"), ctx())
    assert step.actions[-1] == EndAction("failure")


def test_ask_timeout_reprompts_then_leaves() -> None:
    definition = flow(CHOICES)
    step = engine.resume(definition, engine.start(definition, ctx()).state, Timeout(), ctx())
    assert says(step) == ["どちらですか？"]
    step = engine.resume(definition, step.state, Timeout(), ctx())
    assert step.actions[-1] == EndAction("timeout")


def test_ask_without_targets_ends_with_no_input() -> None:
    definition = flow({"q": {"type": "ask", "prompt": "?", "retries": 0}})
    step = engine.resume(definition, engine.start(definition, ctx()).state, Timeout(), ctx())
    assert step.actions[-1] == EndAction("no_input")


def test_ask_digits_accepts_full_width_and_hyphens() -> None:
    definition = flow({"phone": {"type": "ask", "input": "digits", "prompt": "電話番号", "var": "phone",
                                 "min_digits": 10, "max_digits": 11, "next": "cb"},
                       "cb": {"type": "callback", "phone": "{phone}", "note": "n"}})
    start = engine.start(definition, ctx())
    assert start.waiting == "digits"
    bad = engine.resume(definition, start.state, TextInput("12-34"), ctx())
    assert says(bad) == ["数字で入力してください。"]
    step = engine.resume(definition, bad.state, TextInput("０３-１２３４-５６７８"), ctx())
    assert CallbackAction("0312345678", "n") in step.actions
    assert ("callback_requested", {"phone": "0312345678", "note": "n"}) in facts(step)
    assert step.actions[-1] == EndAction("callback")


def test_ask_text_stores_the_answer() -> None:
    definition = flow({"q": {"type": "ask", "prompt": "ご注文番号は？", "var": "order_no", "next": "s"},
                       "s": {"type": "say", "text": "{order_no} ですね"}})
    step = engine.resume(definition, engine.start(definition, ctx()).state, TextInput("A-123"), ctx())
    assert says(step)[0] == "A-123 ですね"


@pytest.mark.parametrize(("condition", "expected"), [
    ({"language": "ja"}, True),
    ({"language": "en"}, False),
    ({"attribute": "tier", "equals": "GOLD"}, True),
    ({"attribute": "tier", "in": ["silver"]}, False),
    ({"var": "topic", "exists": True}, False),
    ({"open": "office"}, True),
    ({"holiday": True}, False),
    ({"queue": "Support", "agents_available": {"gte": 1}}, True),
    ({"queue": "Support", "waiting": {"lt": 3}}, False),
    ({"queue": "Unknown", "waiting": {"eq": 0}}, True),
    ({"all": [{"language": "ja"}, {"not": {"holiday": True}}]}, True),
    ({"any": [{"language": "en"}, {"attribute": "tier", "matches": "^g"}]}, True),
])
def test_branch_conditions(condition: dict[str, Any], expected: bool) -> None:
    definition = flow({"b": {"type": "branch", "rules": [{"if": condition, "next": "yes"}], "else": "no"},
                       "yes": {"type": "end", "reason": "yes"}, "no": {"type": "end", "reason": "no"}},
                      hours={"office": {"weekly": {"tue": [["09:00", "18:00"]]}}})
    context = ctx(attributes={"tier": "gold"}, queues={"Support": QueueStatus(waiting=5, agents_available=2)})
    step = engine.start(definition, context)
    assert step.actions[-1] == EndAction("yes" if expected else "no")


def test_branch_on_input() -> None:
    definition = flow({"q": {"type": "ask", "prompt": "?", "next": "b"},
                       "b": {"type": "branch", "rules": [{"if": {"input": {"contains": "返品"}}, "next": "r"}]},
                       "r": {"type": "end", "reason": "return"}})
    step = engine.resume(definition, engine.start(definition, ctx()).state, TextInput("返品したい"), ctx())
    assert step.actions[-1] == EndAction("return")
    other = engine.resume(definition, engine.start(definition, ctx()).state, TextInput("こんにちは"), ctx())
    assert other.actions[-1] == EndAction("completed")  # no rule, no else: the flow ends


BOT = {
    "faq": {"type": "bot_answer", "escalate": "handoff", "resolved": "thanks", "timeout_s": 300, "on_timeout": "bye"},
    "handoff": {"type": "queue", "queue": "Support", "priority": 5, "skills": ["ja"]},
    "thanks": {"type": "end", "reason": "resolved"},
    "bye": {"type": "end", "reason": "inactive"},
}
RETURNS = Candidate(7, "返品の方法", "14日以内に返品できます。", 0.9)
POINTS = Candidate(8, "ポイントの期限", "1年間有効です。", 0.4)
FEES = Candidate(9, "送料", "550円です。", 0.35)


def test_bot_answer_takes_the_opening_message_and_answers_when_confident() -> None:
    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="返品したい")
    assert step.actions == [LookupAction("返品したい")] and step.waiting == "lookup"
    step = engine.resume(definition, step.state, LookupResult((RETURNS, POINTS)), ctx())
    assert says(step) == ["14日以内に返品できます。", "この回答で解決しましたか？"]
    assert SayAction("14日以内に返品できます。", 7) in step.actions
    assert ("bot_answered", {"article_id": 7, "confidence": 0.9, "via": "search"}) in facts(step)
    assert step.waiting == "choice" and step.timeout_s == 300
    yes = engine.resume(definition, step.state, TextInput("はい"), ctx())
    assert facts(yes)[0] == ("bot_feedback", {"article_id": 7, "helpful": True})
    assert yes.actions[-1] == EndAction("resolved")


def test_negative_feedback_escalates_to_the_queue() -> None:
    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="返品したい")
    step = engine.resume(definition, step.state, LookupResult((RETURNS,)), ctx())
    step = engine.resume(definition, step.state, TextInput("いいえ"), ctx())
    assert ("escalated", {"reason": "negative_feedback"}) in facts(step)
    assert step.actions[-1] == EnqueueAction("Support", 5, ("ja",), "negative_feedback")
    assert step.done and step.state["vars"]["escalation_reason"] == "negative_feedback"


def test_unsure_offers_choices_and_a_pick_shows_the_answer() -> None:
    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="ポイント")
    step = engine.resume(definition, step.state, LookupResult((POINTS, FEES)), ctx())
    prompt = step.actions[-1]
    assert isinstance(prompt, PromptAction)
    assert prompt.choices == (("a8", "ポイントの期限"), ("a9", "送料"), ("none", "どれでもない"))
    assert facts(step) == [("bot_suggested", {"article_ids": [8, 9], "query": "ポイント"})]
    picked = engine.resume(definition, step.state, TextInput("ポイントの期限"), ctx())
    assert SayAction("1年間有効です。", 8) in picked.actions
    assert ("bot_answered", {"article_id": 8, "confidence": 0.4, "via": "choice"}) in facts(picked)


def test_two_misses_in_a_row_escalate() -> None:
    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="宇宙旅行")
    step = engine.resume(definition, step.state, LookupResult(()), ctx())
    assert facts(step) == [("bot_unanswered", {"query": "宇宙旅行"})]
    assert says(step) == ["申し訳ありません、お答えが見つかりませんでした。別の言葉でもう一度お聞かせください。"]
    assert step.waiting == "text"
    step = engine.resume(definition, step.state, TextInput("月に行きたい"), ctx())
    assert step.actions == [LookupAction("月に行きたい")]
    step = engine.resume(definition, step.state, LookupResult((Candidate(1, "x", "y", 0.1),)), ctx())
    assert [f[0] for f in facts(step)] == ["bot_unanswered", "escalated"]
    assert facts(step)[1] == ("escalated", {"reason": "low_confidence"})
    assert isinstance(step.actions[-1], EnqueueAction)


def test_none_of_these_counts_as_a_miss() -> None:
    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="ポイント")
    step = engine.resume(definition, step.state, LookupResult((POINTS,)), ctx())
    step = engine.resume(definition, step.state, TextInput("どれでもない"), ctx())
    assert facts(step) == [("bot_unanswered", {"query": "ポイント"})]


def test_a_request_for_a_person_escalates_from_anywhere() -> None:
    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="返品")
    step = engine.resume(definition, step.state, LookupResult((RETURNS,)), ctx())
    step = engine.resume(definition, step.state, TextInput("オペレーターと話したい", human=True), ctx())
    assert facts(step)[0] == ("escalated", {"reason": "customer_request"})
    assert isinstance(step.actions[-1], EnqueueAction)
    # … and in the lookup result, for the opening message.
    first = engine.start(definition, ctx(), opening_text="talk to a person")
    step = engine.resume(definition, first.state, LookupResult((), human=True), ctx())
    assert facts(step)[0] == ("escalated", {"reason": "customer_request"})


def test_on_human_applies_outside_bot_blocks() -> None:
    definition = flow({"q": {"type": "ask", "prompt": "?"}, "h": {"type": "end", "reason": "human"}}, on_human="h")
    start = engine.start(definition, ctx())
    step = engine.resume(definition, start.state, TextInput("人と話したい", human=True), ctx())
    assert step.actions[-1] == EndAction("human")


def test_bot_answer_timeout_and_free_text_during_feedback() -> None:
    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="返品")
    step = engine.resume(definition, step.state, LookupResult((RETURNS,)), ctx())
    again = engine.resume(definition, step.state, TextInput("送料は？"), ctx())
    assert again.actions == [LookupAction("送料は？")]  # a new question, not feedback
    timed_out = engine.resume(definition, step.state, Timeout(), ctx())
    assert timed_out.actions[-1] == EndAction("inactive")
    assert ("flow_timeout", {"block": "faq"}) in facts(timed_out)


def test_queue_block_reached_by_a_rule_records_the_reason() -> None:
    step = engine.start(flow({"q": {"type": "queue"}}), ctx())
    assert facts(step) == [("escalated", {"reason": "flow_rule"})]
    assert step.actions[-1] == EnqueueAction(None, 0, (), "flow_rule")


def test_without_an_escalate_target_the_bot_queues_to_the_entry_points_queue() -> None:
    definition = flow({"faq": {"type": "bot_answer", "max_misses": 1}})
    step = engine.start(definition, ctx(), opening_text="?")
    step = engine.resume(definition, step.state, LookupResult(()), ctx())
    assert step.actions[-1] == EnqueueAction(None, 0, (), "low_confidence")


def test_inputs_after_the_end_are_ignored() -> None:
    definition = flow({"e": {"type": "end"}})
    step = engine.start(definition, ctx())
    assert engine.resume(definition, step.state, TextInput("hello"), ctx()).actions == []


def test_a_loop_without_input_is_a_flow_error() -> None:
    definition = flow({"a": {"type": "say", "text": "a", "next": "b"}, "b": {"type": "say", "text": "b", "next": "a"}})
    with pytest.raises(engine.FlowError, match="without waiting"):
        engine.start(definition, ctx())


def test_state_is_plain_json_and_not_shared() -> None:
    import json

    definition = flow(BOT)
    step = engine.start(definition, ctx(), opening_text="返品")
    before = json.dumps(step.state)
    engine.resume(definition, step.state, LookupResult((RETURNS,)), ctx())
    assert json.dumps(step.state) == before  # resume never changes the state it was given
