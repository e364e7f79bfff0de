"""Demo data: FAQ articles for the demo shop (ja/en), the default bot flow, and a second web-chat
entry point (``pk_demo_bot``) that the bot answers first. ``pk_demo_shop`` stays direct to agents."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.db.uow import UnitOfWork
from madoguchi.flows.actions import do_assign, do_create_flow
from madoguchi.identity.models import User
from madoguchi.kb.actions import do_import
from madoguchi.kb.models import Article
from madoguchi.kb.schemas import ArticleIn
from madoguchi.kb.semantic import load_embedder
from madoguchi.kb.service import do_store_vectors
from madoguchi.routing.models import Queue

DEMO_BOT_PUBLIC_KEY = "pk_demo_bot"
DEMO_BOT_SECRET = "demo-bot-secret-change-me"
DEMO_FLOW_NAME = "Demo shop assistant"

_ARTICLES: list[tuple[str, str, str, list[str], str]] = [
    # (id, language, category, questions, answer)
    ("demo-ja-delivery", "ja", "配送",
     ["注文した商品はいつ届きますか？", "配送にかかる日数を知りたい", "到着予定日は？"],
     "ご注文から通常2〜3営業日でお届けします。北海道・沖縄・離島は4〜6営業日かかります。"
     "発送時にお送りするメールの追跡番号で配送状況をご確認いただけます。"),
    ("demo-ja-shipping-fee", "ja", "配送", ["送料はいくらですか？", "送料無料になる条件は？"],
     "送料は全国一律550円です。税込5,000円以上のご注文で送料無料になります。"),
    ("demo-ja-address", "ja", "注文", ["お届け先の住所を変更したい", "配送先を変えられますか？"],
     "発送前であれば「マイアカウント＞ご注文履歴」からお届け先を変更できます。発送後の変更は配送業者へ直接ご連絡ください。"),
    ("demo-ja-return", "ja", "返品", ["返品の方法を教えてください", "商品を返品したい", "返金はいつになりますか？"],
     "商品到着後14日以内であれば、未開封の商品を返品いただけます。「マイアカウント＞ご注文履歴」から返品フォームを"
     "送信してください。返金は商品到着の確認後、5営業日以内に行います。"),
    ("demo-ja-payment", "ja", "支払い",
     ["支払い方法は何がありますか？", "クレジットカードは使えますか？", "コンビニ払いはできますか？"],
     "クレジットカード（Visa、Mastercard、JCB、American Express）、コンビニ払い、銀行振込、"
     "Amazon Payをご利用いただけます。"),
    ("demo-ja-points", "ja", "ポイント", ["ポイントの有効期限は？", "ポイントはいつ失効しますか？"],
     "ポイントは最後にご購入いただいた日から1年間有効です。1ポイント＝1円としてお使いいただけます。"),
    ("demo-ja-coupon", "ja", "クーポン", ["クーポンコードが使えません", "クーポンの使い方を教えて"],
     "クーポンコードはご注文手続きの「お支払い」画面で入力してください。有効期限と最低購入金額をご確認ください。それでも使えない場合はオペレーターにおつなぎします。"),
    ("demo-ja-cancel", "ja", "注文", ["注文をキャンセルしたい", "注文の取り消し方法は？"],
     "発送準備前のご注文は「マイアカウント＞ご注文履歴」からキャンセルできます。発送準備に入ったご注文はキャンセルできませんので、到着後に返品手続きをお願いします。"),
    ("demo-en-delivery", "en", "delivery", ["When will my order arrive?", "How long does delivery take?",
                                            "Where is my parcel?"],
     "Orders usually arrive within 2–3 business days (4–6 for Hokkaido, Okinawa and remote islands). The "
     "shipping email has a tracking number to follow your parcel."),
    ("demo-en-shipping-fee", "en", "delivery", ["How much is shipping?", "Is there free shipping?"],
     "Shipping is a flat ¥550 anywhere in Japan, and free for orders of ¥5,000 or more (tax included)."),
    ("demo-en-address", "en", "orders", ["How do I change my delivery address?", "Can I change the shipping address?"],
     "Before your order ships, change the address under My Account > Order history. After it ships, please "
     "contact the carrier directly."),
    ("demo-en-return", "en", "returns", ["How do I return an item?", "What is your return policy?",
                                         "When will I get my refund?"],
     "You can return unopened items within 14 days of delivery: send the return form under My Account > Order "
     "history. We refund within 5 business days after the item reaches us."),
    ("demo-en-payment", "en", "payment", ["Which payment methods do you accept?", "Can I pay by credit card?"],
     "We accept credit cards (Visa, Mastercard, JCB, American Express), convenience-store payment, bank transfer "
     "and Amazon Pay."),
    ("demo-en-points", "en", "points", ["When do my points expire?", "How long are points valid?"],
     "Points are valid for one year from your last purchase. One point is worth ¥1."),
    ("demo-en-coupon", "en", "coupons", ["My coupon code does not work", "How do I use a coupon?"],
     "Enter the coupon code on the Payment step of checkout, and check its expiry date and minimum order. If it "
     "still fails, I can connect you to an agent."),
    ("demo-en-cancel", "en", "orders", ["How do I cancel my order?", "Can I cancel an order?"],
     "Orders not yet being prepared can be cancelled under My Account > Order history. Once an order is being "
     "prepared it cannot be cancelled; please return it after delivery instead."),
]

_WEEKDAYS = [["09:00", "20:00"]]
DEMO_FLOW: dict[str, Any] = {
    "start": "faq",
    "on_human": "human",
    "hours": {"support": {"timezone": "Asia/Tokyo", "holidays": "JP",
                          "closed": ["12-30", "12-31", "01-01", "01-02", "01-03"],
                          "weekly": {"mon": _WEEKDAYS, "tue": _WEEKDAYS, "wed": _WEEKDAYS, "thu": _WEEKDAYS,
                                     "fri": _WEEKDAYS, "sat": [["10:00", "18:00"]]}}},
    "blocks": {
        "faq": {"type": "bot_answer", "escalate": "human", "timeout_s": 900, "on_timeout": "bye"},
        "human": {"type": "branch", "rules": [{"if": {"open": "support"}, "next": "connecting"}],
                  "else": "after_hours"},
        "connecting": {"type": "say", "next": "handoff",
                       "text": {"ja": "担当者におつなぎします。順番にご案内しますので、少々お待ちください。",
                                "en": "I'll connect you to an agent. Please wait a moment."}},
        "handoff": {"type": "queue", "queue": "Support"},
        "after_hours": {
            "type": "ask", "input": "choices", "timeout_s": 600, "on_timeout": "bye", "on_failure": "faq",
            "prompt": {"ja": "ただいま営業時間外です（平日9〜20時、土曜10〜18時、日祝・年末年始休み）。"
                             "ご希望をお選びください。",
                       "en": "We are closed now (weekdays 9:00–20:00, Saturdays 10:00–18:00, closed on Sundays, "
                             "holidays and over New Year). What would you like to do?"},
            "choices": [
                {"value": "callback", "label": {"ja": "電話で折り返してほしい", "en": "Call me back"}, "next": "phone"},
                {"value": "email", "label": {"ja": "メールで問い合わせる", "en": "Write an email"}, "next": "email"},
                {"value": "bot", "label": {"ja": "チャットボットに戻る", "en": "Back to the assistant"},
                 "next": "faq"}]},
        "phone": {"type": "ask", "input": "digits", "min_digits": 10, "max_digits": 11, "var": "phone",
                  "next": "callback", "timeout_s": 600, "on_timeout": "bye", "on_failure": "email",
                  "prompt": {"ja": "お電話番号を入力してください（例: 0312345678）。",
                             "en": "Please enter your phone number (digits only, e.g. 0312345678)."}},
        "callback": {"type": "callback", "phone": "{phone}", "note": "after hours: {escalation_reason}",
                     "next": "callback_done"},
        "callback_done": {"type": "say", "next": "end_callback",
                          "text": {"ja": "承りました。翌営業日に {phone} へお電話します。",
                                   "en": "Thank you. We will call {phone} on the next business day."}},
        "end_callback": {"type": "end", "reason": "callback"},
        "email": {"type": "say", "next": "end_email",
                  "text": {"ja": "support@demo-shop.example までメールでお問い合わせください。"
                                 "翌営業日までにご返信します。",
                           "en": "Please write to support@demo-shop.example; we reply by the next business day."}},
        "end_email": {"type": "end", "reason": "email_offered"},
        "bye": {"type": "end", "reason": "inactive"},
    },
}


def demo_articles() -> list[ArticleIn]:
    return [ArticleIn(external_id=ext, language=lang, category=category, questions=questions, answer=answer,
                      status="published") for ext, lang, category, questions, answer in _ARTICLES]


async def seed_demo(uow: UnitOfWork, *, queues: dict[str, Queue], users: dict[str, User]) -> None:
    imported = await do_import(uow, actor=None, articles=demo_articles())
    embedder = await asyncio.to_thread(load_embedder, "auto")
    if embedder is not None:
        articles = list((await uow.session.scalars(select(Article).where(Article.id.in_(imported.article_ids)))).all())
        await do_store_vectors(uow, embedder=embedder, articles=articles)
    flow, _ = await do_create_flow(uow, actor=None, name=DEMO_FLOW_NAME, raw=DEMO_FLOW, publish=True,
                                   description="Answers FAQs day and night; hands off in business hours, "
                                               "offers a callback or email after hours.")
    entry_point = await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
        name="Demo shop assistant", channel_kind="webchat", queue_id=queues["Support"].id),
        public_key=DEMO_BOT_PUBLIC_KEY, secret=DEMO_BOT_SECRET)
    await do_assign(uow, actor=None, entry_point_id=entry_point.id, flow_id=flow.id)
