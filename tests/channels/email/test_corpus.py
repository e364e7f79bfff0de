"""The real-world corpus (tests/fixtures/email_corpus, from ../shared/corpora/email): every message
parses without raising and imports
into a contact through the real pipeline; where we know the answer, text, charset and attachments
decode to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from madoguchi.channels.email.inbox import Receipt
from madoguchi.channels.email.mime import parse_message
from madoguchi.channels.email.models import EmailInbound
from madoguchi.channels.email.noise import AutoKind, classify
from tests.channels.email.support import SUPPORT, eventually
from tests.support import RunningServer

# A copy of ../shared/corpora/email (its README names every source and licence) lives in the
# repository, so a clean clone anywhere has it.
CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "email_corpus"
SKIP = {"README.md", "SHA256SUMS", ".gitattributes"}


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in SKIP and "LICENSES" not in p.parts)


# path → (subject, start of text, charset used, [(attachment name, content type)] or None to skip)
KNOWN: dict[str, tuple[str, str, str | None, list[tuple[str, str]] | None]] = {
    "cpython/msg_01.txt": ("This is a test message", "Hi,\n\nDo you like this message?", "ascii", []),
    "cpython/msg_07.txt": ("Here is your dingus fish", "Hi there,", "ascii", [("dingusfish.gif", "image/gif")]),
    "cpython/msg_45.txt": ("test", "This is the signed contents.", "ascii",
                           [("signature.asc", "application/pgp-signature")]),
    "mikel-mail/multi_charset/japanese.eml": ("まみむめも", "かきくえこ", "utf-8", []),
    "mikel-mail/multi_charset/japanese_iso_2022.eml": ("まみむめも", "すみません。", "iso2022_jp", []),
    "mikel-mail/multi_charset/japanese_shift_jis.eml": ("test", "あいうえお", "cp932", []),
    "mikel-mail/multi_charset/japanese_attachment.eml": ("testing", "testing", "utf-8",
                                                         [("てすと.txt", "text/plain")]),
    "mikel-mail/multi_charset/japanese_attachment_long_name.eml": (
        "まみむめも" * 10, "", None, [("かきくけこ" * 5 + ".txt", "text/plain")]),
    "mikel-mail/multi_charset/ks_c_5601-1987.eml": ("test", "스티해", "cp949", []),
    "mikel-mail/attachment_emails/attachment_nonascii_filename.eml": (
        "testing", "This is the first part.", None, [("ciële.txt", "text/plain")]),
    "mikel-mail/rfc6532/utf8_headers.eml": ("Säying Hello", "body", "ascii", []),
    "sisimai-set-of-emails/bsd/lhost-ezweb-02.eml": ("Mail System Error - Returned Mail",
                                                     "次のあて先へのメッセージはエラーのため送信できませんでした。",
                                                     "euc_jp", None),
    "sisimai-set-of-emails/mac/lhost-kddi-01.eml": ("メールエラー通知", "送信先のメールボックスが一杯のため",
                                                    "utf-8", None),
    "sisimai-set-of-emails/not/is-not-bounce-01.eml": ("にゃんこ", "にゃーー", "utf-8", []),
    "spamscope-mail-parser/mail_test_12": ("代开各地增值税发票", "你好！我公司可代开各类增值税发票", None, []),
}

SENDERS = {
    "mikel-mail/rfc6532/utf8_headers.eml": ("Jöhn Doe", "jdöe@mächine.example"),
    "mikel-mail/multi_charset/japanese_shift_jis.eml": (None, "xxxxxxx@docomo.ne.jp"),
    "spamscope-mail-parser/mail_test_12": ("张先生", "baoguan@hotmail.com"),
}

NOISE = {
    "cpython/msg_16.txt": AutoKind.BOUNCE,
    "mailgun-flanker/bounce/office365.eml": AutoKind.BOUNCE,
    "sisimai-set-of-emails/bsd/rfc3834-06.eml": AutoKind.AUTO_REPLY,
    "sisimai-set-of-emails/bsd/lhost-postfix-09.eml": AutoKind.BOUNCE,
    "mailgun-flanker/complaints/yahoo.eml": AutoKind.REPORT,
    "cpython/msg_02.txt": AutoKind.LIST,
    "sisimai-set-of-emails/not/is-not-bounce-01.eml": None,
    "mikel-mail/multi_charset/japanese.eml": None,
}


def test_the_corpus_is_there() -> None:
    assert len(corpus_files()) >= 79, f"expected the email corpus in {CORPUS}"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_message_parses(path: Path) -> None:
    parsed = parse_message(path.read_bytes())
    name = str(path.relative_to(CORPUS))
    assert "\x00" not in parsed.text
    if name in KNOWN:
        subject, text, charset, attachments = KNOWN[name]
        assert parsed.subject == subject
        assert parsed.text.startswith(text), parsed.text[:200]
        if charset is not None:
            assert parsed.charset == charset
        if attachments is not None:
            assert [(a.filename, a.content_type) for a in parsed.attachments] == attachments
    if name in SENDERS:
        assert (parsed.from_name, parsed.from_addr) == SENDERS[name]
    if name in NOISE:
        assert classify(parsed, mail_from="someone@example.org") == NOISE[name]


async def test_the_whole_corpus_imports_into_contacts(server: RunningServer) -> None:
    files = corpus_files()
    channel = server.ctx.channels.get("email")
    inbox = channel.inbox  # type: ignore[attr-defined]
    ep_id = await channel.directory.resolve(SUPPORT)  # type: ignore[attr-defined]
    receipts = [Receipt(entry_point_id=ep_id, source="smtp", mail_from="", rcpt_to=(SUPPORT,), raw=p.read_bytes())
                for p in files]
    ids = await inbox.receive_many(receipts)
    assert all(ids)

    async def done() -> list[EmailInbound] | None:
        async with server.ctx.db.read() as session:
            rows = list((await session.scalars(select(EmailInbound).where(EmailInbound.status == "received"))).all())
            if rows:
                return None
            return list((await session.scalars(select(EmailInbound).order_by(EmailInbound.id))).all())

    rows = await eventually(done, timeout=60, what="the corpus processed")
    assert len(rows) == len(files)
    assert not [r.error for r in rows if r.status == "failed"]
    assert {r.status for r in rows} <= {"processed", "duplicate"}
    assert all(r.contact_id for r in rows)
    # The stored bytes are the bytes of the file, every one.
    assert [r.raw for r in rows] == [p.read_bytes() for p in files]
