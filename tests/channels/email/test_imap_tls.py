"""IMAP over TLS, both IMAPS and STARTTLS, against a real Dovecot with a certificate from a CA the
test makes: the poller trusts it only when told to (``SSL_CERT_FILE``); a wrong CA or host name, or a
server without STARTTLS, stops it before the login, and the mailbox's ``last_error`` says why."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from madoguchi.channels.email.imap import ImapError, ImapSession, MailboxConfig
from madoguchi.channels.email.models import EmailInbound, EmailMailbox, EmailMessage
from tests.channels.email import dovecot
from tests.channels.email.support import SUPPORT, compose, eventually
from tests.conftest import ServerFactory
from tests.support import Browserish, RunningServer, require_service


@pytest.fixture
def certificates(tmp_path: Path) -> dovecot.Certificates:
    return dovecot.make_certificates(tmp_path)


@pytest.fixture
def tls_imap_server(certificates: dovecot.Certificates) -> Iterator[dovecot.Dovecot]:
    require_service("Dovecot (dovecot-imapd)", dovecot.available(), dovecot.DOVECOT)
    server = dovecot.start(certificates)
    yield server
    server.stop()


@pytest.fixture
def trust_test_ca(monkeypatch: pytest.MonkeyPatch, certificates: dovecot.Certificates) -> Path:
    """Point OpenSSL's default trust at the test's CA alone, as an operator with a private CA would."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    monkeypatch.setenv("SSL_CERT_DIR", str(certificates.ca.parent / "no-such-dir"))
    return certificates.ca


def _port(server: dovecot.Dovecot, security: str) -> int:
    """IMAPS has its own port; STARTTLS upgrades a connection to the plain one."""
    if security != "ssl":
        return server.port
    assert server.tls_port is not None
    return server.tls_port


def _config(server: dovecot.Dovecot, security: str, host: str = "127.0.0.1") -> MailboxConfig:
    return MailboxConfig(host=host, port=_port(server, security), security=security, username=dovecot.USER,
                         password=dovecot.PASSWORD, timeout_s=10)


async def _configure(server: RunningServer, admin: Browserish, imap: dovecot.Dovecot, security: str) -> int:
    await admin.login("admin@demo.madoguchi.test")
    channel = server.ctx.channels.get("email")
    ep_id: int = await channel.directory.resolve(SUPPORT)  # type: ignore[attr-defined]
    await admin.call("PUT", f"/api/v1/entry-points/{ep_id}/imap", expect=200, json={
        "host": "127.0.0.1", "port": _port(imap, security), "security": security, "username": dovecot.USER,
        "password": dovecot.PASSWORD, "processed_folder": None})
    return ep_id


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_server_polls_a_tls_mailbox_it_trusts(make_server: ServerFactory, tls_imap_server: dovecot.Dovecot,
                                                    trust_test_ca: Path, security: str) -> None:
    tls_imap_server.append(*(compose(subject=f"over TLS {n}", body=f"TLS message {n}").as_bytes() for n in range(2)))
    server = await make_server(imap_poll_s=0.5)
    admin = Browserish(server.base_url)
    try:
        ep_id = await _configure(server, admin, tls_imap_server, security)

        async def imported() -> int | None:
            async with server.ctx.db.read() as session:
                n = await session.scalar(select(func.count(EmailMessage.id)).where(
                    EmailMessage.inbound_id.is_not(None)))
            return n if n == 2 else None

        await eventually(imported, timeout=15, what="the messages fetched over IMAPS")
        assert tls_imap_server.unseen() == []
        async with server.ctx.db.read() as session:
            sources = set((await session.scalars(select(EmailInbound.source))).all())
            mailbox = await session.get(EmailMailbox, ep_id)
        assert sources == {"imap"}
        assert mailbox is not None and mailbox.last_error is None
    finally:
        await admin.close()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_a_certificate_from_an_unknown_ca_stops_the_poller_and_says_why(
        make_server: ServerFactory, tls_imap_server: dovecot.Dovecot, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, security: str) -> None:
    # Trust another CA, one that did not sign the server's certificate.
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.make_certificates(other).ca))
    monkeypatch.setenv("SSL_CERT_DIR", str(other / "no-such-dir"))
    tls_imap_server.append(compose(subject="not to be read", body="secret").as_bytes())
    server = await make_server(imap_poll_s=0.5)
    admin = Browserish(server.base_url)
    try:
        ep_id = await _configure(server, admin, tls_imap_server, security)

        async def refused() -> str | None:
            async with server.ctx.db.read() as session:
                mailbox = await session.get(EmailMailbox, ep_id)
            return mailbox.last_error if mailbox is not None else None

        error = await eventually(refused, timeout=15, what="the poller's error")
        assert error.startswith("SSLCertVerificationError") and "unable to get local issuer certificate" in error
        assert len(tls_imap_server.unseen()) == 1           # never logged in, so never fetched or flagged
        async with server.ctx.db.read() as session:
            assert await session.scalar(select(func.count(EmailInbound.id))) == 0
    finally:
        await admin.close()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_a_certificate_for_another_host_name_is_refused(tls_imap_server: dovecot.Dovecot,
                                                              trust_test_ca: Path, security: str) -> None:
    # The certificate names 127.0.0.1 only; "localhost" reaches the same server but is not that name.
    session = ImapSession(_config(tls_imap_server, security, host="localhost"))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        await session.open()
    await session.close()

    trusted = ImapSession(_config(tls_imap_server, security))
    await trusted.open()                     # the same CA and the right name: in, and over TLS
    try:
        assert trusted.uidvalidity is not None
        tls = trusted.client.protocol.transport.get_extra_info("ssl_object")
        assert isinstance(tls, ssl.SSLObject) and tls.version() in {"TLSv1.2", "TLSv1.3"}
    finally:
        await trusted.close()


async def test_starttls_is_required_when_asked_for(trust_test_ca: Path) -> None:
    """A server that does not offer STARTTLS (as when someone strips it from the greeting) gets no
    password in plain text: the poller stops and says so."""
    require_service("Dovecot (dovecot-imapd)", dovecot.available(), dovecot.DOVECOT)
    plain = dovecot.start()
    try:
        plain.append(compose(subject="not to be read", body="secret").as_bytes())
        session = ImapSession(_config(plain, "starttls"))
        with pytest.raises(ImapError, match="does not offer STARTTLS"):
            await session.open()
        await session.close()
        assert len(plain.unseen()) == 1
    finally:
        plain.stop()
